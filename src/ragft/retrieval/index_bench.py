"""Choosing a faiss index: exact (flat) against approximate (HNSW graph, IVF clusters).

For each index: build time, bytes held, search latency per query (one query at a time, as a
service would see them) and recall@k against the exact flat search, on the same vectors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ragft.retrieval.retrieve import INDEXES, build_faiss_index


def index_bytes(index) -> int:
    """Size of the index when serialized: the vectors plus the graph or cluster lists."""
    import faiss

    return int(faiss.serialize_index(index).size)


def overlap_at_k(exact: np.ndarray, approximate: np.ndarray, k: int) -> float:
    """Mean share of the exact top k that the approximate search also returns (recall against flat)."""
    if exact.shape[0] != approximate.shape[0]:
        raise ValueError(
            f"exact and approximate must have the same number of queries, got "
            f"{exact.shape[0]} and {approximate.shape[0]}"
        )
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    hits = [len(set(e[:k]) & set(a[:k])) / min(k, len(e)) for e, a in zip(exact, approximate, strict=True)]
    return float(np.mean(hits)) if hits else 0.0


def _timed_search(index, queries: np.ndarray, k: int, repeats: int) -> tuple[np.ndarray, float]:
    """Rows found for each query, and the median over repeats of the mean seconds per single query."""
    rows = np.zeros((len(queries), k), dtype=np.int64)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(len(queries)):
            _, found = index.search(queries[i : i + 1], k)
            rows[i] = found[0]
        runs.append((time.perf_counter() - start) / max(1, len(queries)))
    return rows, float(np.median(runs))


def bench_indexes(
    vectors: np.ndarray,
    queries: np.ndarray,
    k: int = 10,
    kinds: Sequence[str] = INDEXES,
    repeats: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per index kind: build seconds, bytes, ms per query, recall@k against flat."""
    import faiss

    unknown = [kind for kind in kinds if kind not in INDEXES]
    if unknown:
        raise ValueError(f"kinds must be among {list(INDEXES)}, got {unknown}")
    if vectors.ndim != 2 or queries.ndim != 2 or vectors.shape[1] != queries.shape[1]:
        raise ValueError(
            f"vectors and queries must be 2-D with the same width, got {vectors.shape} and {queries.shape}"
        )
    if not 1 <= k <= len(vectors):
        raise ValueError(f"k must be between 1 and the number of vectors ({len(vectors)}), got {k}")
    faiss.omp_set_num_threads(1)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    flat = build_faiss_index(vectors, "flat")
    exact, _ = _timed_search(flat, queries, k, 1)
    rows = []
    for kind in kinds:
        start = time.perf_counter()
        index = build_faiss_index(vectors, kind, seed=seed)
        build_s = time.perf_counter() - start
        found, per_query = _timed_search(index, queries, k, repeats)
        rows.append(
            {
                "index": kind,
                "build_s": build_s,
                "megabytes": index_bytes(index) / 1e6,
                "ms_per_query": 1000 * per_query,
                f"recall@{k}_vs_flat": overlap_at_k(exact, found, k),
            }
        )
    return pd.DataFrame(rows).set_index("index")


def probe_sweep(
    vectors: np.ndarray, queries: np.ndarray, k: int = 10, probes: Sequence[int] = (1, 2, 4, 8), seed: int = 0
) -> pd.DataFrame:
    """IVF's speed/recall knob: how many of its clusters a query visits (nprobe)."""
    if not probes or min(probes) < 1:
        raise ValueError(f"probes must be positive integers, got {list(probes)}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    exact, _ = _timed_search(build_faiss_index(vectors, "flat"), queries, k, 1)
    index = build_faiss_index(vectors, "ivf", seed=seed)
    rows = []
    for nprobe in probes:
        index.nprobe = min(nprobe, index.nlist)
        found, per_query = _timed_search(index, queries, k, 1)
        rows.append(
            {
                "nprobe": index.nprobe,
                "clusters": index.nlist,
                "ms_per_query": 1000 * per_query,
                f"recall@{k}_vs_flat": overlap_at_k(exact, found, k),
            }
        )
    return pd.DataFrame(rows).set_index("nprobe")
