"""ragft.retrieval.metrics on hand-checked cases, and against ir-measures (trec_eval) on a random run."""

import random

import ir_measures
import pytest
from ir_measures import MRR, R, nDCG

from ragft.retrieval import metrics
from ragft.runtime import stats


def test_recall_counts_relevant_in_top_k_over_all_relevant():
    assert metrics.recall_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, 2) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, 3) == pytest.approx(2 / 3)


def test_reciprocal_rank_starts_at_one_and_is_zero_beyond_k():
    assert metrics.reciprocal_rank_at_k(["a", "b"], {"a": 1}, 10) == 1.0
    assert metrics.reciprocal_rank_at_k(["x", "y", "a"], {"a": 1}, 10) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0


def test_ndcg_is_one_for_the_ideal_order_and_uses_log2_discount():
    assert metrics.ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(1.0)
    # One relevant document at rank 2: 1/log2(3).
    assert metrics.ndcg_at_k(["x", "a"], {"a": 1}, 10) == pytest.approx(1 / 1.5849625007)


def test_bad_k_and_metric_names_are_clear_errors():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        metrics.recall_at_k(["a"], {"a": 1}, 0)
    with pytest.raises(ValueError, match="metric must look like"):
        metrics.parse_metric("precision@5")
    with pytest.raises(ValueError, match="qrels is empty"):
        metrics.evaluate({}, {})


def test_a_query_missing_from_the_run_scores_zero():
    assert metrics.evaluate({}, {"q": {"a": 1}}, ["recall@10"]) == {"recall@10": 0.0}


def test_matches_ir_measures_on_a_random_run():
    rng = random.Random(0)
    docs = [f"d{i}" for i in range(60)]
    qrels = {f"q{i}": {d: rng.choice([1, 2]) for d in rng.sample(docs, rng.randint(1, 4))} for i in range(40)}
    run = {q: rng.sample(docs, 50) for q in qrels}
    ours = metrics.evaluate(run, qrels, ["ndcg@10", "recall@10", "recall@100", "mrr@10"])
    # ir-measures wants scores; give strictly decreasing ones so the order is ours.
    scored = {q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in run.items()}
    theirs = ir_measures.calc_aggregate([nDCG @ 10, R @ 10, R @ 100, MRR @ 10], qrels, scored)
    assert ours["ndcg@10"] == pytest.approx(theirs[nDCG @ 10], abs=1e-4)
    assert ours["recall@10"] == pytest.approx(theirs[R @ 10], abs=1e-4)
    assert ours["recall@100"] == pytest.approx(theirs[R @ 100], abs=1e-4)
    assert ours["mrr@10"] == pytest.approx(theirs[MRR @ 10], abs=1e-4)


def test_evaluate_with_intervals_brackets_the_mean_of_each_metric():
    qrels = {f"q{i}": {"a": 1} for i in range(8)}
    run = {f"q{i}": (["a"] if i < 4 else ["x", "a"] if i < 6 else ["x"]) for i in range(8)}
    scores = metrics.evaluate_with_intervals(run, qrels, ["recall@10", "mrr@10"])
    means = metrics.evaluate(run, qrels, ["recall@10", "mrr@10"])
    for name, (mean, low, high) in scores.items():
        assert mean == pytest.approx(means[name]) and low <= mean <= high
    # recall@10 is found-or-not on every query here: a rate, with its Wilson interval
    assert scores["recall@10"] == (0.75, *stats.wilson_interval(6, 8))
    assert scores["mrr@10"][1] < scores["mrr@10"][2]  # graded: a bootstrap interval, not a point
    with pytest.raises(ValueError, match="qrels is empty"):
        metrics.evaluate_with_intervals({}, {})
