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


def test_per_query_recall_keeps_the_score_of_every_question():
    sections, ev = _tiny()
    chunks = [
        _chunk("p#x#0", "Default blue widget colour", ["p#x"], "DEFAULT_WIDGET"),
        _chunk("p#y#0", "databases", ["p#y"], "OTHER"),
    ]
    assert E.per_query_recall(chunks, ev, k=1) == {"q1": 1.0}
    assert (
        E.per_query_recall(chunks, ev, k=1)["q1"]
        == E.evaluate_chunks(chunks, {"dev": ev}, k=1)["dev"]["recall@1"]
    )
    empty = EvalSet("t", "dev", {}, {}, {})
    with pytest.raises(ValueError, match="no judged queries"):
        E.per_query_recall(chunks, empty)


def test_labels_of_coinciding_points_are_merged():
    points = [
        (1250.0, 0.413, "512/0"),
        (1251.0, 0.413, "512/64"),
        (500.0, 0.35, "128/0"),
        (510.0, 0.30, "128/16"),
    ]
    groups = E.label_groups(points, x_span=2000.0, y_span=0.2)
    assert (1251.0, 0.413, "512/0, 512/64") in groups
    assert {text for _, _, text in groups} == {"512/0, 512/64", "128/0", "128/16"}  # 0.05 apart: kept apart
    assert len(E.label_groups(points, 2000.0, 0.2, tolerance=0.0)) == 4
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        E.label_groups(points, 1.0, 1.0, tolerance=-1)


def test_sweep_figure_prints_no_label_on_top_of_another():
    rows = [
        {
            "strategy": "structure",
            "size": 512,
            "overlap": o,
            "dev recall@5": 0.41,
            "dev context tokens": 1237.0,
        }
        for o in (0, 64)
    ] + [{"strategy": "fixed", "size": 128, "overlap": 0, "dev recall@5": 0.28, "dev context tokens": 627.0}]
    fig = E.sweep_figure(rows, ["dev"])
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["128/0", "512/0, 512/64"]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
