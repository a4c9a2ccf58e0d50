"""Retrieval metrics: recall@k, MRR@k and nDCG@k, per query and averaged over a run.

Same definitions as trec_eval (checked against ir-measures in the tests): recall@k divides by
all relevant documents; MRR@k is 0 when nothing relevant is in the top k; nDCG@k uses graded
relevance with gain = grade and a log2(rank + 1) discount.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ragft.runtime.stats import mean_interval

Qrels = Mapping[str, Mapping[str, int]]  # query id -> {doc id: relevance grade}
Run = Mapping[str, Sequence[str]]  # query id -> doc ids, best first
DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    _check_k(k)
    positives = {doc for doc, grade in relevant.items() if grade > 0}
    if not positives:
        return 0.0
    return len(positives.intersection(ranked[:k])) / len(positives)


def reciprocal_rank_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document (ranks start at 1); 0 if none in the top k."""
    _check_k(k)
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Discounted cumulative gain of the top k, divided by that of the ideal ordering."""
    _check_k(k)
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


_FUNCTIONS = {"recall": recall_at_k, "mrr": reciprocal_rank_at_k, "ndcg": ndcg_at_k}


def parse_metric(name: str) -> tuple[str, int]:
    """'ndcg@10' -> ('ndcg', 10)."""
    base, _, k = name.partition("@")
    if base not in _FUNCTIONS or not k.isdigit():
        raise ValueError(f"metric must look like one of {sorted(_FUNCTIONS)} followed by @k, got {name!r}")
    return base, int(k)


def per_query(run: Run, qrels: Qrels, metric: str) -> dict[str, float]:
    """One metric for every judged query (a query missing from the run scores 0)."""
    base, k = parse_metric(metric)
    return {qid: _FUNCTIONS[base](list(run.get(qid, [])), rel, k) for qid, rel in qrels.items()}


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over the judged queries."""
    if not qrels:
        raise ValueError("qrels is empty: no judged queries to average over")
    return {m: sum(per_query(run, qrels, m).values()) / len(qrels) for m in metrics}


def evaluate_with_intervals(
    run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS, samples: int = 2000, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """Each metric's mean over the judged queries with its 95% interval: {metric: (mean, low, high)}.

    A metric that is 0 or 1 on every query (recall@k with one gold document) is a rate and gets the Wilson
    interval; graded ones (nDCG, MRR) get a seeded bootstrap over the queries (ragft.runtime.stats).
    """
    if not qrels:
        raise ValueError("qrels is empty: no judged queries to average over")
    return {m: mean_interval(per_query(run, qrels, m).values(), samples, seed) for m in metrics}


def run_from_rankings(
    query_ids: Sequence[str], rankings: Sequence[Sequence[tuple[str, float]]]
) -> dict[str, list[str]]:
    """Turn retriever output (a ranking per query) into a run: query id -> doc ids."""
    return {qid: [doc for doc, _ in ranking] for qid, ranking in zip(query_ids, rankings, strict=True)}
