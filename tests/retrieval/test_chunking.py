"""ragft.retrieval.chunking on tiny inputs: token counting, the three chunkers, pages and section coverage."""

import numpy as np
import pytest

from ragft.retrieval import chunking as C

CODE_SECTION = (
    "Add the app to your settings::\n\n"
    "    INSTALLED_APPS = [\n        'polls',\n        'django.contrib.admin',\n    ]\n\n"
    "Then run the migrations. They create the tables. Ünïcödé text — 日本語 stays intact.\n"
)


def _sections():
    return [
        {
            "id": "p#a",
            "path": "p.txt",
            "title": "Intro",
            "trail": ["Page", "Intro"],
            "text": "Hello world. " * 5,
            "order": 0,
        },
        {
            "id": "p#b",
            "path": "p.txt",
            "title": "Setup",
            "trail": ["Page", "Setup"],
            "text": CODE_SECTION,
            "order": 1,
        },
        {"id": "p#c", "path": "p.txt", "title": "Empty", "trail": ["Page", "Empty"], "text": "", "order": 2},
    ]


def test_count_tokens_matches_offsets_and_spans():
    text = "DEFAULT_AUTO_FIELD is a setting."
    assert C.count_tokens(text) == len(C.token_offsets(text)) > 0
    assert C.count_tokens("") == 0
    assert C.tokens_in_span(text, 0, len(text)) == C.count_tokens(text)
    with pytest.raises(ValueError, match="start and end"):
        C.tokens_in_span(text, 5, 2)


def test_joined_offsets_equal_tokenizing_the_joined_text():
    parts = ["Title one", "Body with ``code`` and ünïcode.", "Next"]
    joined = "\n\n".join(parts)
    direct = np.asarray(C._tokenizer().encode(joined, add_special_tokens=False).offsets).reshape(-1, 2)
    assert np.array_equal(C._joined_offsets(parts, "\n\n"), direct)


@pytest.mark.parametrize("size, overlap", [(0, 0), (8, 8), (8, 9), (8, -1), (C.MAX_SIZE + 1, 0)])
def test_bad_size_or_overlap_is_refused_by_name(size, overlap):
    with pytest.raises(ValueError, match="size|overlap"):
        C.fixed_size_chunks("d", "some text here", size, overlap)


def test_fixed_windows_step_by_size_minus_overlap_and_cover_the_text():
    text = " ".join(f"w{i}" for i in range(40))
    chunks = C.fixed_size_chunks("d", text, size=10, overlap=2)
    assert all(C.count_tokens(c.text) <= 10 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    offsets = C.token_offsets(text)
    assert chunks[1].start == offsets[8][0]  # 10 - 2 tokens later


def test_split_blocks_keeps_code_and_tables_whole():
    table = "=====  =====\nA      B\n=====  =====\n1      2\n=====  =====\n"
    blocks = C.split_blocks(CODE_SECTION + "\n" + table)
    kinds = [b.kind for b in blocks]
    assert "code" in kinds and "table" in kinds
    code = next(b for b in blocks if b.kind == "code")
    assert "INSTALLED_APPS" in (CODE_SECTION + "\n" + table)[code.start : code.end]


def test_structure_never_splits_a_code_block_longer_than_the_size():
    chunks = C.structure_chunks("s", CODE_SECTION, "Page > Setup", size=8, overlap=2)
    holding = [c for c in chunks if "INSTALLED_APPS" in c.text]
    assert len(holding) == 1 and "'django.contrib.admin'," in holding[0].text
    assert all(c.context == "Page > Setup" for c in chunks)
    assert holding[0].indexed_text.startswith("Page > Setup\n")


def test_structure_overlap_repeats_the_last_small_pieces():
    text = "\n\n".join(f"Paragraph {i} has a few words." for i in range(6))
    no_overlap = C.structure_chunks("s", text, size=20, overlap=0)
    overlap = C.structure_chunks("s", text, size=20, overlap=10)
    assert len(overlap) > len(no_overlap)
    assert overlap[1].start < overlap[0].end  # the second chunk starts inside the first


def test_structure_overlap_is_carried_only_when_the_next_block_fits_after_it():
    # Two paragraphs, then a block as big as the whole size: carrying the second paragraph forward would
    # make a chunk holding only that paragraph again, inside the previous chunk and adding nothing.
    text = "An opening paragraph of several words.\n\nShort one.\n\n" + "Long. " * 40 + "\n\nTail words."
    chunks = C.structure_chunks("s", text, size=C.count_tokens("Long. " * 40), overlap=8)
    for previous, chunk in zip(chunks, chunks[1:], strict=False):
        assert chunk.end > previous.end, f"{chunk.chunk_id} adds nothing to {previous.chunk_id}"
    assert "".join(c.text for c in chunks).count("Long.") >= 40  # nothing lost


def test_sentence_windows_count_sentences():
    text = "One is here. Two is here. Three is here. Four is here."
    chunks = C.sentence_window_chunks("d", text, size=2, overlap=1)
    assert [c.text for c in chunks][:2] == ["One is here. Two is here.", "Two is here. Three is here."]


def test_pages_and_covered_sections():
    pages = C.build_pages(_sections())
    assert len(pages) == 1
    page = pages[0]
    assert page.text.startswith("Intro\n\nHello world.")
    sid, start, end = page.spans[1]
    assert sid == "p#b" and page.text[start:].startswith("Setup\n\nAdd the app")
    assert C.covered_sections(page, start, end) == ("p#b",)


def test_a_section_without_a_title_contributes_its_body_alone():
    sections = _sections()
    sections[1] = {**sections[1], "title": ""}
    page = C.build_pages(sections)[0]
    sid, start, end = page.spans[1]
    assert sid == "p#b" and page.text[start:end] == CODE_SECTION and "Setup" not in page.text


@pytest.mark.parametrize("strategy", C.STRATEGIES)
def test_chunk_corpus_every_strategy_maps_chunks_to_sections(strategy):
    chunks = C.chunk_corpus(_sections(), strategy, *((3, 1) if strategy == "sentence" else (16, 4)))
    assert chunks and all(c.section_ids for c in chunks)
    assert {s for c in chunks for s in c.section_ids} <= {"p#a", "p#b", "p#c"}
    with pytest.raises(ValueError, match="strategy must be one of"):
        C.chunk_corpus(_sections(), "words")


def test_structure_corpus_skips_empty_sections_and_keeps_the_trail():
    chunks = C.chunk_corpus(_sections(), "structure", 256, 32)
    assert {c.doc_id for c in chunks} == {"p#a", "p#b"}
    assert chunks[0].context == "Page > Intro"


def test_chunk_document_short_documents_stay_whole_and_empty_ones_keep_the_title():
    assert len(C.chunk_document("d", "Short text.", "Title")) == 1
    assert C.chunk_document("d", "  ", "Title")[0].text == "Title"
    assert C.chunk_document("d", "", "") == []


def test_unicode_offsets_are_character_offsets():
    text = "日本語 and Ünïcödé words. " * 3
    for chunk in C.fixed_size_chunks("d", text, size=5, overlap=1):
        assert text[chunk.start : chunk.end] == chunk.text
