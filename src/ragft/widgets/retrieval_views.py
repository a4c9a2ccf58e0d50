"""The fusion-weight slider of notebook 04: a thin widget over pure functions of ragft.retrieval.fusion_study.

The searches are done once (SearchRuns); moving the slider only re-fuses the stored rankings, so
every position answers in well under a second. Tests and nbval drive it with `set(...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ragft.retrieval.fusion import DEFAULT_RRF_K
from ragft.retrieval.fusion_study import SearchRuns, fused_rankings, score
from ragft.retrieval.retrieve import DEFAULT_WEIGHT
from ragft.widgets.render import render

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SLIDER_FUSIONS = ("convex", "rrf")
WEIGHT_GRID = tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, 11), 2))
TABLE_METRICS = ("ndcg@10", "recall@10", "mrr@10")


def _check(fusion: str, weight: float) -> None:
    if fusion not in SLIDER_FUSIONS:
        raise ValueError(f"fusion must be one of {list(SLIDER_FUSIONS)}, got {fusion!r}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")


def metrics_at(
    runs_by_set: dict[str, SearchRuns], fusion: str, weight: float, rrf_k: int = DEFAULT_RRF_K
) -> pd.DataFrame:
    """Per set: the hybrid's metrics at this weight, next to BM25 and dense alone (ndcg@10)."""
    _check(fusion, weight)
    rows = {}
    for name, runs in runs_by_set.items():
        hybrid = score(runs, fused_rankings(runs, fusion, weight, rrf_k), TABLE_METRICS)
        row = {f"hybrid {m}": v for m, v in hybrid.items()}
        for method in ("bm25", "dense"):
            row[f"{method} ndcg@10"] = score(runs, fused_rankings(runs, method), ["ndcg@10"])["ndcg@10"]
        rows[name] = row
    return pd.DataFrame(rows).T.round(3)


def weight_curves(
    runs_by_set: dict[str, SearchRuns],
    fusion: str,
    weights: Sequence[float] = WEIGHT_GRID,
    metric: str = "ndcg@10",
    rrf_k: int = DEFAULT_RRF_K,
) -> pd.DataFrame:
    """metric against dense's weight, one column per set (rows: weights)."""
    for weight in weights:
        _check(fusion, weight)
    return pd.DataFrame(
        {
            name: [score(runs, fused_rankings(runs, fusion, w, rrf_k), [metric])[metric] for w in weights]
            for name, runs in runs_by_set.items()
        },
        index=pd.Index(list(weights), name="weight"),
    )


def curves_figure(curves: pd.DataFrame, weight: float, fusion: str, metric: str = "ndcg@10"):
    """The weight curves of every set, with the slider's position marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    for name in curves.columns:
        ax.plot(curves.index, curves[name], marker="o", markersize=3, label=name)
    ax.axvline(weight, color="black", linewidth=0.8, linestyle="--", label=f"weight {weight:.2f}")
    ax.set_title(f"{fusion} fusion: {metric} against dense's weight (0 = BM25 only, 1 = dense only)")
    ax.set_xlabel("dense weight")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def interval_bars(
    ax: Axes,
    groups: Sequence[str],
    series: dict[str, Sequence[Sequence[float]]],
    width: float = 0.2,
    hatches: dict[str, str] | None = None,
) -> None:
    """Grouped bars of per-question scores on a matplotlib axis: in each group one bar per series, its height
    the mean, its error bar the seeded 95% bootstrap interval (ragft.runtime.stats)."""
    from ragft.runtime.stats import bootstrap_mean_interval

    for name, per_group in series.items():
        if len(per_group) != len(groups):
            raise ValueError(f"series {name!r} has {len(per_group)} groups of scores, expected {len(groups)}")
    middle = (len(series) - 1) / 2
    for j, (name, per_group) in enumerate(series.items()):
        stats = [bootstrap_mean_interval(scores) for scores in per_group]
        means = np.array([mean for mean, _, _ in stats])
        errors = np.array([[mean - low for mean, low, _ in stats], [high - mean for mean, _, high in stats]])
        positions = np.arange(len(groups)) + (j - middle) * width
        ax.bar(positions, means, width, yerr=errors, capsize=3, label=name, hatch=(hatches or {}).get(name))
    ax.set_xticks(np.arange(len(groups)), list(groups))


class FusionSlider:
    """A weight slider and a fusion choice; the table of metrics per set and the curves follow them."""

    def __init__(
        self,
        runs_by_set: dict[str, SearchRuns],
        fusion: str = "convex",
        weight: float = DEFAULT_WEIGHT,
        rrf_k: int = DEFAULT_RRF_K,
    ) -> None:
        import ipywidgets as w

        _check(fusion, weight)
        self.runs_by_set, self.rrf_k = runs_by_set, rrf_k
        self._curves: dict[str, pd.DataFrame] = {}
        self.weight = w.FloatSlider(
            value=weight, min=0.0, max=1.0, step=0.05, description="dense weight", continuous_update=False
        )
        self.fusion = w.Dropdown(options=list(SLIDER_FUSIONS), value=fusion, description="fusion")
        self.output = w.Output()
        for control in (self.weight, self.fusion):
            control.observe(lambda _change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.fusion, self.weight]), self.output])
        self._quiet = False
        self.refresh()

    def set(self, weight: float | None = None, fusion: str | None = None) -> pd.DataFrame:
        """Move the controls from code (validated first), refresh once, and return the new table."""
        _check(fusion or self.fusion.value, self.weight.value if weight is None else weight)
        self._quiet = True
        try:
            if fusion is not None:
                self.fusion.value = fusion
            if weight is not None:
                self.weight.value = weight
        finally:
            self._quiet = False
        self.refresh()
        return self.table()

    def table(self) -> pd.DataFrame:
        return metrics_at(self.runs_by_set, self.fusion.value, self.weight.value, self.rrf_k)

    def curves(self) -> pd.DataFrame:
        fusion = self.fusion.value
        if fusion not in self._curves:
            self._curves[fusion] = weight_curves(self.runs_by_set, fusion, rrf_k=self.rrf_k)
        return self._curves[fusion]

    def refresh(self) -> None:
        if self._quiet:
            return
        render(self.output, self.table(), curves_figure(self.curves(), self.weight.value, self.fusion.value))
