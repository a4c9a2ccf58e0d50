"""ragft.retrieval.index_bench: recall against exact search, sizes, IVF's nprobe knob, on random vectors."""

import numpy as np
import pytest

from ragft.retrieval import index_bench
from ragft.retrieval.retrieve import ivf_lists


def unit_vectors(n, dim=16, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_overlap_at_k():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approximate = np.array([[3, 2, 9], [4, 5, 6]])
    assert index_bench.overlap_at_k(exact, approximate, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert index_bench.overlap_at_k(exact, approximate, 1) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same number of queries"):
        index_bench.overlap_at_k(exact, approximate[:1], 3)


def test_bench_indexes_reports_every_kind_and_flat_is_exact():
    vectors, queries = unit_vectors(400), unit_vectors(20, seed=1)
    table = index_bench.bench_indexes(vectors, queries, k=5, repeats=1)
    assert list(table.index) == ["flat", "hnsw", "ivf"]
    assert table.loc["flat", "recall@5_vs_flat"] == 1.0
    assert (table["recall@5_vs_flat"].between(0, 1)).all()
    assert table.loc["flat", "megabytes"] >= 400 * 16 * 4 / 1e6  # at least the raw vectors
    assert table.loc["hnsw", "megabytes"] > table.loc["flat", "megabytes"]  # the graph costs memory
    assert (table[["build_s", "ms_per_query"]] >= 0).all().all()


def test_bench_indexes_rejects_bad_input():
    vectors = unit_vectors(10)
    with pytest.raises(ValueError, match="kinds must be among"):
        index_bench.bench_indexes(vectors, vectors, kinds=["lsh"])
    with pytest.raises(ValueError, match="same width"):
        index_bench.bench_indexes(vectors, unit_vectors(3, dim=8))
    with pytest.raises(ValueError, match="k must be between 1 and the number of vectors"):
        index_bench.bench_indexes(vectors, vectors, k=11)


def test_probe_sweep_reaches_exact_search_when_every_cluster_is_visited():
    vectors, queries = unit_vectors(400), unit_vectors(20, seed=1)
    table = index_bench.probe_sweep(vectors, queries, k=5, probes=(1, 100))
    clusters = ivf_lists(400)  # 10: as many as k-means can train with enough points each
    assert table.loc[clusters, "recall@5_vs_flat"] == 1.0  # nprobe capped at the number of clusters
    assert table["recall@5_vs_flat"].is_monotonic_increasing
    with pytest.raises(ValueError, match="probes must be positive"):
        index_bench.probe_sweep(vectors, queries, probes=(0,))
