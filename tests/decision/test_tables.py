"""ragft.decision.tables: the comparison, mistakes, worked cases and cost tables and figures."""

import matplotlib
import pytest

from ragft.decision import costs, tables
from ragft.decision.framework import METHODS, recommend

matplotlib.use("Agg")


def test_comparison_table_covers_the_brief_and_every_question_it_names_exists():
    table = tables.comparison_table()
    assert list(table.columns) == ["rag", "fine-tuning", "hybrid", "questions"] and len(table) == 12
    named = {q for cell in table["questions"] for q in cell.split(", ")}
    assert named <= {f"Q{i}" for i in range(1, 9)} | {"Result"}


def test_highlight_marks_exactly_the_rows_of_deciding_questions():
    rec = recommend(tables.worked_cases()["Product-catalog support bot"]["answers"])
    styled = tables.highlighted_comparison(rec)
    styled._compute()
    shaded_rows = {tables.comparison_table().index[r] for (r, _c), props in styled.ctx.items() if props}
    decided = {"Q1", "Q2", "Q3", "Q5", "Q8"}
    questions = tables.comparison_table()["questions"]
    expected = {d for d, qs in questions.items() if decided & set(qs.split(", "))}
    assert shaded_rows == expected and "Citations" in shaded_rows and "Inference latency" not in shaded_rows


def test_each_highlighted_table_has_its_own_deterministic_css_id():
    cases = tables.worked_cases()
    legal = recommend(cases["Legal research assistant"]["answers"])
    catalog = recommend(cases["Product-catalog support bot"]["answers"])
    assert tables.comparison_uuid(legal) == "comparison_q1_q2_q3_q4_q5_result"
    assert tables.comparison_uuid(catalog) == "comparison_q1_q2_q3_q5_q8"
    first = tables.highlighted_comparison(legal).to_html()
    second = tables.highlighted_comparison(catalog).to_html()
    assert "#T_comparison_q1_q2_q3_q4_q5_result_row" in first and "_q4_" not in second
    assert first == tables.highlighted_comparison(legal).to_html()  # the same HTML every run (nbval)
    assert "white-space: normal" in first and "overflow-wrap: break-word" in first  # long cells wrap


def test_cost_figure_legends_sit_outside_the_plots():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = tables.cost_figure(1000)
    renderer = FigureCanvasAgg(fig).get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        assert not legend.overlaps(ax.get_window_extent(renderer)), ax.get_title()
        assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)


def test_mistakes_table_has_a_correction_for_each_mistake():
    table = tables.mistakes_table()
    assert "Fine-tuning for knowledge" in table.index and table["correction"].str.len().min() > 20


def test_worked_cases_give_the_four_methods():
    table = tables.cases_table()
    assert table["method"].to_dict() == {
        "Legal research assistant": "hybrid",
        "Product-catalog support bot": "rag",
        "High-volume ticket classifier": "fine-tuning",
        "Small team with a format need": "prompting",
    }


def test_cost_overrides_spread_context_over_the_chunks_and_reject_negatives():
    chunks = costs.load_cost_parameters()["retrieved_chunks"]["value"]
    assert tables.cost_overrides(context_tokens=1000)["chunk_tokens"] == pytest.approx(1000 / chunks)
    assert tables.cost_overrides() == {}
    with pytest.raises(ValueError, match="context_tokens"):
        tables.cost_overrides(context_tokens=-1)


def test_cost_table_matches_the_cost_model():
    table = tables.cost_table(2000)
    for method in METHODS:
        assert table.loc[method, "total"] == round(costs.cost_breakdown(method, 2000)["total"])


def test_figures_are_titled_and_labeled():
    for fig in (tables.cost_figure(1000), tables.ladder_figure(1000, accuracies={"rag": 0.5})):
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    labels = [t.get_text() for t in tables.ladder_figure(1000, accuracies={"rag": 0.5}).axes[0].texts]
    assert "accuracy 50%" in labels and labels.count("accuracy: not measured yet") == 3


def test_ladder_measurements_read_each_rungs_arm_from_the_record():
    arms = tables.LADDER_ARMS
    questions = [{"pool": "unseen"}, {"pool": "unseen"}, {"pool": "tuned"}]
    scores = {
        arm: [{"correct": i == 0, "compliant": arm == "hybrid"} for i in range(3)] for arm in arms.values()
    }
    scores["hybrid"][1]["correct"] = True
    found = tables.ladder_measurements({"questions": questions, "scores": scores})
    assert set(found) == set(arms) and found["hybrid"]["arm"] == "hybrid"
    assert found["hybrid"]["accuracy"]["k"] == 2 and found["rag"]["accuracy"]["k"] == 1
    assert found["hybrid"]["compliance"]["rate"] == 1.0 and found["rag"]["compliance"]["k"] == 0
    assert found["prompting"]["compliance"] is None and found["fine-tuning"]["compliance"] is None
    with pytest.raises(ValueError, match="pool 'changed' has no question"):
        tables.ladder_measurements({"questions": questions, "scores": scores}, "changed")
    labels = [t.get_text() for t in tables.ladder_figure(1000, measured=found).axes[0].texts]
    assert labels[-1] == "right 100% (34-100%)\nformat 100%"
    assert labels[0] == "right 50% (9-91%)\nformat: not asked"
