"""The decision framework: the course's eight questions, evaluated from the rules in rules/decision.json.

The rules file holds the questions, thresholds, rules and assumptions; this module only evaluates
them, so an instructor can change a threshold without touching code (and the tests see the change).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("rules") / "decision.json"
METHODS = ("prompting", "rag", "fine-tuning", "hybrid")
_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
}


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> dict:
    """The questions, thresholds, rules and per-method assumptions (read once per process)."""
    return json.loads(Path(path).read_text())


def questions() -> list[dict]:
    """The eight questions, one answer key each, in the order the framework asks them."""
    return load_rules()["questions"]


def thresholds() -> dict[str, int]:
    """The numeric boundaries the rules use (e.g. few_examples: 200)."""
    return dict(load_rules()["thresholds"])


KNOWLEDGE_CHANGE = tuple(
    next(q["choices"] for q in load_rules()["questions"] if q["key"] == "knowledge_change")
)
ANSWER_KEYS = tuple(q["key"] for q in load_rules()["questions"])


@dataclass
class Recommendation:
    """What recommend() decided and why: the method, its reasons in order, what would flip it."""

    method: str
    knowledge: str | None
    behavior: str | None
    reasons: list[dict] = field(default_factory=list)
    flips: list[dict] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    summary: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def validate_answers(answers: Mapping[str, Any]) -> dict:
    """Check every key is present with an allowed value; returns a plain dict, raises ValueError."""
    if not isinstance(answers, Mapping):
        raise ValueError(
            f"answers must be a mapping of the keys {list(ANSWER_KEYS)}, got {type(answers).__name__}"
        )
    missing = [k for k in ANSWER_KEYS if k not in answers]
    if missing:
        raise ValueError(f"answers is missing {missing}; every one of {list(ANSWER_KEYS)} is required")
    unknown = sorted(set(answers) - set(ANSWER_KEYS))
    if unknown:
        raise ValueError(f"answers has unknown keys {unknown}; the keys are {list(ANSWER_KEYS)}")
    for q in questions():
        key, value = q["key"], answers[q["key"]]
        if q["type"] == "bool" and not isinstance(value, bool):
            raise ValueError(f"{key} ({q['id']}) must be true or false, got {value!r}")
        if q["type"] == "choice" and value not in q["choices"]:
            raise ValueError(f"{key} ({q['id']}) must be one of {q['choices']}, got {value!r}")
        if q["type"] == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{key} ({q['id']}) must be a whole number, got {value!r}")
            if not q["min"] <= value <= q["max"]:
                raise ValueError(f"{key} ({q['id']}) must be between {q['min']} and {q['max']}, got {value}")
    return {k: answers[k] for k in ANSWER_KEYS}


def _value(field_name: str, answers: dict, state: dict) -> Any:
    if field_name.startswith("state."):
        return state[field_name.removeprefix("state.")]
    return answers[field_name]


def _holds(condition: list, answers: dict, state: dict, limits: dict) -> bool:
    field_name, op, expected = condition
    if isinstance(expected, dict) and "threshold" in expected:
        expected = limits[expected["threshold"]]
    return _OPERATORS[op](_value(field_name, answers, state), expected)


def _method(state: dict) -> str:
    if state["knowledge"] == "rag":
        return "hybrid" if state["behavior"] == "fine-tuning" else "rag"
    return "fine-tuning" if state["behavior"] == "fine-tuning" else "prompting"


def _decide(answers: dict) -> tuple[str, dict, list[dict]]:
    """Run the rules in order; returns the method, the final state and the reasons that fired."""
    rules, limits = load_rules()["rules"], thresholds()
    state: dict[str, str | None] = {"knowledge": None, "behavior": None}
    reasons = []
    for rule in rules:
        if all(_holds(c, answers, state, limits) for c in rule["when"]):
            state.update(rule.get("set", {}))
            key = next((c[0] for c in rule["when"] if not c[0].startswith("state.")), None)
            reasons.append(
                {"question": rule["question"], "key": key, "text": rule["reason"].format(**answers, **limits)}
            )
    if state["behavior"] in ("wanted", "marginal"):  # the rules resolve both; this guards a bad rules file
        raise ValueError(f"the rules left behavior undecided ({state['behavior']}); check {RULES_FILE.name}")
    return _method(state), state, reasons


def _alternatives(question: dict, value: Any) -> list[Any]:
    """The smallest changes to one answer worth trying: the other boolean, each other choice, and the
    values just across each threshold that this answer's key is compared with."""
    if question["type"] == "bool":
        return [not value]
    if question["type"] == "choice":
        return [c for c in question["choices"] if c != value]
    limits = thresholds()
    used = {
        limits[c[2]["threshold"]]
        for rule in load_rules()["rules"]
        for c in rule["when"]
        if c[0] == question["key"] and isinstance(c[2], dict)
    }
    candidates = set()
    for t in used:
        candidates.add(t if value < t else t - 1)  # just across the boundary from where the answer is
    return sorted(c for c in candidates if c != value and question["min"] <= c <= question["max"])


def _flips(answers: dict, method: str) -> list[dict]:
    flips = []
    for q in questions():
        seen_methods = set()
        current = answers[q["key"]]
        # nearest alternatives first, so each flip names the smallest change that causes it
        options = _alternatives(q, current)
        if q["type"] == "int":
            options.sort(key=lambda v: abs(v - current))
        if q["type"] == "choice":
            order = q["choices"].index(current)
            options.sort(key=lambda c: abs(q["choices"].index(c) - order))
        for option in options:
            changed = {**answers, q["key"]: option}
            new_method = _decide(changed)[0]
            if new_method != method and new_method not in seen_methods:
                seen_methods.add(new_method)
                flips.append(
                    {
                        "question": q["id"],
                        "key": q["key"],
                        "current": current,
                        "to": option,
                        "method": new_method,
                    }
                )
    return flips


def recommend(answers: Mapping[str, Any]) -> Recommendation:
    """The method for these answers, the reasons in the framework's order, the single-answer changes
    that would flip it (and to what), and the two assumptions the recommendation rests on."""
    clean = validate_answers(answers)
    method, state, reasons = _decide(clean)
    info = load_rules()["methods"][method]
    return Recommendation(
        method=method,
        knowledge=state["knowledge"],
        behavior=state["behavior"],
        reasons=reasons,
        flips=_flips(clean, method),
        assumptions=list(info["assumptions"]),
        summary=info["summary"],
    )


def deciding_questions(recommendation: Recommendation) -> list[str]:
    """The question ids whose rules changed the decision (for highlighting rows in a table)."""
    return sorted({r["question"] for r in recommendation.reasons})


def format_recommendation(rec: Recommendation) -> str:
    """A plain-text report: the method, the reasons in order, the flips and the assumptions."""
    lines = [f"Recommendation: {rec.method.upper()}. {rec.summary}", "", "Why, in the framework's order:"]
    lines += [f"  {r['question']}: {r['text']}" for r in rec.reasons]
    lines += ["", "What would flip it (one answer changed):"]
    lines += [
        f"  {f['question']} {f['key']}: {f['current']!r} -> {f['to']!r} gives {f['method']}"
        for f in rec.flips
    ]
    if not rec.flips:
        lines.append("  no single answer changes the method")
    lines += ["", "It rests on two assumptions:"] + [f"  - {a}" for a in rec.assumptions]
    return "\n".join(lines)


def _parse(question: dict, text: str) -> Any:
    text = text.strip().lower()
    if question["type"] == "bool":
        if text in ("y", "yes", "true", "1"):
            return True
        if text in ("n", "no", "false", "0"):
            return False
        raise ValueError("answer yes or no")
    if question["type"] == "choice":
        if text not in question["choices"]:
            raise ValueError(f"answer one of {', '.join(question['choices'])}")
        return text
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError("answer a whole number") from None
    if not question["min"] <= value <= question["max"]:
        raise ValueError(f"answer a number between {question['min']} and {question['max']}")
    return value


def read_answers(path: str | Path) -> dict:
    """The answers from a JSON file (`decide --answers F.json`), with clear errors for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--answers: no such file {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"--answers: {path} is not valid JSON ({exc})") from None


def ask_answers(ask=input, say=print) -> dict:
    """Ask the questions one by one in a terminal (ask/say are injectable for tests); re-asks on bad input."""
    answers: dict[str, Any] = {}
    for q in questions():
        hint = {"bool": "yes/no", "choice": "/".join(q.get("choices", [])), "int": "a number"}[q["type"]]
        while True:
            try:
                reply = ask(f"{q['id']}. {q['text']} [{hint}] ")
            except EOFError:
                raise ValueError(
                    "the input ended before all eight questions were answered; use --answers FILE.json"
                ) from None
            try:
                answers[q["key"]] = _parse(q, reply)
                break
            except ValueError as exc:
                say(f"   {exc}")
    return answers
