"""ragft.retrieval.embedder_comparison: two embedders as the dense side of the default methods."""

import numpy as np
import pytest
from fake_embedder import FakeEmbedder
from test_defaults_study import _beir

from ragft.retrieval import defaults_study as st
from ragft.retrieval import embedder_comparison as ec
from ragft.retrieval.retrieval_bench import default_configs


class BlindEmbedder(FakeEmbedder):
    """Every text gets the same vector: dense search can tell nothing apart."""

    def encode(self, texts, **kwargs):
        vectors = super().encode(texts, **kwargs)
        vectors[:] = 1 / np.sqrt(self.dimension)
        return vectors


def test_compare_sets_scores_each_model_with_the_default_methods(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAGFT_DATA_DIR", str(tmp_path / "data"))
    _beir(tmp_path / "data" / "eval" / "tiny")
    sighted, blind = FakeEmbedder(tmp_path / "a"), BlindEmbedder(tmp_path / "b")
    out = ec.compare_sets({"sighted": sighted, "blind": blind}, [("tiny", "test")], show_progress=False)
    row, other = out["sighted"]["tiny/test"], out["blind"]["tiny/test"]
    assert row["queries"] == 10 and row["query_ids"] == sorted(row["query_ids"])
    assert row["ndcg@10"].keys() == set(ec.METHODS)
    for method, scores in row["per_query"].items():
        assert len(scores) == 10 and np.mean(scores) == pytest.approx(row["ndcg@10"][method], abs=1e-4)
    # BM25 does not depend on the embedder; dense does, and the blind one is worse
    assert row["ndcg@10"]["bm25"] == other["ndcg@10"]["bm25"]
    assert row["ndcg@10"]["dense"] > other["ndcg@10"]["dense"]
    runs = st.collect(tmp_path / "data" / "eval" / "tiny", "test", sighted, scorings=("firstp",))
    assert row["ndcg@10"]["hybrid"] == pytest.approx(st.ndcg(runs, default_configs()["hybrid"]), abs=1e-4)


def test_speed_projects_the_cold_start_and_compares_with_each_models_float32(tmp_path):
    fp32 = FakeEmbedder(tmp_path)
    noisy = FakeEmbedder(tmp_path)
    noisy.encode = lambda texts, **kw: (lambda v: v / np.linalg.norm(v, axis=1, keepdims=True))(
        FakeEmbedder.encode(fp32, texts) + 0.1
    )
    rows = ec.speed({"m": {"fp32": fp32, "bf16": noisy}}, ["alpha beta", "gamma delta", "alpha gamma"])
    assert set(rows) == {"m fp32", "m bf16"}
    assert rows["m fp32"]["cosine_to_fp32_mean"] == pytest.approx(1.0)
    assert rows["m bf16"]["cosine_to_fp32_mean"] < 1.0
    for row in rows.values():
        expected = ec.PROJECTED_DOCUMENTS / row["chunks_per_cpu_s"]
        assert row["projected_cpu_s"] == pytest.approx(expected, rel=0.01, abs=0.05)


def test_load_models_rejects_an_unknown_variant(monkeypatch):
    import ragft.runtime.models
    import ragft.runtime.mpnet

    monkeypatch.setattr(ragft.runtime.models, "load_embedder", lambda: FakeEmbedder("a"))
    monkeypatch.setattr(ragft.runtime.mpnet, "load_mpnet", lambda: FakeEmbedder("b"))
    assert set(ec.load_models("fp32")) == set(ec.MODELS)
    with pytest.raises(ValueError, match="variant must be fp32, bf16 or int8, got 'fp16'"):
        ec.load_models("fp16")
