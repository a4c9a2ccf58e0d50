"""Fusing the same two rankings many ways, without searching again (notebook 04's experiments).

`collect_runs` searches BM25 and dense once per query set; `fused_rankings` then re-fuses those chunk
lists with any fusion, weight or RRF k and collapses chunks to documents by their best chunk, as
`ragft.retrieval.retrieval_eval.search_documents` does. (`python -m ragft eval-retrieval` fuses document
lists instead, each document scored from all its chunks: see ragft.retrieval.defaults_study.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ragft.retrieval.chunking import Chunk
from ragft.retrieval.fusion import DEFAULT_RRF_K, FUSIONS, Pins, Ranking, fuse
from ragft.retrieval.metrics import DEFAULT_METRICS, evaluate, per_query, run_from_rankings
from ragft.retrieval.retrieval_eval import CHUNK_DEPTH_FACTOR, chunk_collection
from ragft.retrieval.retrieve import (
    FUSION_DEPTH,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    best_chunk_per_doc,
)
from ragft.runtime.stats import paired_bootstrap as paired_bootstrap  # re-exported for notebook 04

SINGLE = ("bm25", "dense")


@dataclass
class SearchRuns:
    """BM25's and dense's chunk rankings for every judged query of one set and split."""

    name: str
    split: str
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]
    sparse: list[Ranking]
    dense: list[Ranking]
    chunk_to_doc: dict[str, str]
    depth: int  # chunks kept per fused list before collapsing (as search_documents does)
    documents: int = 100  # documents kept per query after collapsing
    pins: Pins | None = None  # the BM25 index's BM25Retriever.pins, for routed fusion

    def __post_init__(self) -> None:
        n = len(self.query_ids)
        if not (len(self.query_texts) == len(self.sparse) == len(self.dense) == n):
            raise ValueError("query_ids, query_texts, sparse and dense must have one entry per query")


def build_hybrid(corpus: dict[str, dict], embedder=None, show_progress: bool = True):
    """Chunk a BEIR corpus with the default chunker and index it both ways: (chunks, HybridRetriever)."""
    chunks = chunk_collection(corpus)
    ids, texts = [c.chunk_id for c in chunks], [c.indexed_text for c in chunks]
    bm25 = BM25Retriever(ids, texts)
    dense = DenseRetriever(ids, texts, embedder=embedder, show_progress=show_progress)
    return chunks, HybridRetriever(bm25, dense)


def collect_runs(
    retriever: HybridRetriever,
    chunks: Sequence[Chunk],
    directory: str | Path,
    split: str = "test",
    k: int = 10,
) -> SearchRuns:
    """Search every judged query of a BEIR folder's split with BM25 and dense, once, to fusion depth."""
    from ragft.corpus.data import load_beir

    _, queries, qrels = load_beir(directory)
    if split not in qrels:
        raise ValueError(f"split must be one of {sorted(qrels)} (files in {directory}/qrels), got {split!r}")
    judged = {qid: rel for qid, rel in qrels[split].items() if qid in queries}
    query_ids = sorted(judged)
    texts = [queries[q]["text"] for q in query_ids]
    documents = max(k, 100)  # as evaluate_collection: recall@100 needs 100 documents
    depth = min(len(chunks), max(documents * CHUNK_DEPTH_FACTOR, documents))
    sparse, dense = retriever.search_both(texts, depth)
    return SearchRuns(
        name=Path(directory).name,
        split=split,
        query_ids=query_ids,
        query_texts=texts,
        qrels=judged,
        sparse=sparse,
        dense=dense,
        chunk_to_doc={c.chunk_id: c.doc_id for c in chunks},
        depth=depth,
        documents=documents,
        pins=retriever.bm25.pins,
    )


def chunk_rankings(
    runs: SearchRuns, method: str = "rrf", weight: float = 0.5, rrf_k: int = DEFAULT_RRF_K
) -> list[Ranking]:
    """Chunk rankings (before collapsing to documents) for "bm25", "dense", or a fusion in FUSIONS."""
    if method not in (*SINGLE, *FUSIONS):
        raise ValueError(f"method must be one of {[*SINGLE, *FUSIONS]}, got {method!r}")
    out = []
    for query, sparse, dense in zip(runs.query_texts, runs.sparse, runs.dense, strict=True):
        if method == "bm25":
            out.append(sparse[: runs.depth])
        elif method == "dense":
            out.append(dense[: runs.depth])
        else:
            # HybridRetriever fuses lists of max(FUSION_DEPTH, depth) chunks, then keeps depth of them.
            top = max(FUSION_DEPTH, runs.depth)
            fused = fuse(sparse[:top], dense[:top], method, weight, rrf_k, query=query, pins=runs.pins)
            out.append(fused[: runs.depth])
    return out


def fused_rankings(
    runs: SearchRuns, method: str = "rrf", weight: float = 0.5, rrf_k: int = DEFAULT_RRF_K
) -> list[Ranking]:
    """Document rankings for one method: "bm25", "dense", or a fusion in FUSIONS (weight = dense's share)."""
    return [
        best_chunk_per_doc(chunks, runs.chunk_to_doc)[: runs.documents]
        for chunks in chunk_rankings(runs, method, weight, rrf_k)
    ]


def score(runs: SearchRuns, rankings: Sequence[Ranking], metrics: Sequence[str] = DEFAULT_METRICS) -> dict:
    """Mean metrics of document rankings over the judged queries (the same numbers as eval-retrieval)."""
    return evaluate(run_from_rankings(runs.query_ids, rankings), runs.qrels, metrics)


def per_query_scores(runs: SearchRuns, rankings: Sequence[Ranking], metric: str = "ndcg@10") -> dict:
    """One metric for every query: where a method wins or loses, query by query."""
    return per_query(run_from_rankings(runs.query_ids, rankings), runs.qrels, metric)


def evaluate_configs(runs_by_set: dict[str, SearchRuns], configs: Iterable[dict]) -> pd.DataFrame:
    """One row per (set, config): config keys method, weight, rrf_k; columns the default metrics."""
    rows = []
    for config in configs:
        method = config["method"]
        weight = config.get("weight", 0.5)
        rrf_k = config.get("rrf_k", DEFAULT_RRF_K)
        for name, runs in runs_by_set.items():
            metrics = score(runs, fused_rankings(runs, method, weight, rrf_k))
            row = {"set": name, "method": method, "weight": weight, "rrf_k": rrf_k}
            if method in SINGLE:
                row.update(weight=None, rrf_k=None)
            elif method != "rrf":
                row["rrf_k"] = None
            rows.append({**row, **metrics})
    return pd.DataFrame(rows)


def single_methods(runs_by_set: dict[str, SearchRuns], metric: str = "ndcg@10") -> pd.DataFrame:
    """BM25 and dense per set, with the better of the two and how far apart they are."""
    table = evaluate_configs(runs_by_set, [{"method": m} for m in SINGLE])
    wide = table.pivot(index="set", columns="method", values=metric)
    wide["best single"] = wide[["bm25", "dense"]].max(axis=1)
    wide["gap"] = (wide["bm25"] - wide["dense"]).abs()
    return wide


def no_loss_margins(
    runs_by_set: dict[str, SearchRuns], configs: Iterable[dict], metric: str = "ndcg@10"
) -> pd.DataFrame:
    """For each fusion config and set: hybrid minus the better single method (>= 0: no loss).

    Rows are configs (a readable label), columns the sets plus the worst margin over the sets.
    """
    best = single_methods(runs_by_set, metric)["best single"]
    rows = {}
    for config in configs:
        label = config_label(config)
        rows[label] = {
            name: score(runs, fused_rankings(runs, **_fusion_args(config)), [metric])[metric] - best[name]
            for name, runs in runs_by_set.items()
        }
    table = pd.DataFrame(rows).T
    table["worst"] = table.min(axis=1)
    return table


def _fusion_args(config: dict) -> dict:
    return {
        "method": config["method"],
        "weight": config.get("weight", 0.5),
        "rrf_k": config.get("rrf_k", DEFAULT_RRF_K),
    }


def config_label(config: dict) -> str:
    """'rrf k=60', 'convex w=0.3', 'raw', 'routed', 'bm25', 'dense'."""
    method = config["method"]
    if method == "rrf":
        weight = config.get("weight", 0.5)
        extra = "" if weight == 0.5 else f" w={weight:g}"
        return f"rrf k={config.get('rrf_k', DEFAULT_RRF_K)}{extra}"
    if method == "convex":
        return f"convex w={config.get('weight', 0.5):g}"
    return method


def tune_weight(
    runs: SearchRuns,
    method: str,
    weights: Sequence[float],
    metric: str = "ndcg@10",
    rrf_k: int = DEFAULT_RRF_K,
) -> tuple[float, pd.Series]:
    """The weight with the best mean metric on these runs (ties: the one closest to 0.5), and the curve.

    Call it on a dev split only: a weight chosen on the test split makes the test score optimistic.
    """
    if not weights:
        raise ValueError("weights must not be empty")
    curve = pd.Series(
        {w: score(runs, fused_rankings(runs, method, w, rrf_k), [metric])[metric] for w in weights},
        name=metric,
    )
    return pick_weight(curve), curve


def pick_weight(curve: pd.Series) -> float:
    """The weight (index) with the highest value; ties go to the weight closest to 0.5, then the smaller."""
    if curve.empty:
        raise ValueError("curve must not be empty")
    top = curve.max()
    return float(min((w for w in curve.index if curve[w] >= top - 1e-12), key=lambda w: (abs(w - 0.5), w)))


def subset(runs: SearchRuns, positions: Sequence[int], split: str | None = None) -> SearchRuns:
    """The same runs restricted to some queries (by position), e.g. to hold part of a dev split out."""
    if not positions or min(positions) < 0 or max(positions) >= len(runs.query_ids):
        raise ValueError(f"positions must be non-empty and within 0..{len(runs.query_ids) - 1}")
    ids = [runs.query_ids[i] for i in positions]
    return SearchRuns(
        name=runs.name,
        split=split or runs.split,
        query_ids=ids,
        query_texts=[runs.query_texts[i] for i in positions],
        qrels={q: runs.qrels[q] for q in ids},
        sparse=[runs.sparse[i] for i in positions],
        dense=[runs.dense[i] for i in positions],
        chunk_to_doc=runs.chunk_to_doc,
        depth=runs.depth,
        documents=runs.documents,
    )


def halves(runs: SearchRuns) -> tuple[SearchRuns, SearchRuns]:
    """Alternate queries (sorted ids) into two disjoint halves: one to train on, one to tune on."""
    n = len(runs.query_ids)
    if n < 2:
        raise ValueError(f"runs must have at least 2 queries to halve, got {n}")
    first = subset(runs, list(range(0, n, 2)), f"{runs.split}-a")
    second = subset(runs, list(range(1, n, 2)), f"{runs.split}-b")
    return first, second


def worst_margin_choice(margins: pd.DataFrame) -> str:
    """The config whose worst margin over the sets is largest (ties: the first listed)."""
    if margins.empty:
        raise ValueError("margins must have at least one config")
    return str(margins["worst"].idxmax())


def gold_rank(ranking: Ranking, relevant: dict[str, int]) -> int | None:
    """1-based rank of the first relevant document, or None when none was retrieved."""
    for rank, (doc_id, _) in enumerate(ranking, start=1):
        if relevant.get(doc_id, 0) > 0:
            return rank
    return None


def rank_changes(runs: SearchRuns, before: Sequence[Ranking], after: Sequence[Ranking]) -> pd.DataFrame:
    """Per query: the gold document's rank before and after (None = not in the list), and the query text."""
    rows = []
    for qid, text, a, b in zip(runs.query_ids, runs.query_texts, before, after, strict=True):
        rows.append(
            {
                "query_id": qid,
                "query": text,
                "before": gold_rank(a, runs.qrels[qid]),
                "after": gold_rank(b, runs.qrels[qid]),
            }
        )
    return pd.DataFrame(rows).astype({"before": "Int64", "after": "Int64"})
