"""The decision framework's widgets (notebook 08 and the Voilà page): controls over ragft.decision.

The widget classes only hold controls and call pure functions when a value changes (the tables and
figures of ragft.decision.tables, the HTML of ragft.widgets.decision_html), so that a test (or a notebook
under nbval) can set values in code and read the same result.
"""

from __future__ import annotations

from ragft.decision import costs
from ragft.decision.framework import ANSWER_KEYS, Recommendation, recommend
from ragft.decision.tables import cost_figure, cost_overrides, cost_table, highlighted_comparison
from ragft.widgets.decision_html import (
    group_heading_html,
    grouped_questions,
    question_label_html,
    recommendation_html,
)
from ragft.widgets.render import render

VOLUME_LOG_RANGE = (1, 5)  # the volume slider's exponents: 10 to 100,000 queries/day
CONTROL_WIDTH = "14em"  # the answer column; the question text takes the rest of the row and wraps


def _control(question: dict):
    """The input for one question: a checkbox, a dropdown or a whole-number box (none with a description
    that could truncate: the question text is an HTML label beside it)."""
    import ipywidgets as w

    layout = w.Layout(width=CONTROL_WIDTH, flex="0 0 auto")
    if question["type"] == "bool":
        control = w.Checkbox(value=False, description="yes", indent=False, layout=layout)
    elif question["type"] == "choice":
        control = w.Dropdown(options=list(question["choices"]), value=question["default"], layout=layout)
    else:
        control = w.BoundedIntText(value=0, min=question["min"], max=question["max"], layout=layout)
    control.add_class(f"ragft-answer-{question['id']}")  # a stable handle for the browser tests
    return control


def _question_row(question: dict, control):
    """The question's number and full text (wrapping), then its control, on one row."""
    import ipywidgets as w

    label = w.HTML(question_label_html(question), layout=w.Layout(flex="1 1 0", min_width="0"))
    return w.HBox([label, control], layout=w.Layout(width="100%", align_items="center", grid_gap="1em"))


class DecisionApp:
    """One control per question, grouped (knowledge, behavior, limits); the recommendation, its reasons,
    flips and the highlighted comparison table update live."""

    def __init__(self, answers: dict | None = None) -> None:
        import ipywidgets as w

        self.controls: dict[str, w.ValueWidget] = {}
        sections = []
        for title, group in grouped_questions():
            sections.append(w.HTML(group_heading_html(title, [q["id"] for q in group])))
            for q in group:
                self.controls[q["key"]] = _control(q)
                sections.append(_question_row(q, self.controls[q["key"]]))
        self.output = w.Output(layout=w.Layout(width="100%"))
        self.widget = w.VBox(
            [w.HTML("<h2>The eight questions</h2>"), *sections, self.output], layout=w.Layout(width="100%")
        )
        self.widget.add_class("ragft-decision-app")
        for control in self.controls.values():
            control.observe(lambda _change: self.refresh(), names="value")
        if answers:
            self.set_answers(answers)
        else:
            self.refresh()

    def answers(self) -> dict:
        """The answers the controls hold now."""
        return {key: self.controls[key].value for key in ANSWER_KEYS}

    def set_answers(self, answers: dict) -> None:
        """Set every control from an answers dict (validated first), then refresh once."""
        recommend(answers)  # raises a clear ValueError before any control changes
        self._quiet = True
        try:
            for key in ANSWER_KEYS:
                self.controls[key].value = answers[key]
        finally:
            self._quiet = False
        self.refresh()

    def recommendation(self) -> Recommendation:
        """The recommendation for the answers the controls hold now."""
        return recommend(self.answers())

    def refresh(self) -> None:
        """Redraw the recommendation and the table (skipped while set_answers changes the controls)."""
        if getattr(self, "_quiet", False):
            return
        from IPython.display import HTML

        rec = self.recommendation()
        render(self.output, HTML(recommendation_html(rec)), highlighted_comparison(rec))


class CostApp:
    """Sliders for volume (log scale, 10 to 100,000 queries/day), context tokens and labeling cost; the
    cost table and figures follow them."""

    def __init__(self, queries_per_day: int = 1000) -> None:
        import ipywidgets as w

        params = costs.load_cost_parameters()
        default_context = params["retrieved_chunks"]["value"] * params["chunk_tokens"]["value"]
        style = {"description_width": "initial"}  # descriptions in full, never cut off
        self.volume = w.FloatLogSlider(
            value=queries_per_day,
            base=10,
            min=VOLUME_LOG_RANGE[0],
            max=VOLUME_LOG_RANGE[1],
            step=0.01,
            description="queries/day",
            readout_format=",.0f",
            continuous_update=False,
            style=style,
        )
        self.context = w.IntSlider(
            value=int(default_context),
            min=0,
            max=8000,
            step=128,
            description="context tokens",
            continuous_update=False,
            style=style,
        )
        self.labeling = w.FloatSlider(
            value=params["cost_per_labeled_example"]["value"],
            min=0.0,
            max=50.0,
            step=0.5,
            description="USD/label",
            continuous_update=False,
            style=style,
        )
        self.output = w.Output()
        for control in (self.volume, self.context, self.labeling):
            control.observe(lambda _change: self.refresh(), names="value")
        self.volume.add_class("ragft-volume")
        sliders = w.HBox(
            [self.volume, self.context, self.labeling], layout=w.Layout(flex_flow="row wrap", width="100%")
        )
        self.widget = w.VBox([sliders, self.output], layout=w.Layout(width="100%"))
        self.widget.add_class("ragft-cost-app")
        self.refresh()

    def overrides(self) -> dict:
        """The cost-model overrides the context and labeling sliders hold now."""
        return cost_overrides(self.context.value, self.labeling.value)

    def refresh(self) -> None:
        """Redraw the cost table and figures for the sliders' values."""
        overrides = self.overrides()
        render(
            self.output, cost_table(self.volume.value, overrides), cost_figure(self.volume.value, overrides)
        )
