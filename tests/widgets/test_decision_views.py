"""ragft.widgets.decision_views: the decision and cost widgets follow their controls."""

import pytest

from ragft.decision import costs
from ragft.decision.tables import worked_cases
from ragft.widgets import decision_views as views


def test_decision_app_follows_its_controls():
    app = views.DecisionApp(worked_cases()["Legal research assistant"]["answers"])
    assert app.recommendation().method == "hybrid"
    app.controls["behavior_change"].value = "none"  # as a learner would click it
    assert app.recommendation().method == "rag"
    with pytest.raises(ValueError, match="knowledge_change"):
        app.set_answers({**app.answers(), "knowledge_change": "hourly"})
    assert app.answers()["knowledge_change"] == "weekly"  # a bad set changes nothing


def test_cost_app_overrides_follow_the_sliders():
    app = views.CostApp(queries_per_day=500)
    app.context.value = 2560
    app.labeling.value = 1.0
    chunks = costs.load_cost_parameters()["retrieved_chunks"]["value"]
    assert app.overrides() == {"chunk_tokens": 2560 / chunks, "cost_per_labeled_example": 1.0}
