"""The behavior dataset: built from synthetic facts (fast), validated, split without leakage."""

import json

import pytest

from ragft.tuning import behavior_data as bd


def _facts(n=60):
    kinds = ("setting_default", "version_added")
    return [
        {
            "fact_id": f"facts/f{i:02d}",
            "kind": kinds[i % 2],
            "answer": f"value{i}",
            "questions": [f"What is fact {i}?", f"Tell me fact {i}.", f"Fact {i} is what?"],
            "section": f".. setting:: S{i}\n\nDefault: ``value{i}``\n\n" + "Some words here. " * 20,
            "eval_split": "dev",
        }
        for i in range(n)
    ]


def test_passage_window_keeps_the_answer_and_marks_cuts():
    text = "intro " * 50 + "Default: ``value7`` and more " + "tail " * 50
    window = bd.passage_window(text, "value7", chars=80)
    assert "value7" in window and window.startswith("... ") and window.endswith(" ...")
    assert bd.passage_window("Short: ``x``", "x") == "Short: ``x``"
    with pytest.raises(ValueError, match="chars must be >= 40, got 10"):
        bd.passage_window(text, "x", chars=10)


def test_records_split_by_fact_with_all_phrasings_in_train_and_one_held_out():
    records = bd.build_records(_facts(), split_facts_n={"dev": 4, "test": 6})
    counts = bd.validate(records)["counts"]
    assert counts == {"train": 50 * 3, "dev": 4, "test": 6}
    for r in records:
        assert bd.MIN_PASSAGES <= len(r["passages"]) <= bd.MAX_PASSAGES
        assert r["answer"] in r["passages"][r["citations"][0] - 1]
    assert bd.validate(records)["ok"]


def test_records_are_deterministic_for_a_seed_and_differ_across_seeds():
    first, again = bd.build_records(_facts(), seed=3), bd.build_records(_facts(), seed=3)
    assert first == again
    assert bd.dataset_fingerprint(first) != bd.dataset_fingerprint(bd.build_records(_facts(), seed=4))


def test_gold_position_varies():
    records = bd.build_records(_facts(60), split_facts_n={"dev": 0, "test": 0})
    assert len({r["citations"][0] for r in records}) == bd.MAX_PASSAGES


def test_target_and_prompts():
    record = bd.build_records(_facts())[0]
    assert json.loads(bd.target_text(record)) == {
        "answer": record["answer"],
        "citations": record["citations"],
    }
    msgs = bd.messages(record)
    assert [m["role"] for m in msgs] == ["system", "user"] and msgs[0]["content"] == bd.INSTRUCTION
    assert "[1] " in msgs[1]["content"] and record["question"] in msgs[1]["content"]
    shots = bd.few_shot_messages(record, [record, record])
    assert [m["role"] for m in shots] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert shots[2]["content"] == bd.target_text(record)


def test_validator_catches_each_kind_of_problem():
    records = bd.build_records(_facts(), split_facts_n={"dev": 4, "test": 6})
    train = [r for r in records if r["split"] == "train"]
    test = [r for r in records if r["split"] == "test"]
    broken = [
        {**train[0], "citations": [len(train[0]["passages"]) + 1]},  # schema: out of range
        {**train[1], "citations": [1 + train[1]["citations"][0] % len(train[1]["passages"])]},  # label
        {**train[2], "answer": "other"},  # one fact, two answers (and the passage lacks it)
        dict(train[3]),  # a duplicate prompt
        {**train[4], "id": "leak", "split": "test"},  # a training fact in the test split
        {**test[0], "passages": ["only one"], "citations": [1]},  # schema: too few passages
    ]
    problems = bd.validate(records + broken)["problems"]
    for kind in ("schema:", "label:", "duplicate:", "leakage:"):
        assert any(p.startswith(kind) for p in problems), (kind, problems)
    assert any("different answers" in p for p in problems)
    assert bd.validate([{"id": "x"}])["problems"][0].startswith("schema: x lacks")


def test_split_sizes_are_validated():
    with pytest.raises(ValueError, match="split_facts_n asks for 60 held-out facts of 60"):
        bd.split_facts(_facts(), {"dev": 30, "test": 30})
    with pytest.raises(ValueError, match="split_facts_n must map"):
        bd.split_facts(_facts(), {"train": 3})
    with pytest.raises(ValueError, match="train_phrasings must be between 1 and 3, got 4"):
        bd.build_records(_facts(), train_phrasings=4)


def test_committed_dataset_has_500_examples_and_passes_the_validator():
    records = bd.build_records()
    report = bd.validate(records)
    assert report["ok"], report["problems"][:5]
    assert len(records) >= 500
    assert report["counts"]["test"] == bd.DEFAULT_SPLIT_FACTS["test"]


def test_passage_contains_is_literal_and_independent_of_the_scorer():
    assert bd.passage_contains("Default: ``None``.", "None")
    assert bd.passage_contains("Default: ``''`` (Empty string)", "''")
    assert bd.passage_contains("Default: an empty string", "''")
    # reST markup inside the value: the literal answer is not there, so the passage cannot be cited for it
    assert not bd.passage_contains("Default: ``'``:class:`a.B`\\ ``'``", "'a.B'")
    with pytest.raises(ValueError, match="answer must be a non-empty string"):
        bd.passage_contains("text", " ")


def test_the_dataset_is_the_one_the_committed_adapter_was_trained_on():
    import json

    from ragft.tuning.experiments import adapters_dir

    record = json.loads((adapters_dir() / "behavior" / "training.json").read_text())
    assert record["dataset"]["fingerprint"] == bd.dataset_fingerprint(bd.build_records())
