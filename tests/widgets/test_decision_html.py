"""ragft.widgets.decision_html: the decision tool's question labels, groups and recommendation as HTML."""

import re

import pytest

from ragft.decision.framework import questions, recommend
from ragft.decision.tables import worked_cases
from ragft.widgets import decision_html as html


def test_groups_hold_each_question_once_in_the_workshop_order():
    groups = html.grouped_questions()
    assert [[q["id"] for q in qs] for _title, qs in groups] == [
        ["Q1", "Q3", "Q5"],
        ["Q2", "Q4"],
        ["Q6", "Q7", "Q8"],
    ]
    assert [title.split(":")[0] for title, _qs in groups] == ["Knowledge", "Behavior", "Limits"]


def test_groups_that_disagree_with_the_rules_file_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(html, "QUESTION_GROUPS", (("Knowledge", ("Q1", "Q3")),))
    with pytest.raises(ValueError, match="Q2"):
        html.grouped_questions()


def test_a_question_label_shows_its_number_and_full_text_escaped_and_wrapping():
    q2 = next(q for q in questions() if q["id"] == "Q2")
    label = html.question_label_html(q2)
    assert label.count("<b>Q2.</b>") == 1
    assert "a citation style), the content unchanged" in label  # the whole text, nothing cut
    assert "white-space: normal" in label and "word-break: normal" in label
    assert "<" not in html.question_label_html({"id": "Q9", "text": "a <b> tag"}).split("</b>", 1)[1][:12]


def test_group_heading_names_its_questions():
    heading = html.group_heading_html("Limits: volume, latency and the team", ("Q6", "Q7", "Q8"))
    assert heading.startswith("<h3") and "(Q6, Q7, Q8)" in heading


def test_recommendation_html_has_the_method_heading_reasons_flips_and_assumptions():
    rec = recommend(worked_cases()["Legal research assistant"]["answers"])
    page = html.recommendation_html(rec)
    assert re.search(r"<h2[^>]*>Recommendation: HYBRID</h2>", page)
    reasons = re.search(r'<ol class="ragft-reasons">(.*?)</ol>', page).group(1)
    assert reasons.count("<li>") == len(rec.reasons) and reasons.index("Q1") < reasons.index("Result")
    flips = re.search(r'<div class="ragft-flips">(.*?)</div>', page).group(1)
    assert flips.count("<li>") == len(rec.flips) == 2
    assert "<b>Q4</b> (labeled_examples): 2,000 &rarr; 499 gives <b>RAG</b>" in flips
    assumptions = re.search(r'<ul class="ragft-assumptions">(.*?)</ul>', page).group(1)
    assert assumptions.count("<li>") == len(rec.assumptions)
    assert "word-break: normal" in page and "break-all" not in page  # wraps between words only


def test_recommendation_html_says_when_no_single_answer_flips_it_and_escapes_text():
    rec = recommend(worked_cases()["Product-catalog support bot"]["answers"])
    assert rec.flips == []
    page = html.recommendation_html(rec)
    assert "No single answer changes the method." in page and "<ul></ul>" not in page
    rec.summary = "a <script> summary"
    assert "&lt;script&gt;" in html.recommendation_html(rec)


def test_flip_html_names_answers_in_words():
    flip = {"question": "Q1", "key": "needs_documents", "current": False, "to": True, "method": "rag"}
    assert html.flip_html(flip) == "<b>Q1</b> (needs_documents): no &rarr; yes gives <b>RAG</b>"
