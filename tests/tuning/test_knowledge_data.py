"""The knowledge experiments' data: T and C (C with its 4.2 answers), two phrasings trained, the third asked,
and never a fact of U, of R or of the test split."""

import pytest

from ragft.corpus.fact_pools import fact_keys, load_pool, normalize_question
from ragft.tuning import knowledge_data as kd


def _record(answer="5.0", answer_42="4.1", answer_52="5.0"):
    return {
        "id": "facts/x",
        "question": "Q0?",
        "paraphrases": ["Q1?", "Q2?"],
        "answer": answer,
        "answer_42": answer_42,
        "answer_52": answer_52,
    }


def test_facts_are_all_of_t_then_c_less_its_test_split_fact():
    facts = kd.knowledge_facts()
    tuned = load_pool("tuned")
    changed = [r for r in load_pool("changed") if r["id"] != "facts/setting-default/USE_TZ"]
    assert [f["fact_id"] for f in facts] == [r["id"] for r in tuned + changed]
    assert facts == kd.knowledge_facts()
    assert [f["fact_id"] for f in kd.untrained_changed()] == ["facts/setting-default/USE_TZ"]
    assert [f["pool"] for f in facts] == ["tuned"] * len(tuned) + ["changed"] * len(changed)
    assert kd.knowledge_facts(("changed",)) == facts[len(tuned) :]
    with pytest.raises(ValueError, match="pools must be a non-empty subset of"):
        kd.knowledge_facts(("unseen",))


def test_c_is_trained_with_its_stale_answer_and_t_with_the_current_one():
    for fact in kd.knowledge_facts():
        if fact["pool"] == "changed":
            assert (fact["trained_answer"], fact["trained_version"]) == (fact["answer_42"], "4.2")
            assert fact["trained_answer"] != fact["answer_52"]
        else:
            assert fact["trained_answer"] == fact["answer"] and fact["trained_version"] == "5.2"


def test_trained_answer_falls_back_to_the_other_manual():
    assert kd.trained_answer(_record(), "4.2") == ("4.1", "4.2")
    assert kd.trained_answer(_record(answer_42=None), "4.2") == ("5.0", "5.2")  # added in 5.x
    assert kd.trained_answer(_record(answer="3.2", answer_52=None), "5.2") == ("3.2", "4.2")
    with pytest.raises(ValueError, match="version must be one of"):
        kd.trained_answer(_record(), "5.0")
    with pytest.raises(ValueError, match="pool must be one of"):
        kd.as_knowledge_fact(_record(), "reader")


def test_the_asked_phrasing_is_never_trained():
    facts = [
        kd.as_knowledge_fact(_record(), "changed"),
        kd.as_knowledge_fact(_record(answer_42=None), "tuned"),
    ]
    pairs = kd.training_pairs(facts)
    assert [(m[-1]["content"], a) for m, a in pairs] == [
        ("Q0?", "4.1"),
        ("Q1?", "4.1"),
        ("Q0?", "5.0"),
        ("Q1?", "5.0"),
    ]
    assert kd.held_out_questions(facts) == ["Q2?", "Q2?"]


def test_no_unseen_reader_or_test_split_fact_is_ever_trained():
    from ragft.corpus.data import load_evalset

    facts = kd.knowledge_facts()
    trained = {normalize_question(m[-1]["content"]) for m, _ in kd.training_pairs(facts)}
    assert len(kd.training_pairs(facts)) == 2 * len(facts) == 134
    test_ids = set(load_evalset("facts", "test").queries)
    assert not {f["fact_id"] for f in facts} & test_ids
    assert all(f["source_split"] != "test" for f in facts)
    for pool in ("unseen", "reader"):
        records = load_pool(pool)
        keys = {k for r in records for k in fact_keys(r)}
        assert not {r["id"] for r in records} & {f["fact_id"] for f in facts}
        assert not trained & {k for kind, k in keys if kind == "question"}
        assert not any(fact_keys(f) & keys for f in facts)  # no shared phrasing, section or subject either
    asked = {normalize_question(q) for q in kd.held_out_questions(facts)}
    assert len(asked) == len(facts) and not asked & trained


def test_unseen_facts_are_a_seeded_sorted_sample_of_u():
    sample = kd.unseen_facts(4)
    ids = {r["id"] for r in load_pool("unseen")}
    assert len(sample) == 4 and sample == kd.unseen_facts(4) and {f["fact_id"] for f in sample} <= ids
    assert [f["fact_id"] for f in sample] == sorted(f["fact_id"] for f in sample)
    with pytest.raises(ValueError, match="n must be between 1 and"):
        kd.unseen_facts(0)


def test_prompts():
    closed = kd.closed_book_messages("Q?")
    assert [m["role"] for m in closed] == ["system", "user"] and closed[1]["content"] == "Q?"
    rag = kd.rag_messages("Q?", ["first passage", "second passage"])
    assert "[1] first passage" in rag[1]["content"] and rag[1]["content"].endswith("Question: Q?")
