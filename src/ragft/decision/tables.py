"""Tables and figures of the decision framework: the comparison, the mistakes, the worked cases, costs.

Pure functions of the rules in rules/ and of ragft.decision.framework / ragft.decision.costs; the
widgets (ragft.widgets.decision_views) only call them, so a test or a notebook gets the same result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ragft.decision import costs
from ragft.decision.framework import (
    METHODS,
    Recommendation,
    deciding_questions,
    recommend,
)

RULES_DIR = Path(__file__).with_name("rules")
HIGHLIGHT = "background-color: #fde9b6"
# Long cells wrap between words inside the output area instead of widening the table past it.
WRAPPED_CELLS = [
    {"selector": "", "props": "max-width: 100%; table-layout: auto;"},
    {
        "selector": "th, td",
        "props": "white-space: normal; overflow-wrap: break-word; word-break: normal; "
        "text-align: left; vertical-align: top; max-width: 28em;",
    },
]
VOLUME_RANGE = (10, 1_000_000)


def _rules(name: str) -> dict:
    return json.loads((RULES_DIR / name).read_text())


def comparison_table() -> pd.DataFrame:
    """RAG / fine-tuning / hybrid along the brief's dimensions, with the questions each bears on."""
    rows = _rules("comparison.json")["rows"]
    table = pd.DataFrame(rows).set_index("dimension")
    table["questions"] = table["questions"].map(", ".join)
    return table


def comparison_uuid(rec: Recommendation) -> str:
    """The CSS id of a highlighted comparison table, named after the questions that decided it.

    Deterministic (nbval sees the same HTML every run), and two tables share an id only when they
    highlight the same rows, so their CSS rules cannot shade the wrong rows of each other on one page.
    """
    return "comparison_" + "_".join(q.lower() for q in deciding_questions(rec))


def highlighted_comparison(rec: Recommendation):
    """The comparison table with the rows that bear on the questions that decided this case highlighted
    (long cells wrap; the table's CSS id comes from comparison_uuid)."""
    decided = set(deciding_questions(rec))
    table = comparison_table()

    def shade(row):
        hit = decided & set(row["questions"].split(", "))
        return [HIGHLIGHT if hit else ""] * len(row)

    return table.style.set_uuid(comparison_uuid(rec)).set_table_styles(WRAPPED_CELLS).apply(shade, axis=1)


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
    _legend_below(left, ncol=3)

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
    _legend_below(right, ncol=2)
    fig.tight_layout()
    return fig


def _legend_below(ax, ncol: int) -> None:
    """The axes' legend under its x label, outside the plotting area, so it covers no data."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, frameon=False)


# Which arm of the knowledge-vs-behavior experiment (notebook 01) measures each rung of the ladder: the base
# model closed-book with a careful prompt, the base model with the course's retrieval, the adapter tuned on
# question-answer pairs (closed-book), and the reader adapter with retrieval.
LADDER_ARMS = {
    "prompting": "base_closed_book",
    "rag": "base_rag",
    "fine-tuning": "qa_tuned_closed_book",
    "hybrid": "hybrid",
}


# Rungs whose prompt asked for the JSON format (the others' compliance is zero by construction: the closed-
# book prompt asks for the answer alone, and the QA-tuned adapter was trained on short answers).
FORMAT_ASKED = {"rag", "hybrid"}


def ladder_measurements(record: dict, pool: str = "unseen") -> dict[str, dict]:
    """Each rung's accuracy and format compliance on one pool of the knowledge-vs-behavior record, as
    proportions with 95% intervals: {method: {"arm", "accuracy", "compliance"}}; compliance is None for a
    rung whose prompt did not ask for the format."""
    from ragft.runtime.stats import proportion

    rows = [i for i, q in enumerate(record["questions"]) if q["pool"] == pool]
    if not rows:
        raise ValueError(f"pool {pool!r} has no question in the record")
    return {
        method: {
            "arm": arm,
            "accuracy": proportion([record["scores"][arm][i]["correct"] for i in rows]),
            "compliance": proportion([record["scores"][arm][i]["compliant"] for i in rows])
            if method in FORMAT_ASKED
            else None,
        }
        for method, arm in LADDER_ARMS.items()
    }


def ladder_figure(
    queries_per_day: float,
    overrides: dict | None = None,
    accuracies: dict | None = None,
    measured: dict | None = None,
):
    """The cost-accuracy ladder: each rung's 12-month cost, annotated with what the course measured for it
    (measured: ladder_measurements' output, accuracy with its interval and format compliance; or
    accuracies: method -> fraction) and 'not measured yet' elsewhere."""
    from matplotlib.figure import Figure

    accuracies = accuracies or {}
    measured = measured or {}
    rungs = costs.ladder_costs(queries_per_day, overrides=overrides)
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.subplots()
    names = [f"{r['rung']}. {r['method']}" for r in rungs]
    totals = [r["total_12_months"] for r in rungs]
    bars = ax.bar(names, totals, color=["#9ab", "#579", "#357", "#135"])
    for bar, rung in zip(bars, rungs, strict=True):
        found = measured.get(rung["method"])
        value = accuracies.get(rung["method"])
        if found is not None:
            acc, fmt = found["accuracy"], found["compliance"]
            interval = f"({acc['low'] * 100:.0f}-{acc['high']:.0%})"
            label = f"right {acc['rate']:.0%} {interval}\n" + (
                f"format {fmt['rate']:.0%}" if fmt is not None else "format: not asked"
            )
        elif value is not None:
            label = f"accuracy {value:.0%}"
        else:
            label = "accuracy: not measured yet"
        ax.annotate(
            label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_ylim(0, max(totals) * 1.25)  # room for the labels above the bars
    ax.set_title(f"The cost-accuracy ladder at {queries_per_day:,.0f} queries/day")
    ax.set_xlabel("rung (climb only when evaluation data says so)")
    ax.set_ylabel("USD over 12 months")
    fig.tight_layout()
    return fig
