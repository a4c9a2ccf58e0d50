"""ragft.retrieval.chunk_quality on tiny hand-made chunks: each problem detected, clean chunks pass."""

import pytest

from ragft.retrieval import chunk_quality as Q
from ragft.retrieval.chunking import Chunk, chunk_corpus

CODE = "Run this::\n\n    python manage.py migrate\n    python manage.py runserver\n\nDone, and it works now."


def _chunk(cid, doc, text_src, start, end, context=""):
    return Chunk(cid, doc, text_src[start:end], context, start, end, (doc,))


def test_split_code_block_is_flagged_and_a_whole_one_is_not():
    sources = {"d": Q.Source(CODE)}
    cut = CODE.index("runserver")
    issues = Q.validate_chunks([_chunk("d#0", "d", CODE, 0, cut, "T")], sources, min_tokens=0)
    assert [i.problem for i in issues] == ["split_code"]
    assert Q.validate_chunks([_chunk("d#0", "d", CODE, 0, len(CODE), "T")], sources, min_tokens=0) == []


def test_empty_tiny_oversized_and_no_heading():
    text = "Plain words without any code in them at all."
    sources = {"d": Q.Source(text)}
    empty = Chunk("d#e", "d", "  ", "", 0, 0, ("d",))
    tiny = _chunk("d#t", "d", text, 0, 11)
    problems = {(i.chunk_id, i.problem) for i in Q.validate_chunks([empty, tiny], sources, max_tokens=1)}
    assert problems == {("d#e", "empty"), ("d#t", "tiny"), ("d#t", "oversized"), ("d#t", "no_heading")}


def test_orphaned_heading_at_the_end_of_a_chunk():
    text = "Why?\n\n" + "Because the answer is long enough to count. " * 3
    sources = {"p": Q.Source(text, ((0, 4, len(text)),))}
    orphan = _chunk("p#0", "p", text, 0, 4)
    whole = _chunk("p#1", "p", text, 0, len(text))
    issues = Q.validate_chunks([orphan, whole], sources, min_tokens=0)
    assert [(i.chunk_id, i.problem) for i in issues] == [("p#0", "orphaned_heading")]


def test_duplicates_and_redundant_chunks():
    text = "Same words here, again and again. Other words follow."
    sources = {"a": Q.Source(text), "b": Q.Source(text)}
    first = _chunk("a#0", "a", text, 0, len(text), "A")
    inside = _chunk("a#1", "a", text, 5, 20, "A")
    copy = _chunk("b#0", "b", text, 0, len(text), "A")
    problems = [
        (i.chunk_id, i.problem) for i in Q.validate_chunks([first, inside, copy], sources, min_tokens=0)
    ]
    assert problems == [("a#1", "redundant"), ("b#0", "duplicate")]


def test_counts_list_every_problem_and_examples_check_the_name():
    counts = Q.count_problems([Q.Issue("x", "tiny", "")])
    assert counts["tiny"] == 1 and set(counts) == set(Q.PROBLEMS)
    with pytest.raises(ValueError, match="problem must be one of"):
        Q.examples([], "ugly")


def test_missing_source_is_named():
    with pytest.raises(ValueError, match="sources lacks"):
        Q.validate_chunks([Chunk("z#0", "z", "t", "", 0, 1, ("z",))], {})


def test_corpus_sources_match_chunk_corpus_documents():
    sections = [
        {
            "id": "p#a",
            "path": "p.txt",
            "title": "Why?",
            "trail": ["P", "Why?"],
            "text": "Because. " * 30,
            "order": 0,
        },
        {"id": "p#b", "path": "p.txt", "title": "How", "trail": ["P", "How"], "text": CODE, "order": 1},
    ]
    for strategy, size, overlap in (("fixed", 20, 4), ("structure", 20, 4), ("sentence", 2, 1)):
        chunks = chunk_corpus(sections, strategy, size, overlap)
        sources = Q.corpus_sources(sections, strategy)
        issues = Q.validate_chunks(chunks, sources, max_tokens=size if strategy != "sentence" else None)
        assert all(i.problem in Q.PROBLEMS for i in issues)
        if strategy == "structure":
            assert not [i for i in issues if i.problem in ("split_code", "no_heading", "orphaned_heading")]
        else:
            assert "p.txt" in sources and sources["p.txt"].headings[0][:2] == (0, 4)
