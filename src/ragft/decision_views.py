"""Tables, figures and widgets for the decision framework (notebook 08 and the Voilà page).

Everything a widget shows comes from a pure function here or in ragft.decision / ragft.costs;
the widget classes only hold controls and call those functions when a value changes, so that
a test (or a notebook under nbval) can set values in code and read the same result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ragft import costs
from ragft.decision import (
    ANSWER_KEYS,
    KNOWLEDGE_CHANGE,
    METHODS,
    Recommendation,
    deciding_questions,
    format_recommendation,
    questions,
    recommend,
)

RULES_DIR = Path(__file__).with_name("rules")
HIGHLIGHT = "background-color: #fde9b6"
VOLUME_RANGE = (10, 1_000_000)


def _rules(name: str) -> dict:
    return json.loads((RULES_DIR / name).read_text())


def comparison_table() -> pd.DataFrame:
    """RAG / fine-tuning / hybrid along the brief's dimensions, with the questions each bears on."""
    rows = _rules("comparison.json")["rows"]
    table = pd.DataFrame(rows).set_index("dimension")
    table["questions"] = table["questions"].map(", ".join)
    return table


def highlighted_comparison(rec: Recommendation):
    """The comparison table with the rows that bear on the questions that decided this case highlighted."""
    decided = set(deciding_questions(rec))
    table = comparison_table()

    def shade(row):
        hit = decided & set(row["questions"].split(", "))
        return [HIGHLIGHT if hit else ""] * len(row)

    return table.style.set_uuid("comparison").apply(shade, axis=1)  # fixed id: same HTML every run


def mistakes_table() -> pd.DataFrame:
    """The common mistakes with their symptom, correction and the question that prevents each."""
    return pd.DataFrame(_rules("mistakes.json")["rows"]).set_index("mistake")


def worked_cases() -> dict[str, dict]:
    """The worked cases: name -> {"story", "answers"}."""
    return _rules("cases.json")["cases"]


def cases_table() -> pd.DataFrame:
    """Each worked case run through recommend(): its method, the deciding questions and its flips."""
    rows = []
    for name, case in worked_cases().items():
        rec = recommend(case["answers"])
        flips = "; ".join(f"{f['key']} -> {f['to']!r}: {f['method']}" for f in rec.flips) or "none"
        rows.append(
            {
                "case": name,
                "method": rec.method,
                "deciding questions": ", ".join(deciding_questions(rec)),
                "what would flip it": flips,
            }
        )
    return pd.DataFrame(rows).set_index("case")


def cost_overrides(
    context_tokens: float | None = None, cost_per_labeled_example: float | None = None
) -> dict:
    """Cost-model overrides from the calculator's sliders (context tokens are spread over the k chunks)."""
    overrides = {}
    if context_tokens is not None:
        if context_tokens < 0:
            raise ValueError(f"context_tokens must be >= 0, got {context_tokens}")
        chunks = costs.load_cost_parameters()["retrieved_chunks"]["value"]
        overrides["chunk_tokens"] = context_tokens / chunks
    if cost_per_labeled_example is not None:
        overrides["cost_per_labeled_example"] = cost_per_labeled_example
    return overrides


def cost_table(queries_per_day: float, overrides: dict | None = None) -> pd.DataFrame:
    """12-month cost per method and component (USD), plus the steady-state monthly cost."""
    table = pd.DataFrame(
        {m: costs.cost_breakdown(m, queries_per_day, overrides=overrides) for m in METHODS}
    ).T
    table["monthly (steady state)"] = [
        costs.monthly_cost(m, queries_per_day, overrides=overrides) for m in METHODS
    ]
    return table.round(0)


def cost_figure(queries_per_day: float, overrides: dict | None = None):
    """Left: the 12-month cost of each method by component. Right: 12-month totals against volume,
    with the RAG / fine-tuning break-even marked."""
    import numpy as np
    from matplotlib.figure import Figure

    table = cost_table(queries_per_day, overrides).drop(columns=["total", "monthly (steady state)"])
    fig = Figure(figsize=(12, 4.2))  # no pyplot state: safe inside widget callbacks and Voila
    left, right = fig.subplots(1, 2)
    table.plot.barh(stacked=True, ax=left, colormap="tab20c")
    left.set_title(f"12-month cost at {queries_per_day:,.0f} queries/day")
    left.set_xlabel("USD over 12 months")
    left.set_ylabel("method")
    left.legend(fontsize=7, loc="lower right")

    volumes = np.logspace(np.log10(VOLUME_RANGE[0]), np.log10(VOLUME_RANGE[1]), 60)
    for method in METHODS:
        right.plot(
            volumes,
            [costs.cost_breakdown(method, v, overrides=overrides)["total"] for v in volumes],
            label=method,
        )
    even = costs.break_even_queries_per_day(overrides=overrides)
    if even is not None and VOLUME_RANGE[0] <= even <= VOLUME_RANGE[1]:
        right.axvline(even, color="grey", linestyle="--", label=f"RAG = fine-tuning at {even:,.0f}/day")
    right.axvline(queries_per_day, color="black", linewidth=0.8, label="your volume")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_title("12-month total cost against volume")
    right.set_xlabel("queries per day (log scale)")
    right.set_ylabel("USD over 12 months (log scale)")
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


def ladder_figure(queries_per_day: float, overrides: dict | None = None, accuracies: dict | None = None):
    """The cost-accuracy ladder: each rung's 12-month cost, annotated with its measured accuracy where
    the course has measured one (accuracies: method -> fraction) and 'not measured yet' elsewhere."""
    from matplotlib.figure import Figure

    accuracies = accuracies or {}
    rungs = costs.ladder_costs(queries_per_day, overrides=overrides)
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    names = [f"{r['rung']}. {r['method']}" for r in rungs]
    totals = [r["total_12_months"] for r in rungs]
    bars = ax.bar(names, totals, color=["#9ab", "#579", "#357", "#135"])
    for bar, rung in zip(bars, rungs, strict=True):
        value = accuracies.get(rung["method"])
        label = f"accuracy {value:.0%}" if value is not None else "accuracy: not measured yet"
        ax.annotate(
            label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_ylim(0, max(totals) * 1.15)  # room for the labels above the bars
    ax.set_title(f"The cost-accuracy ladder at {queries_per_day:,.0f} queries/day")
    ax.set_xlabel("rung (climb only when evaluation data says so)")
    ax.set_ylabel("USD over 12 months")
    fig.tight_layout()
    return fig


def _render(output, *items) -> None:
    """Replace an Output widget's content in one step: text becomes stdout, anything else a rich display.

    Setting `outputs` syncs as widget state. The alternative, `with output: print(...)`, routes kernel
    messages to the widget by id; Voila's executor sometimes misses one of those and never finishes
    the page (seen here in about 1 load in 20).
    """
    from IPython.core.interactiveshell import InteractiveShell

    formatter = InteractiveShell.instance().display_formatter
    rendered = []
    for item in items:
        if isinstance(item, str):
            rendered.append({"output_type": "stream", "name": "stdout", "text": item + "\n"})
        else:
            data, metadata = formatter.format(item)
            rendered.append({"output_type": "display_data", "data": data, "metadata": metadata})
    output.outputs = tuple(rendered)


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
                    options=list(KNOWLEDGE_CHANGE), value="stable", description="", style=style
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
        _render(self.output, format_recommendation(rec), highlighted_comparison(rec))


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
        _render(
            self.output, cost_table(self.volume.value, overrides), cost_figure(self.volume.value, overrides)
        )
