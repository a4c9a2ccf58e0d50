"""lab_lora's helpers: the two-line template, its early-stop rule, and the lab's splits."""

import pytest

from ragft.labs import lab_lora as lab


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("Answer: None\nSource: [2]", 3, True),
        ("  Answer: 2.7, 3.4, or 3.5\nSource: [1]\n", 2, True),
        ("Answer: None\nSource: [4]", 3, False),
        ("Answer: None\nSource: [0]", 3, False),
        ("Answer: \nSource: [1]", 3, False),
        ("Answer: None\nSource: 1", 3, False),
        ("Answer: None\nSource: [1]\nThanks!", 3, False),
        ('{"answer": "None", "citations": [1]}', 3, False),
        ("The answer is None.", 3, False),
    ],
)
def test_template_compliant(text, n, expected):
    assert lab.template_compliant(text, n) is expected


def test_template_compliant_names_n_passages():
    with pytest.raises(ValueError, match="n_passages must be >= 1, got 0"):
        lab.template_compliant("Answer: x\nSource: [1]", 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Ans", True),
        ("Answer: No", True),
        ("Answer: None\nSour", True),
        ("Answer: None\nSource: [1", True),
        ("Answer: None\nSource: [1]", True),
        ("Answer: None\nSource: [1]\n", True),
        ("Answer: None\nSource: [1]\nMore", False),
        ("The", False),
        ("Answer: None\nThe source", False),
    ],
)
def test_template_can_still_comply(text, expected):
    assert lab.template_can_still_comply(text) is expected


def test_template_compliance_rate_and_argument_check():
    records = [{"passages": ["a", "b"]}] * 2
    assert lab.template_compliance(["Answer: x\nSource: [1]", "x"], records) == 0.5
    with pytest.raises(ValueError, match="must be equally many"):
        lab.template_compliance(["x"], records)


def test_lab_splits_are_disjoint_sized_and_leave_the_grading_split_out():
    splits = lab.lab_splits()
    assert set(splits) == {"train", "dev"} and len(splits["train"]) == lab.LAB_TRAIN_EXAMPLES
    facts = {name: {r["fact_id"] for r in records} for name, records in splits.items()}
    facts["hidden"] = {r["fact_id"] for r in lab.hidden_records()}
    assert facts["hidden"] and not facts["train"] & facts["dev"] and not facts["train"] & facts["hidden"]
    assert not facts["dev"] & facts["hidden"]
