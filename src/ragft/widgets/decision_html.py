"""HTML for the decision tool's page: question labels, groups and the recommendation, as pure functions.

The widgets in ragft.widgets.decision_views only place these strings in HTML widgets and outputs, so a
test reads the same markup the page shows. Text wraps at spaces only (never inside a word), so a long
question or reason stays readable on a projector at any width.
"""

from __future__ import annotations

from html import escape

from ragft.decision.framework import Recommendation, questions

# How the page groups the eight questions (presentation only: the rules file keeps their order).
QUESTION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Knowledge: what the model must know", ("Q1", "Q3", "Q5")),
    ("Behavior: how the model must answer", ("Q2", "Q4")),
    ("Limits: volume, latency and the team", ("Q6", "Q7", "Q8")),
)
WRAP = "white-space: normal; overflow-wrap: break-word; word-break: normal; hyphens: none"


def grouped_questions() -> list[tuple[str, list[dict]]]:
    """The questions of the rules file in QUESTION_GROUPS' order: [(group title, [question, ...])].

    Raises ValueError when the groups and the rules file disagree (a question left out or named twice).
    """
    by_id = {q["id"]: q for q in questions()}
    named = [qid for _title, ids in QUESTION_GROUPS for qid in ids]
    if sorted(named) != sorted(by_id):
        raise ValueError(f"QUESTION_GROUPS names {sorted(named)}; the rules file has {sorted(by_id)}")
    return [(title, [by_id[qid] for qid in ids]) for title, ids in QUESTION_GROUPS]


def group_heading_html(title: str, question_ids: list[str] | tuple[str, ...]) -> str:
    """A group's heading, naming the questions it holds: 'Knowledge: ... (Q1, Q3, Q5)'."""
    return (
        f'<h3 class="ragft-group" style="margin: 0.8em 0 0.2em 0; {WRAP}">'
        f"{escape(title)} <small>({', '.join(question_ids)})</small></h3>"
    )


def question_label_html(question: dict) -> str:
    """A question's number in bold and its full text, wrapping between words (never cut off)."""
    return (
        f'<div class="ragft-question" style="{WRAP}; line-height: 1.4">'
        f"<b>{escape(question['id'])}.</b> {escape(question['text'])}</div>"
    )


def _answer(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def flip_html(flip: dict) -> str:
    """One flip as a sentence: 'Q2 (behavior_change): task → none gives RAG'."""
    return (
        f"<b>{escape(flip['question'])}</b> ({escape(flip['key'])}): "
        f"{escape(_answer(flip['current']))} &rarr; {escape(_answer(flip['to']))} "
        f"gives <b>{escape(flip['method'].upper())}</b>"
    )


def recommendation_html(rec: Recommendation) -> str:
    """The recommendation as formatted HTML: the method as a heading, its summary, the reasons in the
    framework's order as a list, the flips and the assumptions."""
    reasons = "".join(f"<li><b>{escape(r['question'])}</b>: {escape(r['text'])}</li>" for r in rec.reasons)
    if rec.flips:
        flips = "<ul>" + "".join(f"<li>{flip_html(f)}</li>" for f in rec.flips) + "</ul>"
    else:
        flips = "<p>No single answer changes the method.</p>"
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in rec.assumptions)
    return (
        f'<div class="ragft-recommendation" style="{WRAP}; line-height: 1.45; max-width: 100%">'
        f'<h2 class="ragft-method" style="margin: 0.4em 0">Recommendation: {escape(rec.method.upper())}</h2>'
        f"<p>{escape(rec.summary)}</p>"
        f'<h4>Why, in the framework\'s order</h4><ol class="ragft-reasons">{reasons}</ol>'
        f'<h4>What would flip it (one answer changed)</h4><div class="ragft-flips">{flips}</div>'
        f'<h4>It rests on these assumptions</h4><ul class="ragft-assumptions">{assumptions}</ul>'
        "</div>"
    )
