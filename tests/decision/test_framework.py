import copy
import json

import pytest

from ragft.decision import framework as decision
from ragft.decision.framework import METHODS, recommend, validate_answers

BASE = {  # nothing calls for more than prompting
    "needs_documents": False,
    "behavior_change": "none",
    "knowledge_change": "stable",
    "labeled_examples": 0,
    "needs_citations": False,
    "queries_per_day": 100,
    "latency_critical": False,
    "ml_experience": True,
}


def answers(**changes):
    return {**BASE, **changes}


def method(**changes):
    return recommend(answers(**changes)).method


# --- Q1 to Q8 and the result, each branch ----------------------------------------------------------


def test_nothing_needed_is_prompting():
    rec = recommend(BASE)
    assert rec.method == "prompting" and rec.knowledge is None and rec.behavior is None


def test_q1_documents_give_rag():
    assert method(needs_documents=True) == "rag"


@pytest.mark.parametrize("kind", ["format", "task"])
def test_q2_behavior_without_data_is_prompting_with_data_fine_tuning(kind):
    assert method(behavior_change=kind, labeled_examples=0) == "prompting"
    assert method(behavior_change=kind, labeled_examples=5000) == "fine-tuning"


def test_labeled_examples_do_not_matter_without_a_behavior_need():
    assert method(labeled_examples=100_000) == "prompting"


@pytest.mark.parametrize(
    "change, expected",
    [
        ("daily", "rag"),
        ("weekly", "rag"),
        ("monthly", "rag"),
        ("quarterly", "prompting"),
        ("yearly", "prompting"),
        ("stable", "prompting"),
    ],
)
def test_q3_fast_changing_knowledge_needs_rag(change, expected):
    assert method(knowledge_change=change) == expected


@pytest.mark.parametrize(
    "examples, expected",
    [
        (0, "prompting"),
        (199, "prompting"),
        (200, "prompting"),
        (499, "prompting"),
        (500, "fine-tuning"),
        (999, "fine-tuning"),
        (1000, "fine-tuning"),
    ],
)
def test_q4_task_thresholds_at_low_volume(examples, expected):
    assert method(behavior_change="task", labeled_examples=examples) == expected


@pytest.mark.parametrize(
    "examples, expected",
    [(0, "prompting"), (99, "prompting"), (100, "fine-tuning"), (350, "fine-tuning"), (5000, "fine-tuning")],
)
def test_q4_a_checkable_format_needs_far_fewer_examples_than_a_task(examples, expected):
    assert method(behavior_change="format", labeled_examples=examples) == expected


def test_q4_reasons_change_at_every_boundary():
    def q4_text(n, kind="task"):
        rec = recommend(answers(behavior_change=kind, labeled_examples=n))
        return next(r["text"] for r in rec.reasons if r["question"] == "Q4")

    assert "fewer than 200" in q4_text(199) and "fewer than" not in q4_text(200)
    assert "not to tune a task or style below about 500" in q4_text(499) and "narrow task" in q4_text(500)
    assert "broader behavior shifts" not in q4_text(999) and "broader behavior shifts" in q4_text(1000)
    assert "fewer than 100" in q4_text(99, "format")
    assert "does not apply" in q4_text(100, "format") and "500" in q4_text(100, "format")


def test_q5_citations_give_rag():
    assert method(needs_citations=True) == "rag"


@pytest.mark.parametrize(
    "volume, latency, expected",
    [
        (999, True, "prompting"),
        (1000, True, "fine-tuning"),
        (1000, False, "prompting"),
        (50_000, False, "prompting"),
    ],
)
def test_q6_q7_high_volume_and_strict_latency_decide_the_marginal_band(volume, latency, expected):
    marginal = {"behavior_change": "task", "labeled_examples": 300}
    assert method(**marginal, queries_per_day=volume, latency_critical=latency) == expected


def test_q7_does_not_remove_rag_when_documents_are_needed_and_blames_the_prompt_not_the_search():
    rec = recommend(answers(needs_documents=True, queries_per_day=100_000, latency_critical=True))
    q7 = [r["text"] for r in rec.reasons if r["question"] == "Q7"]
    assert rec.method == "rag" and len(q7) == 1
    assert "milliseconds" in q7[0] and "longer prompt" in q7[0]


def test_q8_no_experience_turns_a_marginal_case_back_to_prompting():
    marginal = {
        "behavior_change": "task",
        "labeled_examples": 300,
        "queries_per_day": 5000,
        "latency_critical": True,
    }
    assert method(**marginal, ml_experience=True) == "fine-tuning"
    assert method(**marginal, ml_experience=False) == "prompting"


def test_q8_no_experience_with_enough_data_keeps_tuning_but_says_what_it_costs():
    rec = recommend(answers(behavior_change="task", labeled_examples=2000, ml_experience=False))
    assert rec.method == "fine-tuning"
    assert any(r["question"] == "Q8" and "budget for training" in r["text"] for r in rec.reasons)


def test_q8_no_experience_turns_a_modest_format_dataset_back_to_prompting():
    assert method(behavior_change="format", labeled_examples=120, ml_experience=True) == "fine-tuning"
    assert method(behavior_change="format", labeled_examples=120, ml_experience=False) == "prompting"


def test_documents_and_behavior_give_hybrid():
    rec = recommend(answers(needs_documents=True, behavior_change="task", labeled_examples=2000))
    assert rec.method == "hybrid" and rec.knowledge == "rag" and rec.behavior == "fine-tuning"
    assert rec.reasons[-1]["question"] == "Result" and "out of the tuning data" in rec.reasons[-1]["text"]


def test_eight_questions_numbered_one_to_eight_one_key_each():
    assert [q["id"] for q in decision.questions()] == [f"Q{i}" for i in range(1, 9)]
    assert len(decision.ANSWER_KEYS) == len(set(decision.ANSWER_KEYS)) == 8
    asked = {q["id"] for q in decision.questions()} | {"Result"}
    assert {rule["question"] for rule in decision.load_rules()["rules"]} <= asked


def test_every_method_is_reachable():
    reached = {
        method(),
        method(needs_documents=True),
        method(behavior_change="task", labeled_examples=600),
        method(needs_citations=True, behavior_change="task", labeled_examples=600),
    }
    assert reached == set(METHODS)


# --- reasons, flips, assumptions ---------------------------------------------------------------------


def test_reasons_follow_the_question_order():
    rec = recommend(
        answers(
            needs_documents=True,
            behavior_change="task",
            labeled_examples=300,
            needs_citations=True,
            queries_per_day=5000,
            latency_critical=True,
        )
    )
    order = [9 if r["question"] == "Result" else int(r["question"][1:]) for r in rec.reasons]
    assert order == sorted(order) and order[0] == 1


@pytest.mark.parametrize(
    "case",
    [
        BASE,
        answers(needs_documents=True, behavior_change="task", labeled_examples=2000),
        answers(behavior_change="task", labeled_examples=300, queries_per_day=5000, latency_critical=True),
        answers(behavior_change="task", labeled_examples=120),
        answers(behavior_change="format", labeled_examples=350, queries_per_day=2000),
    ],
)
def test_every_flip_really_flips_and_nothing_else_does(case):
    rec = recommend(case)
    for flip in rec.flips:
        assert flip["current"] == case[flip["key"]]
        assert recommend({**case, flip["key"]: flip["to"]}).method == flip["method"] != rec.method
    flipped_keys = {f["key"] for f in rec.flips}
    for key in decision.ANSWER_KEYS:  # a key with no flip listed: no single change of it flips the method
        if key in flipped_keys:
            continue
        q = next(q for q in decision.questions() if q["key"] == key)
        for option in decision._alternatives(q, case[key]):
            assert recommend({**case, key: option}).method == rec.method, (key, option)


def test_flips_name_the_smallest_change():
    rec = recommend(answers(behavior_change="task", labeled_examples=120))
    by_count = next(f for f in rec.flips if f["key"] == "labeled_examples")
    assert by_count == {
        "question": "Q4",
        "key": "labeled_examples",
        "current": 120,
        "to": 500,
        "method": "fine-tuning",
    }
    # the same 120 examples would be enough if the behavior were a format a program can check
    by_kind = next(f for f in rec.flips if f["key"] == "behavior_change")
    assert (by_kind["to"], by_kind["method"]) == ("format", "fine-tuning")


def test_a_robust_case_has_no_flips():
    rec = recommend(answers(needs_documents=True, knowledge_change="weekly", needs_citations=True))
    assert rec.method == "rag" and rec.flips == []


def test_two_assumptions_per_method_and_json_round_trip():
    for case in (BASE, answers(needs_documents=True)):
        rec = recommend(case)
        assert len(rec.assumptions) == 2
        assert json.loads(json.dumps(rec.as_dict()))["method"] == rec.method


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"knowledge_change": "hourly"}, "knowledge_change .* one of"),
        ({"labeled_examples": -1}, "labeled_examples .* between 0"),
        ({"labeled_examples": 2.5}, "labeled_examples .* whole number"),
        ({"labeled_examples": True}, "labeled_examples .* whole number"),
        ({"needs_citations": "yes"}, "needs_citations .* true or false"),
        ({"queries_per_day": "1000"}, "queries_per_day .* whole number"),
    ],
)
def test_out_of_range_values_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        recommend(answers(**bad))


def test_missing_and_unknown_keys():
    missing = dict(BASE)
    del missing["ml_experience"]
    with pytest.raises(ValueError, match="missing .*ml_experience"):
        validate_answers(missing)
    with pytest.raises(ValueError, match="unknown keys .*budget"):
        validate_answers({**BASE, "budget": 5})
    with pytest.raises(ValueError, match="mapping"):
        validate_answers(["not", "a", "mapping"])


# --- the rules are data ----------------------------------------------------------------------------------


def test_thresholds_come_from_the_rules_file(monkeypatch):
    rules = copy.deepcopy(decision.load_rules())
    rules["thresholds"]["narrow_task_examples"] = 300
    monkeypatch.setattr(decision, "load_rules", lambda path=None: rules)
    assert method(behavior_change="task", labeled_examples=300) == "fine-tuning"


def test_ask_answers_reasks_until_valid():
    replies = iter(
        ["perhaps", "yes", "sometimes", "none", "hourly", "weekly", "-3", "1,200", "no", "2000", "no", "yes"]
    )
    said = []
    result = decision.ask_answers(ask=lambda prompt: next(replies), say=said.append)
    assert result == {
        "needs_documents": True,
        "behavior_change": "none",
        "knowledge_change": "weekly",
        "labeled_examples": 1200,
        "needs_citations": False,
        "queries_per_day": 2000,
        "latency_critical": False,
        "ml_experience": True,
    }
    assert said == [
        "   answer yes or no",
        "   answer one of none, format, task",
        "   answer one of daily, weekly, monthly, quarterly, yearly, stable",
        "   answer a number between 0 and 10000000",
    ]
