"""ragft.retrieval.retrieval_bench: what `python -m ragft bench retrieval` measures (nothing timed here)."""

import os

import numpy as np
import pytest
from fake_embedder import FakeEmbedder

from ragft.retrieval import retrieval_bench as rb

CORPUS = {f"d{i}": {"title": f"T{i}", "text": f"word{i} shared text " * (i + 1)} for i in range(12)}


def test_fresh_cache_is_empty_and_restores_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "mine"))
    with rb.fresh_cache() as folder:
        assert os.environ["RAGFT_CACHE_DIR"] == str(folder) and not any(folder.iterdir())
    assert os.environ["RAGFT_CACHE_DIR"] == str(tmp_path / "mine") and not folder.exists()


def test_sample_corpus_is_seeded_and_keeps_order():
    sample = rb.sample_corpus(CORPUS, 5)
    assert len(sample) == 5 and sample == rb.sample_corpus(CORPUS, 5)
    assert list(sample) == [d for d in CORPUS if d in sample]
    assert rb.sample_corpus(CORPUS, 100) == CORPUS


def test_embedding_speed_compares_each_variant_with_the_first(tmp_path):
    fake = FakeEmbedder(tmp_path)
    encoders = {"fp32": fake.encode, "noisy": lambda texts: -fake.encode(texts)}
    out = rb.embedding_speed(["a b", "c d e", "f"], encoders)
    assert out["fp32"]["cosine_to_fp32_mean"] == pytest.approx(1.0)
    assert out["noisy"]["cosine_to_fp32_min"] == pytest.approx(-1.0)
    assert out["fp32"]["chunks"] == 3 and out["fp32"]["chunks_per_cpu_s"] > 0


def test_cold_run_embeds_and_the_warm_run_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeEmbedder(tmp_path)
    result = rb.cold_and_warm(CORPUS, ["word3 text", "shared"], fake)
    assert result["documents"] == 12 and result["queries"] == 2
    assert result["cold"]["chunks"] == result["warm"]["chunks"] >= 12
    # cold: one encode for the chunks, one per search; warm: the chunks come from the cache
    assert fake.calls == 3
    assert not any((tmp_path / "cache").rglob("*.npy"))  # the cold run's cache was temporary


def test_summary_and_unknown_command():
    report = {
        "speed": {"fp32": {"chunks_per_cpu_s": 16.0, "cosine_to_fp32_mean": 1.0}},
        "cold_warm": {"bf16": {"documents": 5000, "cold": {"cpu_s": 250.0}, "warm": {"cpu_s": 9.0}}},
        "ndcg@10": {"int8": {"faq/test": {"bm25": 0.3, "hybrid": np.float64(0.65)}}},
    }
    text = rb.summary(report)
    assert (
        "fp32: 16.0 chunks per CPU-second" in text
        and "bf16, 5000 documents: cold 250.0 CPU-s, warm 9.0 CPU-s" in text
    )
    assert "int8 faq/test: bm25 0.300, hybrid 0.650" in text
    models = {"sets": {"mpnet": {"faq/test": {"ndcg@10": {"bm25": 0.3, "dense": 0.61}}}}}
    assert rb.summary(models) == "mpnet faq/test: bm25 0.300, dense 0.610"
    row = {"pairs": 800, "training": {"cpu_s": 190.5}}
    row |= {side: {"ndcg@10": {"bm25": 0.3, "dense": d}} for side, d in (("base", 0.5), ("tuned", 0.6))}
    domain = {
        "sets": {"faq/test": row},
        "cold_start": {"documents": 5000, "pairs": 1000, "tune_cpu_s": 270.9},
        "max_pairs_on_dev": {
            "chosen": 500,
            "caps": {"500": {"dense": {"a": 0.6}}, "all": {"dense": {"a": 0.7}}},
        },
    }
    assert rb.summary(domain).splitlines() == [
        "faq/test, untuned: bm25 0.300, dense 0.500",
        "faq/test, tuned: bm25 0.300, dense 0.600",
        "faq/test: 800 pairs, 190.5 CPU-s of tuning",
        "headings per collection, chosen on the dev FAQs: 500 (mean dense: 500 0.600, all 0.700)",
        "5000 documents: tuning on 1000 pairs, 270.9 CPU-s",
    ]
    labels = ("firstp | dense", "maxp | bm25", "firstp | convex w=0.90", "firstp | rrf")
    table = {
        "faq/dev": dict(zip(labels, (0.6, 0.2, 0.65, 0.5), strict=True)),
        "faq/test": dict(zip(labels, (0.7, 0.3, 0.72, 0.6), strict=True)),
    }
    tuned = {
        "choice": "firstp | convex w=0.90",
        "choice_config": {},
        "dev_sets": ["faq/dev"],
        "first study": {"choice": "firstp | rrf", "dev_sets": ["faq/dev", "faq/test"]},
        "singles": ["firstp | dense", "maxp | bm25"],
    }
    assert rb.summary({**tuned, "ndcg@10": table}).splitlines() == [
        "chosen on dev, tuned MiniLM: firstp | convex w=0.90 (on faq/dev)",
        "first chosen: firstp | rrf (on faq/dev, faq/test)",
        "faq/dev (dev): 0.650, first choice 0.500, better single method 0.600",
        "faq/test (reported): 0.720, first choice 0.600, better single method 0.700",
    ]
    with pytest.raises(ValueError, match="command must be"):
        rb.run("everything")
