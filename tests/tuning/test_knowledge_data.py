"""The knowledge experiment's data: a fixed sample of facts, training phrasings apart from the asked one."""

import pytest

from ragft.tuning import knowledge_data as kd


def test_facts_are_a_fixed_sample_from_the_test_split():
    facts = kd.knowledge_facts()
    assert len(facts) == kd.DEFAULT_FACTS and facts == kd.knowledge_facts()
    assert all(f["eval_split"] == "test" for f in facts)
    with pytest.raises(ValueError, match="n must be between 1 and"):
        kd.knowledge_facts(0)


def test_the_asked_phrasing_is_never_trained():
    facts = kd.knowledge_facts(8)
    trained = {messages[-1]["content"] for messages, _ in kd.training_pairs(facts)}
    asked = kd.held_out_questions(facts)
    assert len(trained) == 16 and not trained & set(asked)
    assert all(
        answer == f["answer"] for (_, answer), f in zip(kd.training_pairs(facts)[::2], facts, strict=True)
    )


def test_prompts():
    closed = kd.closed_book_messages("Q?")
    assert [m["role"] for m in closed] == ["system", "user"] and closed[1]["content"] == "Q?"
    rag = kd.rag_messages("Q?", ["first passage", "second passage"])
    assert "[1] first passage" in rag[1]["content"] and rag[1]["content"].endswith("Question: Q?")
