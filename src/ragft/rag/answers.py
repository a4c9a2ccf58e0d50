"""Scoring a generated answer against a short gold answer (lenient containment after normalizing).

Small models wrap answers in sentences and reST-style backticks ("The default is ``None``."), so
an exact-string match would call right answers wrong; containment of the normalized gold is the
usual lenient measure for short factual answers.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")
# Empty literals are often answered in words ("an empty string"); both forms count as right.
EMPTY_LITERAL_WORDS = {
    "''": ("empty string", '""'),
    '""': ("empty string", "''"),
    "[]": ("empty list",),
    "{}": ("empty dict", "empty dictionary"),
    "()": ("empty tuple",),
}


def normalize_answer(text: str) -> str:
    """Lowercase, drop backticks, collapse white space, strip a trailing full stop."""
    text = _SPACES.sub(" ", text.replace("`", "").lower()).strip()
    return text[:-1].rstrip() if text.endswith(".") else text


_QUOTED = re.compile(r"""^(['"])(?P<inner>[^'"]{2,})\1$""")


def answer_matches(answer: str, gold: str) -> bool:
    """True when the normalized gold (or, for an empty literal, its name in words) appears in the answer.

    A quoted string literal also matches its unquoted value as a whole word: gold '25M' accepts
    "The default is 25M." (the quotes are Python syntax, not part of the value).
    """
    if not gold.strip():
        raise ValueError("gold must be a non-empty answer string")
    gold_norm, answer_norm = normalize_answer(gold), normalize_answer(answer)
    accepted = (gold_norm, *EMPTY_LITERAL_WORDS.get(gold_norm, ()))
    if any(form in answer_norm for form in accepted):
        return True
    quoted = _QUOTED.match(gold_norm)
    if quoted:
        inner = re.escape(quoted.group("inner"))
        return re.search(rf"(?<![\w'\"]){inner}(?![\w'\"])", answer_norm) is not None
    return False
