"""ragft.widgets.decision_views: the decision and cost widgets follow their controls."""

import pytest

from ragft.decision import costs
from ragft.decision.tables import cost_table, worked_cases
from ragft.widgets import decision_views as views


def test_decision_app_follows_its_controls():
    app = views.DecisionApp(worked_cases()["Legal research assistant"]["answers"])
    assert app.recommendation().method == "hybrid"
    app.controls["behavior_change"].value = "none"  # as a learner would click it
    assert app.recommendation().method == "rag"
    with pytest.raises(ValueError, match="knowledge_change"):
        app.set_answers({**app.answers(), "knowledge_change": "hourly"})
    assert app.answers()["knowledge_change"] == "weekly"  # a bad set changes nothing


def test_decision_app_shows_grouped_questions_with_full_labels_and_html_output():
    app = views.DecisionApp()
    texts = [child.value for child in app.widget.children if hasattr(child, "value")]
    headings = [t for t in texts if t.startswith("<h3")]
    assert [h.split(">", 1)[1].split(":")[0] for h in headings] == ["Knowledge", "Behavior", "Limits"]
    rows = [c for c in app.widget.children if c.__class__.__name__ == "HBox"]
    labels = [row.children[0].value for row in rows]
    assert [label.split("<b>")[1].split(".")[0] for label in labels] == [
        "Q1",
        "Q3",
        "Q5",
        "Q2",
        "Q4",
        "Q6",
        "Q7",
        "Q8",
    ]
    assert all(getattr(row.children[1], "description", "") in ("", "yes") for row in rows)  # nothing cut
    html = app.output.outputs[0]["data"]["text/html"]
    assert "Recommendation: PROMPTING</h2>" in html
    app.controls["needs_documents"].value = True
    assert "Recommendation: RAG</h2>" in app.output.outputs[0]["data"]["text/html"]
    assert "T_comparison_q1_" in app.output.outputs[1]["data"]["text/html"]


def test_cost_app_overrides_follow_the_sliders():
    app = views.CostApp(queries_per_day=500)
    app.context.value = 2560
    app.labeling.value = 1.0
    chunks = costs.load_cost_parameters()["retrieved_chunks"]["value"]
    assert app.overrides() == {"chunk_tokens": 2560 / chunks, "cost_per_labeled_example": 1.0}


def test_cost_app_volume_is_a_log_slider_from_ten_to_a_hundred_thousand():
    app = views.CostApp(queries_per_day=1000)
    assert app.volume.__class__.__name__ == "FloatLogSlider"
    assert (app.volume.base**app.volume.min, app.volume.base**app.volume.max) == (10, 100_000)
    assert app.volume.value == pytest.approx(1000)
    app.volume.value = 50_000
    table = app.output.outputs[0]["data"]["text/plain"]
    assert table == repr(cost_table(50_000, app.overrides())) != repr(cost_table(1000, app.overrides()))
