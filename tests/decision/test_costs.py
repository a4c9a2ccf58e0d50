import json
import math

import pytest

from ragft.decision import costs

# Round numbers so every expected value below can be worked out by hand. With 12 retrainings a year there
# is exactly one per month; 100 queries/day over 12 months is 100 x 365 = 36,500 queries.
SIMPLE = {
    "engineer_day_rate": 100,
    "setup_days_prompting": 1,
    "setup_days_rag": 2,
    "setup_days_fine_tuning": 3,
    "setup_days_hybrid": 4,
    "labeled_examples": 10,
    "cost_per_labeled_example": 1,
    "training_compute_per_run": 10,
    "training_runs_initial": 2,
    "training_runs_per_retraining": 1,
    "retrainings_per_year_fine_tuning": 12,
    "retrainings_per_year_hybrid": 12,
    "labeled_examples_per_retraining": 5,
    "retraining_labor_days": 1,
    "base_model_hosting_per_month": 0,
    "tuned_model_hosting_per_month": 50,
    "base_prompt_tokens": 1000,
    "output_tokens": 1000,
    "few_shot_prompt_tokens": 1000,
    "retrieved_chunks": 2,
    "chunk_tokens": 500,
    "base_input_price_per_1k": 0.001,
    "base_output_price_per_1k": 0.002,
    "tuned_input_price_per_1k": 0.0005,
    "tuned_output_price_per_1k": 0.001,
    "retrieval_infrastructure_per_month": 20,
    "embedding_cost_per_query": 0.001,
    "maintenance_days_per_month_prompting": 0,
    "maintenance_days_per_month_rag": 1,
    "maintenance_days_per_month_fine_tuning": 1,
    "maintenance_days_per_month_hybrid": 2,
}

# Per query: prompting 2,000 in + 1,000 out at base prices = 0.002 + 0.002; rag the same tokens (1,000 of
# them retrieved) plus 0.001 embedding; fine-tuning 1,000 in + 1,000 out at tuned prices = 0.0005 + 0.001;
# hybrid 2,000 in + 1,000 out at tuned prices = 0.001 + 0.001 plus the embedding.
EXPECTED_12_MONTHS_AT_100 = {
    "prompting": {
        "setup_labor": 100,
        "data_labeling": 0,
        "training_compute": 0,
        "hosting": 0,
        "inference": 36_500 * 0.004,
        "retrieval_infrastructure": 0,
        "maintenance_labor": 0,
    },
    "rag": {
        "setup_labor": 200,
        "data_labeling": 0,
        "training_compute": 0,
        "hosting": 0,
        "inference": 36_500 * 0.004,
        "retrieval_infrastructure": 12 * 20 + 36_500 * 0.001,
        "maintenance_labor": 12 * 1 * 100,
    },
    "fine-tuning": {
        "setup_labor": 300,
        "data_labeling": 10 * 1 + 12 * 5 * 1,
        "training_compute": 2 * 10 + 12 * 1 * 10,
        "hosting": 12 * 50,
        "inference": 36_500 * 0.0015,
        "retrieval_infrastructure": 0,
        "maintenance_labor": 12 * 1 * 100 + 12 * 1 * 100,
    },
    "hybrid": {
        "setup_labor": 400,
        "data_labeling": 10 * 1 + 12 * 5 * 1,
        "training_compute": 2 * 10 + 12 * 1 * 10,
        "hosting": 12 * 50,
        "inference": 36_500 * 0.002,
        "retrieval_infrastructure": 12 * 20 + 36_500 * 0.001,
        "maintenance_labor": 12 * 2 * 100 + 12 * 1 * 100,
    },
}


@pytest.mark.parametrize("method", costs.METHODS)
def test_breakdown_matches_hand_arithmetic(method):
    breakdown = costs.cost_breakdown(method, 100, months=12, overrides=SIMPLE)
    expected = EXPECTED_12_MONTHS_AT_100[method]
    assert set(breakdown) == set(costs.COMPONENTS) | {"total"}
    for name, value in expected.items():
        assert breakdown[name] == pytest.approx(value, abs=1e-9), name
    assert breakdown["total"] == pytest.approx(sum(expected.values()), abs=1e-9)


def test_hand_totals():
    totals = {m: costs.cost_breakdown(m, 100, overrides=SIMPLE)["total"] for m in costs.METHODS}
    assert totals == pytest.approx(
        {"prompting": 246, "rag": 1822.5, "fine-tuning": 3564.75, "hybrid": 5159.5}
    )


def test_which_components_each_method_pays_for():
    zero = {m: {k for k, v in costs.cost_breakdown(m, 1000).items() if v == 0} for m in costs.METHODS}
    assert zero["prompting"] >= {"data_labeling", "training_compute", "retrieval_infrastructure"}
    assert zero["rag"] >= {"data_labeling", "training_compute"}
    assert "retrieval_infrastructure" not in zero["rag"]
    assert zero["fine-tuning"] == {"retrieval_infrastructure"}
    assert "hosting" not in zero["fine-tuning"] and "hosting" not in zero["hybrid"]
    assert not zero["hybrid"]


@pytest.mark.parametrize("method", costs.METHODS)
def test_totals_are_linear_in_volume(method):
    at = {q: costs.cost_breakdown(method, q) for q in (0, 1000, 2000)}
    for name in at[0]:
        assert at[2000][name] - at[1000][name] == pytest.approx(at[1000][name] - at[0][name], abs=1e-6)
    assert at[1000]["inference"] > at[0]["inference"] == 0


@pytest.mark.parametrize("method", costs.METHODS)
@pytest.mark.parametrize("queries_per_day", [0, 100, 10_000])
def test_monthly_cost_times_twelve_plus_one_off_is_the_total(method, queries_per_day):
    v = {name: entry["value"] for name, entry in costs.load_cost_parameters().items()}
    one_off = v[f"setup_days_{method.replace('-', '_')}"] * v["engineer_day_rate"]
    if method in ("fine-tuning", "hybrid"):
        one_off += v["labeled_examples"] * v["cost_per_labeled_example"]
        one_off += v["training_runs_initial"] * v["training_compute_per_run"]
    total = costs.cost_breakdown(method, queries_per_day)["total"]
    assert 12 * costs.monthly_cost(method, queries_per_day) + one_off == pytest.approx(total, abs=1e-6)
    longer = costs.cost_breakdown(method, queries_per_day, months=24)["total"]
    assert longer - total == pytest.approx(12 * costs.monthly_cost(method, queries_per_day), abs=1e-6)


def test_monthly_cost_by_hand():
    # fine-tuning: hosting 50 + inference 3,650 x 0.0015 + one retraining (5 + 10 + 100) + 1 day (100)
    assert costs.monthly_cost("fine-tuning", 120, overrides=SIMPLE) == pytest.approx(
        50 + 120 * 365 / 12 * 0.0015 + 115 + 100
    )


def test_break_even_by_hand_and_totals_equal_there():
    # fixed 12-month totals: rag 200 + 240 + 1,200 = 1,640; fine-tuning 300 + 70 + 140 + 600 + 2,400 = 3,510
    # per day of volume: rag 365 x 0.005 = 1.825; fine-tuning 365 x 0.0015 = 0.5475
    volume = costs.break_even_queries_per_day(overrides=SIMPLE)
    assert volume == pytest.approx((3510 - 1640) / (1.825 - 0.5475))
    rag = costs.cost_breakdown("rag", volume, overrides=SIMPLE)["total"]
    tuned = costs.cost_breakdown("fine-tuning", volume, overrides=SIMPLE)["total"]
    assert rag == pytest.approx(tuned, rel=1e-12)


def test_break_even_with_the_shipped_parameters():
    volume = costs.break_even_queries_per_day()
    assert volume is not None and volume > 0
    assert costs.cost_breakdown("rag", volume)["total"] == pytest.approx(
        costs.cost_breakdown("fine-tuning", volume)["total"], rel=1e-12
    )
    assert (
        costs.cost_breakdown("rag", volume / 2)["total"]
        < costs.cost_breakdown("fine-tuning", volume / 2)["total"]
    )
    assert (
        costs.cost_breakdown("rag", volume * 2)["total"]
        > costs.cost_breakdown("fine-tuning", volume * 2)["total"]
    )


def test_no_break_even_when_fine_tuning_is_never_cheaper():
    dearer_tokens = {**SIMPLE, "tuned_input_price_per_1k": 0.01, "tuned_output_price_per_1k": 0.01}
    assert costs.break_even_queries_per_day(overrides=dearer_tokens) is None
    same_slope = {
        **SIMPLE,
        "tuned_input_price_per_1k": 0.001,
        "tuned_output_price_per_1k": 0.002,
        "retrieved_chunks": 0,
        "embedding_cost_per_query": 0,
    }
    assert costs.break_even_queries_per_day(overrides=same_slope) is None


def test_more_context_tokens_raise_rag_inference_only():
    short = {
        m: costs.cost_breakdown(m, 1000, overrides={"chunk_tokens": 256})["inference"] for m in costs.METHODS
    }
    long = {
        m: costs.cost_breakdown(m, 1000, overrides={"chunk_tokens": 512})["inference"] for m in costs.METHODS
    }
    assert long["rag"] > short["rag"] and long["hybrid"] > short["hybrid"]
    assert long["fine-tuning"] == short["fine-tuning"] and long["prompting"] == short["prompting"]


def test_ladder_is_in_order_and_matches_the_breakdown():
    ladder = costs.ladder_costs(1000)
    assert [(r["rung"], r["method"]) for r in ladder] == list(enumerate(costs.METHODS, start=1))
    for rung in ladder:
        assert rung["total_12_months"] == costs.cost_breakdown(rung["method"], 1000)["total"]
        assert rung["monthly_cost"] == costs.monthly_cost(rung["method"], 1000)
    totals = [r["total_12_months"] for r in ladder]
    assert totals == sorted(totals)  # with the shipped assumptions each rung costs more than the last


def test_parameters_file_is_complete():
    params = costs.load_cost_parameters()
    assert set(params) == set(SIMPLE)
    for name, entry in params.items():
        assert entry["value"] >= 0 and isinstance(entry["value"], float), name
        assert entry["unit"] and len(entry["assumption"]) > 20, name


def test_cost_assumptions_table():
    rows = costs.cost_assumptions(overrides={"engineer_day_rate": 1000})
    assert [r["name"] for r in rows] == list(costs.load_cost_parameters())
    rate = next(r for r in rows if r["name"] == "engineer_day_rate")
    assert rate["value"] == 1000 and rate["overridden"] and rate["unit"] == "USD/day"
    assert sum(r["overridden"] for r in rows) == 1


def test_a_parameters_file_with_a_negative_value_is_rejected(tmp_path):
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"parameters": {"x": {"value": -1, "unit": "USD", "assumption": "a"}}}))
    with pytest.raises(ValueError, match="x"):
        costs.load_cost_parameters(path)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: costs.cost_breakdown("lora", 10), "method must be one of"),
        (lambda: costs.monthly_cost("RAG", 10), "method must be one of"),
        (lambda: costs.cost_breakdown("rag", -1), "queries_per_day must be .*>= 0"),
        (lambda: costs.monthly_cost("rag", math.nan), "queries_per_day"),
        (lambda: costs.cost_breakdown("rag", True), "queries_per_day"),
        (lambda: costs.cost_breakdown("rag", 10, months=0), "months must be .*> 0"),
        (
            lambda: costs.cost_breakdown("rag", 10, overrides={"day_rate": 1}),
            "valid names are .*engineer_day_rate",
        ),
        (
            lambda: costs.ladder_costs(10, overrides={"chunk_tokens": -5}),
            r"overrides\['chunk_tokens'\] .*>= 0",
        ),
        (lambda: costs.break_even_queries_per_day(overrides={"output_tokens": "300"}), "output_tokens"),
        (
            lambda: costs.break_even_queries_per_day(overrides=[("output_tokens", 3)]),
            "overrides must be a dict",
        ),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
