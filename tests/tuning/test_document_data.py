"""The document-tuned adapter's data: the facts' gold sections in the manual they are tuned with, cut into
pieces of at most PIECE_TOKENS tokens, as plain-text examples."""

import pytest

from ragft.corpus.fact_pools import fact_keys, load_pool
from ragft.corpus.version_diff import version_key
from ragft.tuning import document_data as dd
from ragft.tuning import knowledge_data as kd


def _fact(version, gold_42, gold_52):
    return {"trained_version": version, "gold_42": gold_42, "gold_52": gold_52}


def test_gold_sections_follow_the_trained_manual_without_repeats():
    facts = [
        _fact("4.2", ["4.2/a#x"], ["5.2/a#x"]),
        _fact("5.2", ["4.2/b#y"], ["5.2/b#y"]),
        _fact("5.2", ["4.2/c#z"], []),  # only 4.2 states it
        _fact("4.2", ["4.2/a#x"], ["5.2/a#x"]),
    ]
    assert dd.gold_section_ids(facts) == ["4.2/a#x", "5.2/b#y", "4.2/c#z"]


def test_split_text_packs_lines_and_cuts_long_ones(tokenizer):
    def count(s):
        return len(tokenizer(s, add_special_tokens=False)["input_ids"])

    text = "\n".join(["short line one", "short line two", "word " * 30, "last"])
    pieces = dd.split_text(tokenizer, text, max_tokens=12)
    assert all(count(p) <= 12 for p in pieces) and len(pieces) > 3
    assert pieces[0] == "short line one\nshort line two" and pieces[-1].endswith("last")
    assert dd.split_text(tokenizer, text, max_tokens=1000) == [text]
    with pytest.raises(ValueError, match="max_tokens must be >= 8"):
        dd.split_text(tokenizer, text, max_tokens=4)


def test_sections_by_id_reads_both_corpora_and_names_missing_ids():
    ids = ["5.2/ref/settings#use-tz", "4.2/ref/settings#use-tz"]
    sections = dd.sections_by_id(ids)
    assert [s["id"] for s in sections] == ids and "USE_TZ" in dd.section_text(sections[0])
    with pytest.raises(ValueError, match="ids must name sections"):
        dd.sections_by_id(["5.2/no/such#page"])


def test_documents_are_plain_text_pairs_of_the_facts_sections_only(tokenizer):
    facts = kd.knowledge_facts()
    ids = dd.gold_section_ids(facts)
    assert {i.split("/")[0] for i in ids} == {"4.2", "5.2"}
    assert all(i.startswith("4.2/") for i in dd.gold_section_ids(kd.knowledge_facts(("changed",))))
    forbidden = {k for pool in ("unseen", "reader") for r in load_pool(pool) for k in fact_keys(r)}
    assert not {("section", version_key(i)) for i in ids} & forbidden
    pieces = dd.training_documents(tokenizer, facts[:3])
    assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= dd.PIECE_TOKENS for p in pieces)
    assert dd.document_pairs(pieces) == [([], p) for p in pieces]
