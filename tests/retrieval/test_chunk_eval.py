"""ragft.retrieval.chunk_eval on a tiny corpus: chunk recall, context tokens, the sweep, the choice on dev."""

import pytest

from ragft.corpus.data import EvalSet
from ragft.retrieval import chunk_eval as E
from ragft.retrieval.chunking import Chunk, count_tokens


def _chunk(cid, text, sections, context=""):
    return Chunk(cid, cid.split("#")[0], text, context, 0, len(text), tuple(sections))


def test_chunk_recall_counts_sections_covered_by_the_top_k():
    ranked = [_chunk("a#0", "x", ["s1"]), _chunk("a#1", "y", ["s2", "s3"])]
    assert E.chunk_recall(ranked, {"s3": 1, "s9": 1}, k=2) == 0.5
    assert E.chunk_recall(ranked, {"s3": 1}, k=1) == 0.0
    assert E.chunk_recall(ranked, {}, k=1) == 0.0
    with pytest.raises(ValueError, match="k must be between"):
        E.chunk_recall(ranked, {"s1": 1}, k=0)


def test_context_tokens_include_the_heading_trail():
    chunk = _chunk("a#0", "some words", ["s1"], context="Page > Title")
    assert E.context_tokens([chunk, chunk], k=1) == count_tokens("Page > Title\nsome words")


def _tiny():
    sections = [
        {
            "id": "p#x",
            "path": "p.txt",
            "title": "DEFAULT_WIDGET",
            "trail": ["Settings", "DEFAULT_WIDGET"],
            "text": "Default: ``'blue'``\n\nThe widget colour used everywhere.",
            "order": 0,
        },
        {
            "id": "p#y",
            "path": "p.txt",
            "title": "OTHER",
            "trail": ["Settings", "OTHER"],
            "text": "Default: ``None``\n\nSomething unrelated about databases.",
            "order": 1,
        },
    ]
    ev = EvalSet(
        "t", "dev", {}, {"q1": {"text": "default value of DEFAULT_WIDGET setting"}}, {"q1": {"p#x": 1}}
    )
    return sections, ev


def test_retrieve_and_evaluate_chunks():
    sections, ev = _tiny()
    chunks = [
        _chunk("p#x#0", "Default blue widget colour", ["p#x"], "DEFAULT_WIDGET"),
        _chunk("p#y#0", "databases", ["p#y"], "OTHER"),
    ]
    assert E.retrieve_chunks(chunks, ["DEFAULT_WIDGET"], k=1)[0][0].chunk_id == "p#x#0"
    result = E.evaluate_chunks(chunks, {"dev": ev}, k=1)
    assert result["dev"]["recall@1"] == 1.0 and result["dev"]["context_tokens"] > 0
    with pytest.raises(ValueError, match="chunks must not be empty"):
        E.retrieve_chunks([], ["q"], k=1)


def test_sweep_rows_and_best_config():
    sections, ev = _tiny()
    configs = [E.Config("fixed", 8, 0), E.Config("structure", 64, 8), E.Config("sentence", 2, 1)]
    rows = E.sweep(sections, {"dev": ev}, configs, k=1, show_progress=False)
    assert [(r["strategy"], r["size"], r["overlap"]) for r in rows] == [tuple(c) for c in configs]
    assert all(0.0 <= r["dev recall@1"] <= 1.0 for r in rows)
    best = E.best_config(rows, "dev recall@1")
    assert best in configs and [r for r in rows if tuple(best) == (r["strategy"], r["size"], r["overlap"])][
        0
    ]["dev recall@1"] == max(r["dev recall@1"] for r in rows)
    with pytest.raises(ValueError, match="column must be one of"):
        E.best_config(rows, "test recall@1")
    with pytest.raises(ValueError, match="strategy must be one of"):
        E.sweep(sections, {"dev": ev}, [E.Config("words", 8, 0)], k=1, show_progress=False)


def test_config_labels_say_the_unit():
    assert E.Config("sentence", 3, 1).label == "sentence 3/1 sent"
    assert E.Config("fixed", 256, 32).label == "fixed 256/32 tok"
