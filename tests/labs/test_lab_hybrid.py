"""lab_hybrid's helpers: the diagnoses that name misconceptions, the evaluation records, the scoring, and
the separation of the learner's, the grader's and the update scenario's facts."""

import json
import random

import pytest

from ragft.labs import lab_hybrid as lab


def _fact(i: int) -> dict:
    return {
        "id": f"f{i}",
        "question": f"What is the default of SETTING_{i}?",
        "answer": f"{i}00",
        "gold": f"Settings > SETTING_{i}\nDefault: {i}00",
        "distractors": [f"Other > A{i}\nnothing here", f"Other > B{i}\nnor here"],
    }


FACTS = [_fact(i) for i in range(1, 21)]


def _good_record(fact: dict, rng: random.Random, answerable: bool) -> dict:
    if not answerable:
        return {
            "question": fact["question"],
            "passages": fact["distractors"],
            "target": lab.target_text(None, None),
        }
    passages = [fact["distractors"][0]]
    at = rng.randrange(2)
    passages.insert(at, fact["gold"])
    return {
        "question": fact["question"],
        "passages": passages,
        "target": lab.target_text(fact["answer"], at + 1),
    }


def _records(**change) -> list[dict]:
    rng = random.Random(0)
    records = [_good_record(f, rng, i % 4 != 0) for i, f in enumerate(FACTS)]
    for record in records:
        record.update(change)
    return records


def test_placement_right_wrong_and_misshapen():
    right = {item["id"]: item["place"] for item in lab.rules()["items"]}
    assert lab.diagnose_placement(right) == []
    facts_tuned = {**right, "upload_default": "tuning"}
    assert "Facts in the tuning data (upload_default)" in lab.diagnose_placement(facts_tuned)[0]
    behavior_indexed = {**right, "abstain": "index"}
    assert "A behavior put into the index (abstain)" in lab.diagnose_placement(behavior_indexed)[0]
    assert "misses" in lab.diagnose_placement({})[0]
    assert "must be a dict" in lab.diagnose_placement(["tuning"])[0]


def test_sound_records_have_no_problems():
    assert lab.diagnose_records(_records(), FACTS) == []


def test_records_with_one_passage_are_no_distractors():
    records = _records()
    for record, fact in zip(records, FACTS, strict=True):
        if "not in the documents" not in record["target"]:
            record["passages"] = [fact["gold"]]
            record["target"] = lab.target_text(fact["answer"], 1)
    problems = lab.diagnose_records(records, FACTS)
    assert any(p.startswith("No distractors") for p in problems)


def test_records_that_never_abstain_lack_no_answer_examples():
    rng = random.Random(0)
    records = [_good_record(f, rng, True) for f in FACTS]
    assert any(p.startswith("No no-answer examples") for p in lab.diagnose_records(records, FACTS))
    mostly = [_good_record(f, rng, i % 4 == 0) for i, f in enumerate(FACTS)]
    assert any(p.startswith("Too many no-answer examples") for p in lab.diagnose_records(mostly, FACTS))


def test_closed_book_answers_are_facts_in_the_targets():
    records = _records()
    records.append({"question": FACTS[0]["question"], "passages": [], "target": lab.target_text("100", 1)})
    assert any(p.startswith("Facts in the tuning targets") for p in lab.diagnose_records(records, FACTS))


def test_wrong_citation_fixed_gold_position_and_dev_facts_are_named():
    rng = random.Random(0)
    first = []
    for f in FACTS:
        passages = [f["gold"], f["distractors"][0]]
        first.append(
            {"question": f["question"], "passages": passages, "target": lab.target_text(f["answer"], 1)}
        )
    first += [_good_record(f, rng, False) for f in FACTS[:5]]
    assert any("always number 1" in p for p in lab.diagnose_records(first, FACTS))
    off = [dict(r, target=lab.target_text(f["answer"], 3)) for r, f in zip(first, FACTS, strict=False)]
    assert any("citations count from 1" in p for p in lab.diagnose_records(off, FACTS))
    assert any("dev facts" in p for p in lab.diagnose_records(_records(), FACTS, held_out=FACTS[:1]))


def test_no_answer_record_showing_the_gold_passage_is_named():
    records = _records()
    records[0]["passages"] = [FACTS[0]["gold"], FACTS[0]["distractors"][0]]
    assert json.loads(records[0]["target"])["answer"] == lab.ABSTAIN
    assert any("ignore an answer" in p for p in lab.diagnose_records(records, FACTS))


def test_records_must_be_a_list_of_dicts_with_json_targets():
    assert "non-empty list" in lab.diagnose_records(..., FACTS)[0]
    assert "keys question" in lab.diagnose_records([{"question": "q"}], FACTS)[0]
    assert "not the reader's JSON" in lab.diagnose_records(_records(target="Answer: 100"), FACTS)[0]


def test_eval_records_mix_answerable_and_unanswerable():
    records = lab.eval_records(FACTS[:6])
    assert [r["answer"] is None for r in records] == [False, False, True, False, False, True]
    for record, fact in zip(records, FACTS, strict=False):
        if record["answer"] is None:
            assert fact["gold"] not in record["passages"] and record["citation"] is None
        else:
            assert record["passages"][record["citation"] - 1] == fact["gold"] and len(record["passages"]) == 2
    with pytest.raises(ValueError, match="no_answer_every must be >= 2, got 1"):
        lab.eval_records(FACTS, no_answer_every=1)


def test_score_counts_right_answers_and_abstentions():
    records = lab.eval_records(FACTS[:3])
    outputs = [
        json.dumps({"answer": "100", "citations": [records[0]["citation"]]}),
        json.dumps({"answer": lab.ABSTAIN, "citations": []}),
        json.dumps({"answer": lab.ABSTAIN, "citations": []}),
    ]
    assert lab.score(outputs, records) == {
        "n": 3,
        "compliant": 3,
        "answerable": 2,
        "right": 1,
        "abstained_answerable": 1,
        "no_answer": 1,
        "abstained_no_answer": 1,
    }
    with pytest.raises(ValueError, match="equally many"):
        lab.score(outputs[:2], records)


def test_constant_guess_is_the_most_common_answer():
    records = [{"answer": a} for a in ("5.2", "5.2", "None", None)]
    assert lab.constant_guess(records) == ("5.2", 2)
    with pytest.raises(ValueError, match="at least one answerable"):
        lab.constant_guess([{"answer": None}])


def test_diagnose_scores_names_never_abstaining_and_over_abstaining():
    base = {"n": 24, "compliant": 24, "answerable": 16, "no_answer": 8}
    good = {**base, "right": 10, "abstained_answerable": 1, "abstained_no_answer": 5}
    assert lab.diagnose_scores(good) == []
    never = {**good, "abstained_no_answer": 0}
    assert "no no-answer examples" in lab.diagnose_scores(never, share_no_answer=0.0)[0]
    always = {**good, "right": 0, "abstained_answerable": 16, "abstained_no_answer": 8}
    assert "too many no-answer examples" in lab.diagnose_scores(always)[0]


def test_steps_outside_the_budget_are_refused_by_name():
    budget = lab.rules()["step_budget"]
    assert lab.lab_config(budget).max_steps == budget
    for steps in (0, budget + 1, 2.0):
        with pytest.raises(ValueError, match="steps must be a whole number"):
            lab.lab_config(steps)


def test_learner_grader_and_update_facts_never_share_a_fact():
    from ragft.corpus.fact_pools import fact_keys, load_pool

    keys = {
        name: set().union(*(fact_keys(r) for r in load_pool(name)))
        for name in ("reader", "unseen", "changed")
    }
    facts = lab.lab_facts()
    learner = {r["id"] for split in facts.values() for r in split}
    hidden = {r["id"] for r in lab.hidden_records()}
    changed = {r["id"] for r in lab.changed_records()}
    assert not learner & hidden and not learner & changed and not hidden & changed
    pools = {r["id"]: name for name in ("reader", "unseen", "changed") for r in load_pool(name)}
    assert {pools[i] for i in learner} == {"reader"}
    assert {pools[i] for i in hidden} == {"unseen"} and {pools[i] for i in changed} == {"changed"}
    assert not keys["reader"] & keys["unseen"] and not keys["reader"] & keys["changed"]
    assert not {f["question"] for f in facts["train"]} & {f["question"] for f in facts["dev"]}


def test_hidden_records_are_answerable_and_not_as_the_rules_say():
    hidden = lab.hidden_records()
    sizes = lab.rules()["hidden"]
    assert sum(r["answer"] is not None for r in hidden) == sizes["answerable"]
    assert sum(r["answer"] is None for r in hidden) == sizes["no_answer"]
    assert hidden == lab.hidden_records()  # deterministic


def test_changed_records_show_each_versions_value_in_its_passage():
    from ragft.tuning.behavior_data import passage_contains

    rows = lab.changed_records(4)
    assert len(rows) == 4
    for row in rows:
        assert row["answer_42"] != row["answer_52"]
        assert passage_contains(row["passage_42"], row["answer_42"])
        assert passage_contains(row["passage_52"], row["answer_52"])
    with pytest.raises(ValueError, match="version must be '4.2' or '5.2'"):
        lab.ask_changed(None, None, rows, "6.0")


def test_gives_value_counts_replies_with_that_versions_value():
    rows = [{"answer_42": "'http'", "answer_52": "'https'"}, {"answer_42": "4.2", "answer_52": "5.2"}]
    replies = ['{"answer": "https", "citations": [1]}', '{"answer": "not in the documents", "citations": []}']
    assert lab.gives_value(replies, rows, "5.2") == 1
    assert lab.gives_value(replies, rows, "4.2") == 0
    with pytest.raises(ValueError, match="version must be"):
        lab.gives_value(replies, rows, "5.0")
