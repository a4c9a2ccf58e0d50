"""Helpers for lab_lora: a second target format, its compliance check, and the lab's splits and limits.

The lab's format is a fixed two-line template instead of JSON:

    Answer: <short answer>
    Source: [<number of the passage used>]

The records are the behavior dataset's (ragft.tuning.behavior_data); the lab trains on part of its train
split, checks itself on the dev split, and is graded on the test split, which the lab notebook never shows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from ragft.tuning import behavior_data as bd

STEP_BUDGET = 16  # optimizer steps a submission may train
LAB_TRAIN_EXAMPLES = 96
COMPLIANCE_THRESHOLD = 0.8  # on the hidden split
FRACTION_BOUNDS = (0.0005, 0.02)  # trainable share of all parameters
LEARNING_RATE_BOUNDS = (2e-4, 5e-3)
ALPHA_OVER_RANK_BOUNDS = (0.5, 4.0)
INSTRUCTION = (
    "Answer the question using only the numbered passages. Reply in exactly two lines:\n"
    "Answer: <short answer>\nSource: [<number of the passage you used>]"
)
_TEMPLATE = re.compile(r"Answer: (?P<answer>[^\n]*\S[^\n]*)\nSource: \[(?P<source>\d+)\]")


def lab_splits(seed: int = 0) -> dict[str, list[dict]]:
    """The records a learner works with: "train" (a seeded sample of LAB_TRAIN_EXAMPLES records of the
    train split, in the dataset's order, so every kind of fact is in it) and "dev" (for checking their own
    model). The grading split is not among them: see hidden_records."""
    split = bd.by_split(bd.build_records(seed=seed))
    chosen = sorted(random.Random(seed).sample(range(len(split["train"])), LAB_TRAIN_EXAMPLES))
    return {"train": [split["train"][i] for i in chosen], "dev": split["dev"]}


def hidden_records(seed: int = 0) -> list[dict]:
    """The records the grader measures compliance on (the behavior data's test split); the lab notebook
    never loads them, so a learner cannot tune on or against them by accident."""
    return bd.by_split(bd.build_records(seed=seed))["test"]


def lab_messages(record: dict) -> list[dict]:
    """The prompt for the lab's format: its own instruction, then the same passages and question."""
    return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": bd.user_message(record)}]


def template_compliant(text: str, n_passages: int) -> bool:
    """True when text is exactly the two-line template with a source between 1 and n_passages."""
    if n_passages < 1:
        raise ValueError(f"n_passages must be >= 1, got {n_passages}")
    match = _TEMPLATE.fullmatch(text.strip())
    return bool(match) and 1 <= int(match["source"]) <= n_passages


def template_can_still_comply(text: str) -> bool:
    """False once a partial output has left the template (generation stops there)."""
    stripped = text.lstrip()
    head = "Answer: "
    if len(stripped) < len(head):
        return head.startswith(stripped)
    if not stripped.startswith(head):
        return False
    lines = stripped.split("\n")
    if len(lines) > 2:
        return not "".join(lines[2:]).strip()
    if len(lines) == 2:
        second = lines[1]
        return "Source: [".startswith(second) or bool(re.fullmatch(r"Source: \[\d*\]?\s*", second))
    return True


def template_compliance(outputs: Sequence[str], records: Sequence[dict]) -> float:
    """Share of outputs that follow the template (with a source in range)."""
    if len(outputs) != len(records) or not records:
        raise ValueError(f"outputs ({len(outputs)}) and records ({len(records)}) must be equally many, > 0")
    return sum(
        template_compliant(o, len(r["passages"])) for o, r in zip(outputs, records, strict=True)
    ) / len(records)


def generate_template(model, tokenizer, records: Sequence[dict], max_new_tokens: int = 40) -> list[str]:
    """Greedy outputs for records in the lab's format, batched with left padding (no progress bar: a few
    seconds per batch of 8)."""
    from ragft.runtime.batchgen import generate_batch

    return generate_batch(
        model,
        tokenizer,
        [lab_messages(r) for r in records],
        max_new_tokens,
        batch_size=8,
        keep_going=template_can_still_comply,
        progress=False,
    )
