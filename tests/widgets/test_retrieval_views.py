"""ragft.widgets.retrieval_views: the fusion-weight slider shows what the pure functions compute."""

import pytest
from search_runs import tiny_runs

from ragft.retrieval.fusion_study import fused_rankings, score
from ragft.widgets import retrieval_views as views


def test_metrics_at_matches_fusion_study():
    runs = {"tiny": tiny_runs()}
    table = views.metrics_at(runs, "convex", 0.3)
    expected = score(runs["tiny"], fused_rankings(runs["tiny"], "convex", 0.3), ["ndcg@10"])["ndcg@10"]
    assert table.loc["tiny", "hybrid ndcg@10"] == round(expected, 3)
    assert {"bm25 ndcg@10", "dense ndcg@10", "hybrid recall@10", "hybrid mrr@10"} <= set(table.columns)


def test_weight_curves_follow_the_fusion():
    runs = {"tiny": tiny_runs()}
    curves = views.weight_curves(runs, "convex", [0.0, 0.5, 1.0], metric="mrr@10")
    for w in (0.0, 0.5):
        direct = score(runs["tiny"], fused_rankings(runs["tiny"], "convex", w), ["mrr@10"])["mrr@10"]
        assert curves.loc[w, "tiny"] == direct
    fig = views.curves_figure(curves, 0.5, "convex", "mrr@10")
    assert fig.axes[0].get_xlabel() == "dense weight" and fig.axes[0].get_title()


def test_slider_driven_from_code():
    slider = views.FusionSlider({"tiny": tiny_runs()}, fusion="convex", weight=0.5)
    table = slider.set(weight=0.0)
    assert slider.weight.value == 0.0
    assert table.equals(views.metrics_at({"tiny": tiny_runs()}, "convex", 0.0))
    assert len(slider.output.outputs) == 2  # the table and the figure
    slider.set(fusion="rrf", weight=0.5)
    assert slider.fusion.value == "rrf" and "rrf" in slider._curves


def test_bad_values_are_rejected_before_any_control_moves():
    slider = views.FusionSlider({"tiny": tiny_runs()}, fusion="convex", weight=0.5)
    with pytest.raises(ValueError, match="weight must be between 0 and 1"):
        slider.set(weight=1.5)
    with pytest.raises(ValueError, match="fusion must be one of"):
        slider.set(fusion="raw")
    assert (slider.fusion.value, slider.weight.value) == ("convex", 0.5)


def test_interval_bars_draw_means_with_bootstrap_intervals():
    from matplotlib.figure import Figure

    from ragft.runtime.stats import bootstrap_mean_interval

    ax = Figure().subplots()
    series = {"a": [[0.0, 1.0, 1.0], [0.5, 0.5]], "b": [[1.0, 1.0], [0.0, 0.2, 0.4]]}
    views.interval_bars(ax, ["x", "y"], series, hatches={"b": "//"})
    bars = ax.patches
    assert [round(b.get_height(), 3) for b in bars] == [0.667, 0.5, 1.0, 0.2]
    assert [round(b.get_x() + b.get_width() / 2, 2) for b in bars] == [-0.1, 0.9, 0.1, 1.1]
    assert [b.get_hatch() for b in bars] == [None, None, "//", "//"]
    low_a_x = bootstrap_mean_interval([0.0, 1.0, 1.0])[1]
    first = next(c for c in ax.containers if hasattr(c, "errorbar"))  # series a's bars
    error_lines = first.errorbar.lines[2][0].get_segments()
    assert error_lines[0][0][1] == pytest.approx(low_a_x)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    with pytest.raises(ValueError, match="series 'a' has 2 groups of scores, expected 3"):
        views.interval_bars(ax, ["x", "y", "z"], series)
