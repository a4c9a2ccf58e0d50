"""Format compliance for the behavior task: is an output one JSON object in the schema, citing real passages?

Three checks, each stricter than the last: valid JSON (the whole output parses, nothing around it), schema
(exactly the keys "answer", a non-empty string, and "citations", a non-empty list of whole numbers), and
citations in range (each between 1 and the number of passages shown). An output is compliant when it passes
all three. Whether the answer is *right* is a separate measure (answer_correct), not part of compliance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from ragft.rag.answers import answer_matches

CHECKS = ("valid_json", "schema", "citations_in_range")


class Compliance(NamedTuple):
    """One output's checks, and the first one it failed (reason), or "ok"."""

    valid_json: bool
    schema: bool
    citations_in_range: bool
    reason: str

    @property
    def compliant(self) -> bool:
        return self.valid_json and self.schema and self.citations_in_range


def check_output(text: str, n_passages: int) -> Compliance:
    """Run the three checks on one output for a prompt that showed n_passages numbered passages."""
    if n_passages < 1:
        raise ValueError(f"n_passages must be >= 1, got {n_passages}")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return Compliance(False, False, False, "not valid JSON")
    if not isinstance(data, dict) or set(data) != {"answer", "citations"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        return Compliance(True, False, False, f"schema: keys {keys}, expected ['answer', 'citations']")
    answer, cites = data["answer"], data["citations"]
    if not isinstance(answer, str) or not answer.strip():
        return Compliance(True, False, False, "schema: answer is not a non-empty string")
    if not isinstance(cites, list) or not cites or not all(type(c) is int for c in cites):
        return Compliance(True, False, False, "schema: citations is not a non-empty list of whole numbers")
    if not all(1 <= c <= n_passages for c in cites):
        return Compliance(True, True, False, f"citations {cites} outside 1..{n_passages}")
    return Compliance(True, True, True, "ok")


def can_still_comply(text: str) -> bool:
    """False once a partial output can no longer become compliant: it starts with anything but "{", or
    text follows the closed object. Generation stops there (the verdict cannot change, and it saves time)."""
    stripped = text.lstrip()
    if not stripped:
        return True
    if stripped[0] != "{":
        return False
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(stripped):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return not stripped[i + 1 :].strip()
    return True


def answer_correct(text: str, gold: str) -> bool:
    """Whether a compliant output's "answer" matches the gold (lenient containment: ragft.rag.answers)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return False
    return (
        isinstance(data, dict)
        and isinstance(data.get("answer"), str)
        and answer_matches(data["answer"], gold)
    )


def citation_correct(text: str, gold_citations: Sequence[int]) -> bool:
    """Whether a compliant output cites exactly the gold passage(s)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(data, dict) and data.get("citations") == list(gold_citations)


def score_outputs(outputs: Sequence[str], records: Sequence[dict]) -> dict:
    """Rates over a set of outputs for behavior records: each check, compliance, and (as a side measure)
    correct answers and correct citations. Also the reasons of the failures, counted."""
    if len(outputs) != len(records):
        raise ValueError(f"outputs has {len(outputs)} entries but records has {len(records)}")
    if not records:
        raise ValueError("records must not be empty")
    checks = [check_output(o, len(r["passages"])) for o, r in zip(outputs, records, strict=True)]
    n = len(records)
    reasons: dict[str, int] = {}
    for c in checks:
        if not c.compliant:
            key = c.reason.split(":")[0] if c.reason.startswith("schema") else c.reason.split(" [")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return {
        "n": n,
        "compliance": sum(c.compliant for c in checks) / n,
        **{name: sum(getattr(c, name) for c in checks) / n for name in CHECKS},
        "answer_correct": sum(answer_correct(o, r["answer"]) for o, r in zip(outputs, records, strict=True))
        / n,
        "citation_correct": sum(
            citation_correct(o, r["citations"]) for o, r in zip(outputs, records, strict=True)
        )
        / n,
        "failure_reasons": dict(sorted(reasons.items())),
    }
