"""A 12-month cost model for prompting, RAG, fine-tuning and a hybrid, from assumptions in rules/costs.json.

Every total is a one-off part (setup labor, initial labeling and training) plus a steady monthly part
(hosting, inference, retrieval infrastructure, maintenance, retraining amortized per month), and is
linear in the query volume, so break-even volumes are solved exactly. All amounts are USD floats;
round only for display.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ragft.decision.framework import METHODS

COMPONENTS = (
    "setup_labor",
    "data_labeling",
    "training_compute",
    "hosting",
    "inference",
    "retrieval_infrastructure",
    "maintenance_labor",
)
DAYS_PER_MONTH = 365 / 12
LADDER = (
    ("prompting", "Prompt engineering alone"),
    ("rag", "RAG with existing embeddings"),
    ("fine-tuning", "Fine-tuning"),
    ("hybrid", "Fine-tuning + RAG"),
)
_DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "costs.json"
_TUNED = {"fine-tuning", "hybrid"}
_RETRIEVES = {"rag", "hybrid"}


def _check_number(name: str, value: object) -> float:
    """Return value as a float if it is a finite number >= 0, else raise ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def load_cost_parameters(path: str | Path | None = None) -> dict[str, dict]:
    """Read the cost parameters ({name: {value, unit, assumption}}) from costs.json or another file."""
    with open(path or _DEFAULT_PATH, encoding="utf-8") as handle:
        raw = json.load(handle)
    params = {}
    for name, entry in raw["parameters"].items():
        if not isinstance(entry.get("unit"), str) or not isinstance(entry.get("assumption"), str):
            raise ValueError(f"cost parameter {name!r} needs a 'unit' and an 'assumption' string")
        params[name] = {**entry, "value": _check_number(name, entry.get("value"))}
    return params


def _values(overrides: dict | None) -> dict[str, float]:
    """The parameter values with overrides applied; unknown names or negative values raise ValueError."""
    values = {name: entry["value"] for name, entry in load_cost_parameters().items()}
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"overrides must be a dict {{parameter name: number}} or None, got {overrides!r}")
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(f"overrides: unknown parameter {name!r}; valid names are {sorted(values)}")
        values[name] = _check_number(f"overrides[{name!r}]", value)
    return values


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _key(prefix: str, method: str) -> str:
    return f"{prefix}_{method.replace('-', '_')}"


def _inference_per_query(method: str, v: dict[str, float]) -> float:
    """USD of model tokens for one query: prompt (+ few-shot for prompting, + retrieved chunks for RAG)."""
    input_tokens = v["base_prompt_tokens"]
    if method == "prompting":
        input_tokens += v["few_shot_prompt_tokens"]
    if method in _RETRIEVES:
        input_tokens += v["retrieved_chunks"] * v["chunk_tokens"]
    side = "tuned" if method in _TUNED else "base"
    return (
        input_tokens / 1000 * v[f"{side}_input_price_per_1k"]
        + v["output_tokens"] / 1000 * v[f"{side}_output_price_per_1k"]
    )


def _per_query(method: str, v: dict[str, float]) -> float:
    """USD that every further query adds: its inference plus, for RAG and hybrid, its query embedding."""
    return _inference_per_query(method, v) + (v["embedding_cost_per_query"] if method in _RETRIEVES else 0.0)


def _one_off_and_monthly(method: str, queries_per_day: float, v: dict[str, float]) -> tuple[dict, dict]:
    """Each component split into its one-off USD and its USD per steady-state month."""
    rate = v["engineer_day_rate"]
    tuned, retrieves = method in _TUNED, method in _RETRIEVES
    queries_per_month = queries_per_day * DAYS_PER_MONTH
    retrainings_per_month = v[_key("retrainings_per_year", method)] / 12 if tuned else 0.0
    one_off = dict.fromkeys(COMPONENTS, 0.0)
    monthly = dict.fromkeys(COMPONENTS, 0.0)
    one_off["setup_labor"] = v[_key("setup_days", method)] * rate
    if tuned:
        one_off["data_labeling"] = v["labeled_examples"] * v["cost_per_labeled_example"]
        one_off["training_compute"] = v["training_runs_initial"] * v["training_compute_per_run"]
        monthly["data_labeling"] = (
            retrainings_per_month * v["labeled_examples_per_retraining"] * v["cost_per_labeled_example"]
        )
        monthly["training_compute"] = (
            retrainings_per_month * v["training_runs_per_retraining"] * v["training_compute_per_run"]
        )
    monthly["hosting"] = v["tuned_model_hosting_per_month" if tuned else "base_model_hosting_per_month"]
    monthly["inference"] = queries_per_month * _inference_per_query(method, v)
    if retrieves:
        monthly["retrieval_infrastructure"] = (
            v["retrieval_infrastructure_per_month"] + queries_per_month * v["embedding_cost_per_query"]
        )
    monthly["maintenance_labor"] = (
        v[_key("maintenance_days_per_month", method)] + retrainings_per_month * v["retraining_labor_days"]
    ) * rate
    return one_off, monthly


def cost_breakdown(
    method: str, queries_per_day: float, months: float = 12, overrides: dict | None = None
) -> dict[str, float]:
    """USD per component over `months` (one-off + months x monthly) and their "total", for one method."""
    _check_method(method)
    queries_per_day = _check_number("queries_per_day", queries_per_day)
    if isinstance(months, bool) or not isinstance(months, int | float) or not 0 < months < math.inf:
        raise ValueError(f"months must be a finite number > 0, got {months!r}")
    one_off, monthly = _one_off_and_monthly(method, queries_per_day, _values(overrides))
    breakdown = {name: one_off[name] + months * monthly[name] for name in COMPONENTS}
    breakdown["total"] = sum(breakdown.values())
    return breakdown


def monthly_cost(method: str, queries_per_day: float, overrides: dict | None = None) -> float:
    """Steady-state USD per month: everything except the one-off setup labor, initial labeling and initial
    training, i.e. inference + hosting + retrieval infrastructure + maintenance + retraining amortized per
    month (its labeling, compute and labor). The figure to quote for "monthly cost at a target volume".
    """
    _check_method(method)
    queries_per_day = _check_number("queries_per_day", queries_per_day)
    return sum(_one_off_and_monthly(method, queries_per_day, _values(overrides))[1].values())


def break_even_queries_per_day(months: float = 12, overrides: dict | None = None) -> float | None:
    """Daily volume at which RAG's and fine-tuning's `months` totals are equal, or None if the two cost
    lines never cross at a positive volume (one method is cheaper at every volume).
    """
    values = _values(overrides)
    fixed_rag = cost_breakdown("rag", 0, months, overrides)["total"]
    fixed_tuned = cost_breakdown("fine-tuning", 0, months, overrides)["total"]
    days = months * DAYS_PER_MONTH
    slope_rag = days * _per_query("rag", values)
    slope_tuned = days * _per_query("fine-tuning", values)
    if slope_rag == slope_tuned:
        return None
    volume = (fixed_tuned - fixed_rag) / (slope_rag - slope_tuned)
    return volume if volume > 0 else None


def ladder_costs(queries_per_day: float, overrides: dict | None = None) -> list[dict]:
    """The four rungs of the cost-accuracy ladder in order, each with its 12-month total and monthly cost."""
    return [
        {
            "rung": rung,
            "method": method,
            "description": description,
            "total_12_months": cost_breakdown(method, queries_per_day, 12, overrides)["total"],
            "monthly_cost": monthly_cost(method, queries_per_day, overrides),
        }
        for rung, (method, description) in enumerate(LADDER, start=1)
    ]


def cost_assumptions(overrides: dict | None = None) -> list[dict]:
    """One row (name, value, unit, assumption, overridden) per parameter: the table for a notebook."""
    values = _values(overrides)
    return [
        {
            "name": name,
            "value": values[name],
            "unit": entry["unit"],
            "assumption": entry["assumption"],
            "overridden": name in (overrides or {}),
        }
        for name, entry in load_cost_parameters().items()
    ]
