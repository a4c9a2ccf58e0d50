"""Support for lab_retrieval: the BM25 and dense rankings a learner fuses, and the checks that grade
the learner's fusion and metric functions against ragft.retrieval.fusion and ragft.retrieval.metrics.

Every check returns feedback text: empty when the learner's function agrees with the reference on tiny
and random cases, else one message that names the likely misconception (ranks off by one in RRF, fusing
unnormalized scores, recall divided by k, ...). The autograder's tests only assert that the text is empty.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ragft.retrieval.fusion import DEFAULT_RRF_K, Ranking
from ragft.retrieval.fusion import convex as ref_convex
from ragft.retrieval.fusion import min_max as ref_min_max
from ragft.retrieval.fusion import rrf as ref_rrf
from ragft.retrieval.metrics import recall_at_k, reciprocal_rank_at_k

EVALSET = "facts-mini"
SPLITS = ("dev", "test")
DEPTH = 100  # documents per input ranking: what fusion sees
K = 10  # the cut-off of the lab's metrics
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))  # dense's share in the convex fusion
TODO = "still to fill in"
_TOL = 1e-6


@dataclass(frozen=True)
class LabSplit:
    """One split of the evaluation set, with both input rankings per query (documents, best first)."""

    evalset: str
    split: str
    query_ids: list[str]
    queries: list[str]
    qrels: dict[str, dict[str, int]]
    bm25: list[Ranking]
    dense: list[Ranking]

    def __repr__(self) -> str:
        return f"LabSplit({self.evalset!r}, split={self.split!r}, {len(self.query_ids)} queries)"


@lru_cache(maxsize=2)
def _retrievers(evalset: str):
    """Chunks of the shared corpus (the course's default chunker) and a BM25 and a dense index over them."""
    from ragft.corpus.data import load_evalset
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.retrieval.retrieve import BM25Retriever, DenseRetriever

    corpus = load_evalset(evalset, "dev").corpus  # every split searches the same corpus
    chunks = chunk_collection(corpus)
    ids, texts = [c.chunk_id for c in chunks], [c.indexed_text for c in chunks]
    return chunks, BM25Retriever(ids, texts), DenseRetriever(ids, texts)


@lru_cache(maxsize=4)
def load_split(split: str, evalset: str = EVALSET, depth: int = DEPTH) -> LabSplit:
    """BM25 and dense document rankings (each document scored by its best chunk) for one split's queries.

    The first call embeds the corpus (about 1,400 chunks, cached on disk by ragft.retrieval.embed); later
    calls reuse it.
    """
    from ragft.corpus.data import load_evalset
    from ragft.retrieval.retrieval_eval import search_documents

    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    data = load_evalset(evalset, split)
    chunks, bm25, dense = _retrievers(evalset)
    query_ids = sorted(data.qrels)
    queries = [data.queries[q]["text"] for q in query_ids]
    return LabSplit(
        evalset,
        split,
        query_ids,
        queries,
        {q: dict(data.qrels[q]) for q in query_ids},
        search_documents(bm25, chunks, queries, depth),
        search_documents(dense, chunks, queries, depth),
    )


# ------------------------------------------------------------------------------------ reference answers


def canonical(ranking: Ranking) -> Ranking:
    """The ranking sorted best first with ties (to 12 decimals) broken by doc id, as ragft.retrieval.fusion
    does: so that how a learner's sort orders equal scores cannot change a metric."""
    return sorted(((d, float(s)) for d, s in ranking), key=lambda item: (-round(item[1], 12), item[0]))


def mean_metrics(split: LabSplit, fused: Sequence[Ranking], k: int = K) -> dict[str, float]:
    """Mean recall@k and MRR@k (ragft.retrieval.metrics) of one fused ranking per query of the split (ties in
    each ranking broken by doc id, see canonical)."""
    if len(fused) != len(split.query_ids):
        raise ValueError(f"fused must have one ranking per query ({len(split.query_ids)}), got {len(fused)}")
    recall, rr = 0.0, 0.0
    for qid, ranking in zip(split.query_ids, fused, strict=True):
        docs = [doc for doc, _ in canonical(ranking)]
        recall += recall_at_k(docs, split.qrels[qid], k)
        rr += reciprocal_rank_at_k(docs, split.qrels[qid], k)
    n = len(split.query_ids)
    return {f"recall@{k}": recall / n, f"mrr@{k}": rr / n}


def weight_table(
    split: LabSplit, weights: Sequence[float] = WEIGHTS, k: int = K, fusion: Callable | None = None
) -> dict[float, dict[str, float]]:
    """Mean recall@k and MRR@k of convex fusion at each weight (ragft.retrieval.fusion.convex unless
    `fusion`)."""
    fusion = fusion or ref_convex
    return {
        w: mean_metrics(split, [fusion(s, d, w) for s, d in zip(split.bm25, split.dense, strict=True)], k)
        for w in weights
    }


def best_weight(table: Mapping[float, Mapping[str, float]], k: int = K) -> float:
    """The lab's rule: highest MRR@k, ties broken by higher recall@k, then by the smaller weight.

    MRR, not recall, because recall@10 is close to 1 for most weights on the fact questions: it barely
    separates them, while MRR rewards putting the answer's section at the top.
    """
    if not table:
        raise ValueError("table must hold at least one weight")
    return min(table, key=lambda w: (-round(table[w][f"mrr@{k}"], 9), -round(table[w][f"recall@{k}"], 9), w))


# ------------------------------------------------------------------------------------ test cases


def tiny_rankings() -> tuple[Ranking, Ranking]:
    """A BM25 and a dense ranking over five documents, on their real scales (BM25 ~10, cosine < 1)."""
    bm25 = [("a", 14.2), ("b", 11.0), ("c", 6.5), ("d", 3.1)]
    dense = [("c", 0.71), ("e", 0.69), ("a", 0.52), ("b", 0.40)]
    return bm25, dense


def random_rankings(seed: int, n_docs: int = 12) -> tuple[Ranking, Ranking]:
    """Two random rankings with overlapping documents, BM25-scaled and cosine-scaled, best first."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(n_docs)]
    sparse_docs = rng.sample(docs, rng.randint(3, n_docs - 2))
    dense_docs = rng.sample(docs, rng.randint(3, n_docs - 2))
    sparse = sorted(((d, round(rng.uniform(0.5, 25.0), 3)) for d in sparse_docs), key=lambda x: -x[1])
    dense = sorted(((d, round(rng.uniform(0.05, 0.9), 4)) for d in dense_docs), key=lambda x: -x[1])
    return sparse, dense


def _call(fn: Callable, *args):
    """(result, None) or (None, message) when calling the learner's function raises."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - any error in a learner's code becomes feedback
        return None, f"{type(exc).__name__}: {exc}"


def _as_scores(result) -> dict[str, float] | None:
    """A fused ranking as {doc: score}, or None if it is not a list of (doc_id, number) pairs."""
    if not isinstance(result, (list, tuple)):
        return None
    scores = {}
    for item in result:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        doc, score = item
        if isinstance(score, bool) or not isinstance(score, (int, float, np.floating, np.integer)):
            return None
        scores[doc] = float(score)
    return scores


def _same_scores(a: Mapping[str, float] | None, b: Mapping[str, float]) -> bool:
    return a is not None and a.keys() == b.keys() and all(math.isclose(a[d], b[d], abs_tol=_TOL) for d in b)


def _ranking_problem(result, name: str) -> str:
    """A message when result is not a fused ranking best first, else ''."""
    if result is None:
        return f"{name} returns None: {TODO} (replace the ... with your code, and return the ranking)."
    scores = _as_scores(result)
    if scores is None:
        return f"{name} must return a list of (doc_id, score) pairs, best first; got {str(result)[:120]}."
    values = [float(s) for _, s in result]
    if len(scores) != len(values):
        return f"{name} returned a document twice: each document appears once, with its fused score."
    if any(x < y - _TOL for x, y in zip(values, values[1:], strict=False)):
        return (
            f"{name} must return the ranking best first (scores from high to low); got {str(result)[:120]}."
        )
    return ""


def _fmt(ranking: Ranking) -> str:
    return "[" + ", ".join(f"({d!r}, {s:.4g})" for d, s in ranking) + "]"


# ----------------------------------------------------------------------------------- checks, one per function


def check_cosine(fn: Callable, seeds: Sequence[int] = range(20)) -> str:
    """Feedback on a learner's cosine(u, v) for 1-D vectors, against
    ragft.retrieval.embed.cosine_similarity."""
    from ragft.retrieval.embed import cosine_similarity

    cases = [
        (np.array([3.0, 4.0]), np.array([4.0, 3.0])),
        (np.array([1.0, 0.0, 2.0]), np.array([2.0, 0.0, 4.0])),
    ]
    for seed in seeds:
        rng = np.random.default_rng(seed)
        cases.append((rng.normal(size=8) * rng.uniform(0.5, 6), rng.normal(size=8) * rng.uniform(0.5, 6)))
    for u, v in cases:
        result, error = _call(fn, u.copy(), v.copy())
        if error:
            return f"cosine raised {error} on u={u.round(3).tolist()}, v={v.round(3).tolist()}."
        if result is None or result is ...:
            return f"cosine returns None: {TODO} (replace the ... with your code, and return a number)."
        if not is_number(result):
            return f"cosine must return one number, got {type(result).__name__} {str(result)[:80]}."
        value = float(result)
        right = float(cosine_similarity(u[None, :], v[None, :])[0, 0])
        if math.isclose(value, right, abs_tol=_TOL):
            continue
        if math.isclose(value, float(u @ v), rel_tol=1e-6):
            return (
                f"cosine(u, v) = {value:.4f} is the raw dot product: cosine on unnormalized vectors. The dot "
                "product grows with the vectors' lengths; cosine divides it by both norms (here "
                f"{right:.4f}), "
                "so only the direction counts. It equals the dot product only for unit-length vectors."
            )
        if not -1 - _TOL <= value <= 1 + _TOL:
            return f"cosine(u, v) = {value:.4f} lies outside [-1, 1]: divide the dot product by both norms."
        return f"cosine(u, v) = {value:.4f}, expected {right:.4f} (dot product / (norm of u x norm of v))."
    return ""


def check_rrf(fn: Callable, seeds: Sequence[int] = range(30)) -> str:
    """Feedback on a learner's rrf(bm25, dense, k) against ragft.retrieval.fusion.rrf (ranks from 1)."""
    cases = [(*tiny_rankings(), DEFAULT_RRF_K), (*tiny_rankings(), 0)]
    cases += [(*random_rankings(seed), random.Random(seed).choice([1, 5, 60])) for seed in seeds]
    for sparse, dense, k in cases:
        result, error = _call(fn, sparse, dense, k)
        if error:
            return f"rrf raised {error} with k={k} on bm25={_fmt(sparse)}, dense={_fmt(dense)}."
        problem = _ranking_problem(result, "rrf")
        if problem:
            return problem
        scores, right = _as_scores(result), dict(ref_rrf([sparse, dense], k=k))
        if _same_scores(scores, right):
            continue
        where = f"(k={k}, bm25={_fmt(sparse)}, dense={_fmt(dense)})"
        if k >= 1 and _same_scores(scores, dict(ref_rrf([sparse, dense], k=k - 1))):
            return (
                "Ranks off by one in RRF: your scores are 1/(k + rank) with the top document at rank 0 "
                f"{where}. "
                "Ranks start at 1, so the top document of each list adds 1/(k + 1); with enumerate, use "
                "start=1."
            )
        if _same_scores(scores, {d: 1 / (k + s) for d, s in [*sparse, *dense]}) or _same_scores(
            scores,
            dict(ref_rrf([[(d, 0.0) for d, _ in sorted(r, key=lambda x: x[1])] for r in (sparse, dense)], k)),
        ):
            return f"RRF uses each document's rank in each list, not its score {where}."
        both = set(dict(sparse)) & set(dict(dense))
        if scores is not None and any(
            math.isclose(scores.get(d, -1), max(dict(ref_rrf([r], k=k)).get(d, 0) for r in (sparse, dense)))
            for d in both
        ):
            return (
                f"A document found by both lists must get the SUM of its two reciprocal ranks {where}: "
                "that agreement is what lifts it in the fused ranking."
            )
        if scores is not None and scores.keys() != right.keys():
            return (
                f"rrf must rank every document of either list, once each {where}: "
                f"expected {sorted(right)}, got {sorted(scores)}."
            )
        return (
            f"rrf scores differ from 1/(k + rank) summed over both lists {where}: expected "
            f"{_fmt(sorted(right.items(), key=lambda x: -x[1]))}."
        )
    return ""


def check_min_max(fn: Callable, seeds: Sequence[int] = range(20)) -> str:
    """Feedback on a learner's min_max(ranking) against ragft.retrieval.fusion.min_max."""
    cases = [tiny_rankings()[0], tiny_rankings()[1], [("x", 3.0), ("y", 3.0)], [("z", 0.4)]]
    cases += [random_rankings(seed)[seed % 2] for seed in seeds]
    for ranking in cases:
        result, error = _call(fn, ranking)
        if error:
            hint = ""
            if "division" in error and len({s for _, s in ranking}) == 1:
                hint = (
                    " When every score is equal, max - min is 0: give every document 1.0 (all are "
                    "equally best)."
                )
            return f"min_max raised {error} on {_fmt(ranking)}.{hint}"
        if result is None:
            return f"min_max returns None: {TODO} (replace the ... with your code, and return a dict)."
        if not isinstance(result, Mapping):
            return f"min_max must return a dict {{doc_id: score in [0, 1]}}, got {type(result).__name__}."
        right = ref_min_max(ranking)
        if not all(is_number(s) for s in result.values()):
            return f"min_max must map each doc_id to a number, got {str(result)[:120]}."
        scores = {d: float(s) for d, s in result.items()}
        if _same_scores(scores, right):
            continue
        if len({s for _, s in ranking}) == 1:
            return f"min_max({_fmt(ranking)}): with all scores equal, every document gets 1.0; got {scores}."
        return (
            f"min_max({_fmt(ranking)}) should map the best score to 1 and the worst to 0, "
            f"(score - min) / (max - min): expected {right}, got {scores}."
        )
    return ""


def check_convex(fn: Callable, seeds: Sequence[int] = range(30)) -> str:
    """Feedback on a learner's convex(bm25, dense, weight) against ragft.retrieval.fusion.convex
    (normalized)."""
    cases = [(*tiny_rankings(), 0.5), (*tiny_rankings(), 0.0), (*tiny_rankings(), 1.0)]
    cases += [(*random_rankings(seed), random.Random(seed).choice([0.2, 0.5, 0.7])) for seed in seeds]
    for sparse, dense, weight in cases:
        result, error = _call(fn, sparse, dense, weight)
        where = f"(weight={weight}, bm25={_fmt(sparse)}, dense={_fmt(dense)})"
        if error:
            return f"convex raised {error} {where}."
        problem = _ranking_problem(result, "convex")
        if problem:
            return problem
        scores, right = _as_scores(result), dict(ref_convex(sparse, dense, weight))
        if _same_scores(scores, right):
            continue
        if _same_scores(scores, dict(ref_convex(sparse, dense, weight, normalize=False))) or _same_scores(
            scores, {d: s for d, s in ref_convex(sparse, dense, 0.5, normalize=False)}
        ):
            return (
                f"Fusing unnormalized scores: your fused scores add raw BM25 scores (here up to "
                f"{max(s for _, s in sparse):.1f}) to cosine similarities (below 1) {where}. On those "
                "scales BM25 "
                "decides almost every ordering whatever the weight; min-max normalize each list to [0, 1] "
                "first."
            )
        if weight != 0.5 and _same_scores(scores, dict(ref_convex(sparse, dense, 1 - weight))):
            return (
                f"The weight is swapped {where}: weight is dense's share, "
                "fused = weight * dense + (1 - weight) * bm25, so weight 0 is BM25 alone and 1 is dense "
                "alone."
            )
        if scores is not None and scores.keys() < right.keys():
            return (
                f"convex dropped documents that only one list found {where}: rank every document of either "
                f"list; one missing from a list scores 0 there (expected {sorted(right)}, got "
                f"{sorted(scores)})."
            )
        return (
            f"convex scores differ from weight * min_max(dense) + (1 - weight) * min_max(bm25) {where}: "
            f"expected {_fmt(sorted(right.items(), key=lambda x: -x[1]))}."
        )
    return ""


def _metric_cases(seeds: Sequence[int]) -> list[tuple[list[str], dict[str, int], int]]:
    cases = [
        (["a", "b", "c", "d"], {"b": 1}, 3),  # one relevant document, at rank 2
        (["a", "b", "c", "d"], {"b": 1, "d": 1, "z": 1}, 3),  # three relevant, one in the top 3
        (["a", "b", "c", "d", "e"], {"e": 1}, 3),  # relevant, but below the top k
        (["a", "b"], {"q": 1}, 10),  # relevant document never retrieved
        (["a", "b", "c"], {"a": 1}, 10),  # relevant at rank 1
    ]
    for seed in seeds:
        rng = random.Random(seed)
        docs = [f"d{i}" for i in range(15)]
        ranked = rng.sample(docs, rng.randint(1, 15))
        relevant = {d: 1 for d in rng.sample(docs, rng.randint(1, 4))}
        cases.append((ranked, relevant, rng.choice([1, 3, 5, 10])))
    return cases


def is_number(value) -> bool:
    """A real number (Python or NumPy, a 0-d array too), not a bool and not a string that looks like one."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _number(result, name: str) -> tuple[float | None, str]:
    if result is None or result is ...:
        return None, f"{name} returns None: {TODO} (replace the ... with your code, and return a number)."
    if not is_number(result):
        return (
            None,
            f"{name} must return a number between 0 and 1, got {type(result).__name__} {result!r:.80}.",
        )
    return float(result), ""


def check_recall(fn: Callable, seeds: Sequence[int] = range(40)) -> str:
    """Feedback on a learner's recall_at_k(ranked, relevant, k) against
    ragft.retrieval.metrics.recall_at_k."""
    for ranked, relevant, k in _metric_cases(seeds):
        result, error = _call(fn, list(ranked), dict(relevant), k)
        where = f"(ranked={ranked}, relevant={sorted(relevant)}, k={k})"
        if error:
            return f"recall_at_k raised {error} {where}."
        value, problem = _number(result, "recall_at_k")
        if problem:
            return problem
        right = recall_at_k(ranked, relevant, k)
        if math.isclose(value, right, abs_tol=_TOL):
            continue
        found = len(set(ranked[:k]) & set(relevant))
        if math.isclose(value, found / k, abs_tol=_TOL):
            return (
                f"recall_at_k = {value:.3f} is divided by k: recall divided by k instead of by the number of "
                f"relevant documents {where}. That is precision@k; recall asks which share of the "
                f"{len(relevant)} relevant document(s) made the top k: {found}/{len(relevant)} = {right:.3f}."
            )
        if math.isclose(value, found / min(k, len(relevant)), abs_tol=_TOL):
            return (
                "recall_at_k divides by min(k, relevant): divide by the number of relevant documents "
                f"{where}."
            )
        if math.isclose(value, len(set(ranked) & set(relevant)) / len(relevant), abs_tol=_TOL):
            return f"recall_at_k counts relevant documents below rank k: only the top k count {where}."
        return f"recall_at_k = {value:.3f}, expected {right:.3f} {where}."
    return ""


def check_mrr(fn: Callable, seeds: Sequence[int] = range(40)) -> str:
    """Feedback on a learner's mrr_at_k(ranked, relevant, k) (one query's reciprocal rank) against ragft."""
    for ranked, relevant, k in _metric_cases(seeds):
        result, error = _call(fn, list(ranked), dict(relevant), k)
        where = f"(ranked={ranked}, relevant={sorted(relevant)}, k={k})"
        if error:
            hint = (
                " Ranks start at 1: the top document has rank 1, so 1/rank is 1."
                if "division" in error
                else ""
            )
            return f"mrr_at_k raised {error} {where}.{hint}"
        value, problem = _number(result, "mrr_at_k")
        if problem:
            return problem
        right = reciprocal_rank_at_k(ranked, relevant, k)
        if math.isclose(value, right, abs_tol=_TOL):
            continue
        if right == 0:
            return (
                f"mrr_at_k = {value:.3f} but nothing relevant is in the top {k} {where}: MRR not zero when "
                "nothing relevant is in the top k. A relevant document further down, or not found at all, "
                "earns 0."
            )
        first = next(i for i, d in enumerate(ranked, start=1) if relevant.get(d, 0) > 0)
        if math.isclose(value, 1 / (first + 1), abs_tol=_TOL) or math.isclose(
            value, 1 / max(first - 1, 1e-9)
        ):
            return (
                "mrr_at_k is off by one: ranks start at 1, so a first relevant document at rank "
                f"{first} gives 1/{first} {where}."
            )
        return (
            f"mrr_at_k = {value:.3f}, expected {right:.3f}: 1 / rank of the first relevant document {where}."
        )
    return ""


def check_tuned_weight(chosen, dev: LabSplit, test: LabSplit | None = None, k: int = K) -> str:
    """Feedback on the weight a learner chose: the lab's rule applied to the dev split (ragft's fusion)."""
    if chosen is None or chosen is ...:
        return f"best_weight is None: {TODO} (tune the weight on the dev split and store it in best_weight)."
    if isinstance(chosen, bool) or not isinstance(chosen, (int, float, np.floating)):
        return f"best_weight must be one of the WEIGHTS (a number), got {chosen!r}."
    chosen = float(chosen)
    if not any(math.isclose(chosen, w) for w in WEIGHTS):
        return f"best_weight must be one of the WEIGHTS {list(WEIGHTS)}, got {chosen!r}."
    dev_best = best_weight(weight_table(dev, k=k), k)
    if math.isclose(chosen, dev_best):
        return ""
    if test is not None:
        test_best = best_weight(weight_table(test, k=k), k)
        if math.isclose(chosen, test_best):
            return (
                f"best_weight = {chosen} is the best weight on the TEST split, not on dev ({dev_best}): "
                "tuning on "
                "the test split. A weight picked with the test qrels makes the test score an optimistic "
                "guess, "
                "not a measurement; tune on dev, then report test once."
            )
    return (
        f"best_weight = {chosen}, but on the dev split the lab's rule (highest MRR@{k}, then recall@{k}, "
        "then "
        f"the smaller weight) picks {dev_best}."
    )


def check_fusion_on_split(fn: Callable, split: LabSplit, method: str, arg: float) -> str:
    """Feedback on a learner's rrf (arg = k) or convex (arg = weight) over every query of a real split."""
    if method not in ("rrf", "convex"):
        raise ValueError(f"method must be 'rrf' or 'convex', got {method!r}")
    for qid, sparse, dense in zip(split.query_ids, split.bm25, split.dense, strict=True):
        result, error = _call(fn, list(sparse), list(dense), arg)
        if error:
            return f"{method} raised {error} on the {split.split} query {qid!r}."
        problem = _ranking_problem(result, method)
        if problem:
            return problem
        right = ref_rrf([sparse, dense], k=int(arg)) if method == "rrf" else ref_convex(sparse, dense, arg)
        if not _same_scores(_as_scores(result), dict(right)):
            return (
                f"{method} disagrees with the reference on the {split.split} query {qid!r} "
                f"({split.queries[split.query_ids.index(qid)]!r}): check the random cases first."
            )
    return ""


def check_test_score(convex_fn: Callable, chosen, dev: LabSplit, test: LabSplit, k: int = K) -> str:
    """Feedback on the learner's convex fusion at their chosen weight, scored on the test split: it must
    score what ragft's convex fusion scores at the weight tuned on dev."""
    dev_best = best_weight(weight_table(dev, k=k), k)
    right = mean_metrics(
        test, [ref_convex(s, d, dev_best) for s, d in zip(test.bm25, test.dense, strict=True)], k
    )
    if isinstance(chosen, bool) or not isinstance(chosen, (int, float, np.floating)):
        return f"best_weight must be a number to score the test split, got {chosen!r} ({TODO}?)."
    fused = []
    for sparse, dense in zip(test.bm25, test.dense, strict=True):
        result, error = _call(convex_fn, list(sparse), list(dense), float(chosen))
        if error or _ranking_problem(result, "convex"):
            return f"convex fails on the test split ({error or _ranking_problem(result, 'convex')})."
        fused.append([(d, float(s)) for d, s in result])
    got = mean_metrics(test, fused, k)
    if all(math.isclose(got[m], right[m], abs_tol=1e-9) for m in right):
        return ""
    shown = ", ".join(f"{m} {got[m]:.3f} (reference {right[m]:.3f})" for m in right)
    return (
        f"On the test split your convex fusion at weight {chosen} scores {shown}, where ragft's convex "
        "fusion "
        f"at the dev-tuned weight scores the reference: check best_weight and convex."
    )
