import pytest

from ragft.rag.pipeline import (
    DEFAULT_SYSTEM,
    RagAnswer,
    answer,
    answer_batch,
    answer_from_context,
    attribute,
    build_prompt,
    cited_numbers,
    extract_answer_span,
    first_line,
    resolve_citations,
    truncate,
)
from ragft.retrieval.chunking import Chunk


def _chunk(cid: str, text: str, context: str = "") -> Chunk:
    return Chunk(cid, cid.split("#s")[0], text, context, 0, len(text), (cid.split("#s")[0],))


CHUNKS = [
    _chunk("settings#use-tz#s0", "Default: ``True``\n\nWhether datetimes are aware.", "Settings > USE_TZ"),
    _chunk("settings#debug#s0", "Default: ``False``\n\nA boolean that turns debug on.", "Settings > DEBUG"),
    _chunk("intro#s0", "Django is a web framework.", "Introduction"),
]


class FakeRetriever:
    """Returns the chunks whose text shares a word with the query, in list order."""

    def search(self, queries, k=10):
        out = []
        for query in queries:
            words = {w for w in query.lower().replace("?", "").split() if len(w) > 3}
            hits = [(c.chunk_id, 1.0) for c in CHUNKS if words & set(c.indexed_text.lower().split())]
            out.append(hits[:k])
        return out


class FakeGenerate:
    def __init__(self, reply: str):
        self.reply, self.calls = reply, []

    def __call__(self, prompt, *, system=None, max_new_tokens=32):
        self.calls.append({"prompt": prompt, "system": system, "max_new_tokens": max_new_tokens})
        return self.reply


def test_truncate_cuts_at_a_space_and_marks_the_cut():
    assert truncate("short", 10) == "short"
    assert truncate("alpha beta gamma delta", 12) == "alpha beta ..."
    with pytest.raises(ValueError, match="max_chars"):
        truncate("x", 0)


def test_build_prompt_numbers_passages_and_keeps_the_heading_trail():
    prompt = build_prompt("What is USE_TZ?", CHUNKS[:2], max_chars=200)
    assert prompt.startswith("Context:\n[1] Settings > USE_TZ\nDefault: ``True``")
    assert "[2] Settings > DEBUG" in prompt
    assert prompt.rstrip().endswith("like [1].")
    assert build_prompt("Q?", []) == "Question: Q?\nAnswer briefly."
    with pytest.raises(ValueError, match="question"):
        build_prompt("  ", CHUNKS)


@pytest.mark.parametrize(
    "text, span",
    [
        ("The default value of the USE_TZ setting is ``True``.", "True"),
        ("The default is `'N j, Y'`.", "'N j, Y'"),
        ("It is 'en-us' [1].", "'en-us'"),
        ("It was added in Django 5.1.", "5.1"),
        ("The default value of SECRET_KEY is a random string.", "a random string"),
        ("No idea", "No idea"),
        ("First line is ``A``\nsecond line is ``B``", "A"),
    ],
)
def test_extract_answer_span(text, span):
    assert extract_answer_span(text) == span


def test_citation_markers_and_attribution():
    assert cited_numbers("See [2] and [1], again [2].") == [2, 1]
    contexts = [c.text for c in CHUNKS]
    assert attribute("The default is ``False``.", contexts) == 1
    assert attribute("It is ``'nope'``.", contexts) is None
    ids = [c.chunk_id for c in CHUNKS]
    assert resolve_citations("``True`` [1] [7]", ids, contexts) == ((ids[0],), "model", (7,))
    assert resolve_citations("It is ``False``.", ids, contexts) == ((ids[1],), "attributed", ())
    assert resolve_citations("Unknown.", ids, contexts) == ((), "none", ())


def test_first_line_skips_blank_lines():
    assert first_line("\n\n  answer  \nmore") == "answer"
    assert first_line("") == ""
    assert first_line("The default is:\n\n* ``[]``\nmore") == "The default is: * ``[]``"


def test_answer_is_complete_once_a_newline_follows_it():
    from ragft.rag.pipeline import _answer_lines

    assert _answer_lines("It is ``True``.")[1] is False
    assert _answer_lines("It is ``True``.\n")[1] is True
    assert _answer_lines("\nIt is:\n")[1] is False
    assert _answer_lines("It is:\n``[]``\n") == ("It is: ``[]``", True)


def test_answer_retrieves_prompts_generates_and_cites():
    fake = FakeGenerate("The default value of USE_TZ is ``True`` [1].\nMore text.")
    result = answer("What is the default of use_tz?", FakeRetriever(), CHUNKS, k=2, generate_fn=fake)
    assert isinstance(result, RagAnswer)
    assert result.context_ids == ("settings#use-tz#s0",)
    assert result.answer == "The default value of USE_TZ is ``True`` [1]."
    assert result.raw.endswith("More text.")
    assert result.citations == ("settings#use-tz#s0",) and result.citation_source == "model"
    assert fake.calls[0]["system"] == DEFAULT_SYSTEM and fake.calls[0]["prompt"] == result.prompt
    assert result.to_dict()["context_ids"] == ["settings#use-tz#s0"]


def test_answer_batch_accepts_a_mapping_and_checks_ids():
    fake = FakeGenerate("``False``")
    lookup = {c.chunk_id: c for c in CHUNKS}
    results = answer_batch(
        ["debug default?", "django framework?"],
        FakeRetriever(),
        lookup,
        k=3,
        generate_fn=fake,
        show_progress=False,
    )
    assert [r.context_ids for r in results] == [("settings#debug#s0",), ("intro#s0",)]
    assert results[0].citation_source == "attributed" and results[1].citation_source == "none"
    with pytest.raises(ValueError, match="not in chunks"):
        answer_batch(["debug?"], FakeRetriever(), CHUNKS[:1], generate_fn=fake, show_progress=False)
    with pytest.raises(ValueError, match="k must be"):
        answer_batch(["debug?"], FakeRetriever(), CHUNKS, k=0, generate_fn=fake)


def test_closed_book_has_no_system_turn_and_no_citations():
    fake = FakeGenerate("``True``")
    result = answer_from_context("What is USE_TZ?", [], generate_fn=fake)
    assert fake.calls[0]["system"] is None and result.citations == () and result.context_ids == ()
