"""The decision framework's widgets (notebook 08 and the Voilà page): controls over ragft.decision.

The widget classes only hold controls and call the pure functions of ragft.decision.tables when a
value changes, so that a test (or a notebook under nbval) can set values in code and read the same result.
"""

from __future__ import annotations

from ragft.decision import costs
from ragft.decision.framework import (
    ANSWER_KEYS,
    Recommendation,
    format_recommendation,
    questions,
    recommend,
)
from ragft.decision.tables import cost_figure, cost_overrides, cost_table, highlighted_comparison
from ragft.widgets.render import render


class DecisionApp:
    """One control per question; the recommendation, reasons, flips and highlighted table update live."""

    def __init__(self, answers: dict | None = None) -> None:
        import ipywidgets as w

        self.controls: dict[str, w.ValueWidget] = {}
        for q in questions():
            label = f"{q['id']}. {q['text']}"
            style, layout = {"description_width": "0px"}, w.Layout(width="auto")
            if q["type"] == "bool":
                control = w.Checkbox(value=False, description=label, indent=False, layout=layout)
            elif q["type"] == "choice":
                control = w.Dropdown(
                    options=list(q["choices"]), value=q["default"], description="", style=style
                )
            else:
                control = w.BoundedIntText(value=0, min=q["min"], max=q["max"], description="", style=style)
            self.controls[q["key"]] = control
        self.output = w.Output()
        rows = [
            c if isinstance(c, w.Checkbox) else w.HBox([w.Label(f"{q['id']}. {q['text']}"), c])
            for q, c in zip(questions(), self.controls.values(), strict=True)
        ]
        self.widget = w.VBox([w.HTML("<b>The eight questions</b>"), *rows, self.output])
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
        return recommend(self.answers())

    def refresh(self) -> None:
        if getattr(self, "_quiet", False):
            return
        rec = self.recommendation()
        render(self.output, format_recommendation(rec), highlighted_comparison(rec))


class CostApp:
    """Sliders for volume, context tokens and labeling cost; the cost table and figures follow them."""

    def __init__(self, queries_per_day: int = 1000) -> None:
        import ipywidgets as w

        params = costs.load_cost_parameters()
        default_context = params["retrieved_chunks"]["value"] * params["chunk_tokens"]["value"]
        self.volume = w.IntSlider(
            value=queries_per_day,
            min=10,
            max=100_000,
            step=10,
            description="queries/day",
            continuous_update=False,
        )
        self.context = w.IntSlider(
            value=int(default_context),
            min=0,
            max=8000,
            step=128,
            description="context tokens",
            continuous_update=False,
        )
        self.labeling = w.FloatSlider(
            value=params["cost_per_labeled_example"]["value"],
            min=0.0,
            max=50.0,
            step=0.5,
            description="USD/label",
            continuous_update=False,
        )
        self.output = w.Output()
        for control in (self.volume, self.context, self.labeling):
            control.observe(lambda _change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.volume, self.context, self.labeling]), self.output])
        self.refresh()

    def overrides(self) -> dict:
        return cost_overrides(self.context.value, self.labeling.value)

    def refresh(self) -> None:
        overrides = self.overrides()
        render(
            self.output, cost_table(self.volume.value, overrides), cost_figure(self.volume.value, overrides)
        )
