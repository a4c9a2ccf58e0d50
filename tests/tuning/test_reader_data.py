"""ragft.tuning.reader_data: RAFT records (gold among real distractors, or abstain), the strict format."""

import json
import random

import pytest

from ragft.retrieval.chunking import Chunk
from ragft.tuning import reader_data as rd


def chunk(cid, text, section):
    return Chunk(cid, section, text, f"Page > {cid}", 0, len(text), (section,))


class FakeRetriever:
    """Returns every chunk, in the given order, for every query."""

    def __init__(self, ids):
        self.ids = ids

    def search(self, queries, k):
        return [[(cid, 1.0) for cid in self.ids[:k]] for _ in queries]


def fact(i, answer="True", section=None):
    return {
        "id": f"facts/x/{i}",
        "kind": "setting_default",
        "question": f"What is the default of S{i}?",
        "paraphrases": [f"S{i} defaults to what?", f"Default value of S{i}?"],
        "answer": answer,
        "answer_42": None,
        "answer_52": answer,
        "gold_42": [],
        "gold_52": [section or f"5.2/ref/settings#s{i}"],
    }


def test_assemble_puts_the_gold_chunk_among_distractors_that_do_not_show_the_answer():
    gold = chunk("g", "Default: ``True``", "5.2/s#g")
    ranked = [
        chunk("a", "Default: True as well", "5.2/s#a"),
        chunk("b", "nothing", "5.2/s#b"),
        chunk("c", "x", "c"),
    ]
    passages, number = rd.assemble("True", [gold], ranked, random.Random(0), with_gold=True)
    assert len(passages) == 3 and passages[number - 1] is gold
    assert [p.chunk_id for p in passages if p is not gold] == [
        "b",
        "c",
    ]  # "a" shows the answer: not a distractor
    negatives, none = rd.assemble("True", [gold], ranked + [chunk("d", "y", "d")], random.Random(0), False)
    assert none is None and [p.chunk_id for p in negatives] == ["b", "c", "d"]
    with pytest.raises(ValueError, match="gold chunk"):
        rd.assemble("True", [chunk("g2", "no answer here", "s")], ranked, random.Random(0), with_gold=True)


def test_targets_are_strict_json_and_the_abstention_cites_nothing():
    assert json.loads(rd.target_text("True", 2)) == {"answer": "True", "citations": [2]}
    assert json.loads(rd.target_text(None, None)) == {"answer": rd.ABSTAIN, "citations": []}
    with pytest.raises(ValueError, match="citation"):
        rd.target_text("True", None)


def test_prompt_numbers_the_documents_and_says_when_there_are_none():
    passages = [chunk("g", "Default: ``True``", "s")]
    user = rd.reader_prompt("What is S?", passages)[1]["content"]
    assert user.startswith("Documents:\n[1] Page > g\nDefault: ``True``") and user.endswith(
        "Question: What is S?"
    )
    assert "Documents:\n(none)" in rd.reader_prompt("What is S?", [])[1]["content"]
    with pytest.raises(ValueError, match="question"):
        rd.reader_prompt("  ", passages)


def test_records_come_only_from_the_pool_with_a_dev_split_and_a_share_of_abstentions():
    pool = [fact(i) for i in range(40)]
    chunks = [chunk(f"g{i}", "Default: ``True``", f"5.2/ref/settings#s{i}") for i in range(40)]
    chunks += [chunk(f"d{i}", f"unrelated text {i}", f"5.2/other#d{i}") for i in range(6)]
    retriever = FakeRetriever([c.chunk_id for c in chunks if c.chunk_id.startswith("d")])
    records = rd.build_reader_records(pool, {"5.2": (chunks, retriever)}, seed=0, abstain_share=0.3)
    assert {r["id"] for r in records} == {f["id"] for f in pool}
    assert sum(r["split"] == "dev" for r in records) == rd.DEV_FACTS
    abstains = [r for r in records if r["answer"] is None]
    assert 0 < len(abstains) < len(records) and all(r["citation"] is None for r in abstains)
    for r in records:
        shown = [rd.shown_text(p) for p in r["passages"]]
        if r["answer"] is None:
            assert not any("True" in s for s in shown)
        else:
            assert "True" in shown[r["citation"] - 1]
        source = next(f for f in pool if f["id"] == r["id"])
        assert r["question"] in [source["question"], *source["paraphrases"]]
    again = rd.build_reader_records(pool, {"5.2": (chunks, retriever)}, seed=0, abstain_share=0.3)
    assert again == records


@pytest.mark.parametrize(
    "text, n, compliant, abstained, reason",
    [
        ('{"answer": "True", "citations": [1]}', 3, True, False, "ok"),
        ('{"answer": "not in the documents", "citations": []}', 3, True, True, "ok"),
        ('{"answer": "Not in the documents.", "citations": [2]}', 3, False, True, "abstention that cites"),
        ('{"answer": "True", "citations": []}', 3, False, False, "answer without a citation"),
        ('{"answer": "True", "citations": [4]}', 3, False, False, "outside 1..3"),
        ("The answer is True [1]", 3, False, False, "not valid JSON"),
        ('{"answer": "True"}', 3, False, False, "schema"),
        ('{"answer": "", "citations": [1]}', 3, False, False, "non-empty string"),
    ],
)
def test_parse_reader_output(text, n, compliant, abstained, reason):
    parsed = rd.parse_reader_output(text, n)
    assert (
        parsed["compliant"] is compliant and parsed["abstained"] is abstained and reason in parsed["reason"]
    )


def test_reader_scores_count_abstentions_right_only_where_the_documents_lack_the_answer():
    from ragft.tuning.reader_adapter import score_reader_outputs

    passages = [chunk("a", "x", "s"), chunk("b", "y", "s")]
    records = [
        {"answer": "True", "citation": 2, "passages": passages},
        {"answer": None, "citation": None, "passages": passages},
        {"answer": "True", "citation": 1, "passages": passages},
    ]
    outputs = [
        '{"answer": "True", "citations": [2]}',
        '{"answer": "not in the documents", "citations": []}',
        '{"answer": "not in the documents", "citations": []}',
    ]
    scores = score_reader_outputs(outputs, records)
    assert scores["compliance"] == 1.0 and scores["right"] == pytest.approx(2 / 3)
    assert scores["citation_correct"] == pytest.approx(1 / 3) and scores["abstained"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="equal"):
        score_reader_outputs(outputs[:2], records)
