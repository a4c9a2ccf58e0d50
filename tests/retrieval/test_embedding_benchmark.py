"""ragft.retrieval.embedding_benchmark: pairs, neighbour pool, ranks, summaries, speed, dot vs cosine."""

import numpy as np
import pytest

from ragft.corpus.data import EvalSet
from ragft.retrieval import embedding_benchmark as eb
from ragft.runtime.stats import bootstrap_mean_interval, wilson_interval


def evalset(queries):
    """queries: {qid: (text, kind, gold, paraphrases)} -> an EvalSet with one gold document each."""
    return EvalSet(
        "tiny",
        "test",
        {},
        {
            qid: {"text": text, "metadata": {"kind": kind, "paraphrases": para}}
            for qid, (text, kind, _, para) in queries.items()
        },
        {qid: {gold: 1} for qid, (_, _, gold, _) in queries.items()},
    )


IDENTIFIERS = evalset(
    {
        f"id/{kind}/{i}": (f"{kind.upper()}_{i}", kind, f"doc/{kind}#{i}", None)
        for kind in ("setting", "check", "option")
        for i in range(6)
    }
)
FACTS = evalset(
    {
        f"facts/{kind}/{i}": (f"What about {kind} {i}?", kind, f"doc/{kind}#{i}", [f"A {i}?", f"B {i}?"])
        for kind in ("setting_default", "version_added", "python_support")
        for i in range(5)
    }
)


def test_benchmark_has_the_quota_and_is_deterministic():
    pairs = eb.build_benchmark(IDENTIFIERS, FACTS)
    assert len(pairs) == 20
    assert [p.group for p in pairs].count("identifier") == 10
    assert {p.kind for p in pairs if p.group == "paraphrase"} == set(eb.PARAPHRASE_QUOTA)
    assert pairs == eb.build_benchmark(IDENTIFIERS, FACTS)
    for pair in pairs:
        source = IDENTIFIERS if pair.group == "identifier" else FACTS
        assert source.qrels[pair.qid] == {pair.doc_id: 1}
    paraphrased = [p for p in pairs if p.group == "paraphrase"]
    assert all(p.query != p.original and p.original.startswith("What about") for p in paraphrased)
    assert {p.query[0] for p in paraphrased} == {"A", "B"}  # both wordings are used


def test_quota_larger_than_available_is_refused():
    with pytest.raises(ValueError, match="quota for 'check'"):
        eb.build_benchmark(IDENTIFIERS, FACTS, identifier_quota={"check": 7})


def section(path, order):
    return {"id": f"{path}#{order}", "path": path, "order": order}


def test_pool_adds_neighbours_on_the_same_page_only():
    sections = [section("a.txt", i) for i in (2, 0, 1, 3)] + [section("b.txt", i) for i in range(3)]
    pairs = [eb.BenchmarkPair("q1", "x", "a.txt#0", "identifier", "setting")]
    pairs.append(eb.BenchmarkPair("q2", "y", "b.txt#1", "paraphrase", "setting_default", "z"))
    assert eb.benchmark_pool(pairs, sections) == ["a.txt#0", "a.txt#1", "b.txt#0", "b.txt#1", "b.txt#2"]
    assert eb.benchmark_pool(pairs, sections, neighbors=0) == ["a.txt#0", "b.txt#1"]
    with pytest.raises(ValueError, match="neighbors"):
        eb.benchmark_pool(pairs, sections, neighbors=-1)
    with pytest.raises(ValueError, match="not in the sections"):
        eb.benchmark_pool([eb.BenchmarkPair("q", "x", "c.txt#0", "identifier", "check")], sections)


def test_pool_chunks_keep_the_document_id():
    corpus = {"d1": {"title": "Title", "text": "Some text."}, "d2": {"title": "Only a title", "text": ""}}
    chunks = eb.pool_chunks(["d1", "d2"], corpus)
    assert {c.doc_id for c in chunks} == {"d1", "d2"}
    assert all("Title" in c.indexed_text or "title" in c.indexed_text for c in chunks)


def test_gold_ranks_and_summary():
    pairs = [
        eb.BenchmarkPair("q1", "x", "d1", "identifier", "setting"),
        eb.BenchmarkPair("q2", "y", "d2", "paraphrase", "setting_default", "z"),
    ]
    rankings = [[("d1", 3.0), ("d2", 1.0)], [("d1", 2.0), ("d3", 1.0)]]
    ranks = eb.gold_ranks(rankings, pairs)
    assert ranks == [1, None]
    rows = eb.summarize(pairs, {"bm25": ranks, "dense": [2, 1]})
    by = {(r["retriever"], r["queries"]): r for r in rows}
    assert by["bm25", "identifier"] == {
        "retriever": "bm25",
        "queries": "identifier",
        "n": 1,
        "first": 1,
        "mrr": 1.0,
    }
    assert by["bm25", "paraphrase"]["mrr"] == 0.0
    assert by["dense", "all"]["first"] == 1 and by["dense", "all"]["mrr"] == pytest.approx(0.75)
    with_ci = {
        (r["retriever"], r["queries"]): r for r in eb.summarize(pairs, {"dense": [2, 1]}, intervals=True)
    }
    assert with_ci["dense", "all"]["first (95% CI)"] == "1/2 = 50% (95% CI 9-91%)"
    mean, low, high = bootstrap_mean_interval([0.5, 1.0])
    assert with_ci["dense", "all"]["mrr (95% CI)"] == f"0.750 ({low:.3f}-{high:.3f})" and low < 0.75 < high
    assert (
        with_ci["dense", "identifier"]["mrr"] == by["dense", "identifier"]["mrr"]
    )  # the means are unchanged
    # every gold document first: not a point interval, the Wilson interval of 2/2
    perfect = eb.summarize(pairs, {"bm25": [1, 1]}, intervals=True)[-1]
    assert perfect["mrr (95% CI)"] == f"1.000 ({wilson_interval(2, 2)[0]:.3f}-1.000)"


class CountingEmbedder:
    max_seq_length = 4

    def tokenizer(self, texts, truncation=False, max_length=None):
        return {"input_ids": [t.split()[:max_length] if truncation else t.split() for t in texts]}

    def encode(self, texts, batch_size=16):
        return np.ones((len(texts), 2), dtype=np.float32)


def test_measure_encoding_counts_truncated_tokens():
    result = eb.measure_encoding(CountingEmbedder(), ["a b", "a b c d e f"], repeats=2)
    assert result["texts"] == 2 and result["tokens"] == 2 + 4
    assert result["texts_per_s"] == pytest.approx(2 / max(result["cpu_seconds"], 1e-9))
    assert result["tokens_per_s"] == pytest.approx(6 / max(result["cpu_seconds"], 1e-9))
    assert result["wall_seconds"] >= 0
    with pytest.raises(ValueError, match="repeats"):
        eb.measure_encoding(CountingEmbedder(), ["a"], repeats=0)
    with pytest.raises(ValueError, match="texts"):
        eb.measure_encoding(CountingEmbedder(), [])


def test_dot_vs_cosine_flips_when_a_long_vector_wins_the_dot_product():
    query = np.array([[1.0, 0.0]])
    docs = np.array([[0.9, 0.1], [3.0, 3.0]])  # doc 0 points the same way; doc 1 is long and off-axis
    assert eb.dot_vs_cosine_flips(query, docs) == [(0, 0, 1)]
    assert eb.dot_vs_cosine_flips(query, docs / np.linalg.norm(docs, axis=1, keepdims=True)) == []
    with pytest.raises(ValueError, match="same number of columns"):
        eb.dot_vs_cosine_flips(query, np.ones((2, 3)))


def test_parameter_megabytes():
    torch = pytest.importorskip("torch")
    assert eb.parameter_megabytes(torch.nn.Linear(256, 1024, bias=False)) == pytest.approx(1.0)


def test_resident_mb_agrees_with_psutil():
    psutil = pytest.importorskip("psutil")
    ours, theirs = eb.resident_mb(), psutil.Process().memory_info().rss / 2**20
    assert ours > 0 and abs(ours - theirs) < max(16, 0.05 * theirs)
