"""Ranking documents (not chunks): every chunk is scored, each document gets a score from its chunks
(ragft.retrieval.doc_scoring), and BM25's and dense's document lists are fused (ragft.retrieval.fusion).

This is what `python -m ragft eval-retrieval` measures; `ragft.retrieval.defaults_study` computes the same
rankings for many settings at once and chose the defaults below on dev collections (notebook 04).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from ragft.retrieval.chunking import Chunk
from ragft.retrieval.doc_scoring import doc_scores, doc_starts, top_documents
from ragft.retrieval.fusion import Ranking, fuse
from ragft.retrieval.retrieve import DEFAULT_FUSION, DEFAULT_WEIGHT

METHODS = ("bm25", "dense", "hybrid")
# Chosen in notebook 04 on dev collections (`python -m ragft bench defaults`); see retrieval_defaults.json.
DEFAULT_SCORING = "firstp"  # dense: a document's first chunk (title and lead); only those are embedded
BM25_SCORING = "maxp"  # BM25: a document's best chunk
DEFAULT_VARIANT = "auto"  # bf16 where the CPU has bf16 instructions (same rankings, faster), else fp32
DEPTH = 100  # documents taken from each list before fusing
BM25_CHUNK_DEPTH = 1000
QUERY_BATCH = 64  # queries scored against every chunk at once (64 x 100,000 chunks: 25 MB)


def dense_doc_scores(
    query_vectors: np.ndarray, chunk_vectors: np.ndarray, starts: np.ndarray, scoring: str = DEFAULT_SCORING
) -> np.ndarray:
    """(queries x documents) dense scores under a document scoring, a batch of queries at a time.

    For "firstp", chunk_vectors may hold only each document's first chunk (one row per document)."""
    if scoring == "firstp" and len(chunk_vectors) == len(starts):
        starts = np.arange(len(starts))
    rows = []
    for start in range(0, len(query_vectors), QUERY_BATCH):
        batch = query_vectors[start : start + QUERY_BATCH]
        rows.append(doc_scores(scoring, batch @ chunk_vectors.T, starts, batch, chunk_vectors))
    return np.concatenate(rows) if rows else np.zeros((0, len(starts)), dtype=np.float32)


def score_matrix(rankings: Sequence[Ranking], ids: Sequence[str]) -> np.ndarray:
    """(rankings x ids) scores: each ranking's scores at its ids' positions, 0 for ids it does not hold."""
    position = {item: i for i, item in enumerate(ids)}
    matrix = np.zeros((len(rankings), len(ids)), dtype=np.float32)
    for row, ranking in enumerate(rankings):
        for item, score in ranking:
            matrix[row, position[item]] = score
    return matrix


def bm25_doc_rankings(retriever, starts: np.ndarray, doc_ids: list[str], queries: Sequence[str], k: int):
    """BM25 document rankings: each document scored by its best chunk among each query's best chunks."""
    out = []
    for ranking in retriever.search(list(queries), min(BM25_CHUNK_DEPTH, len(retriever.doc_ids))):
        scores = score_matrix([ranking], retriever.doc_ids)
        out += matched(top_documents(np.maximum.reduceat(scores, starts, axis=1), doc_ids, k))
    return out


def matched(rankings: list[Ranking]) -> list[Ranking]:
    """Drop documents scored 0 (BM25: no query word in them): they were not found, whatever their order."""
    return [[(d, s) for d, s in ranking if s > 0] for ranking in rankings]


class DocumentRetriever:
    """BM25, dense or hybrid over a chunked collection; search() ranks documents (see the module doc)."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        method: str = "hybrid",
        embedder=None,
        fusion: str = DEFAULT_FUSION,
        weight: float = DEFAULT_WEIGHT,
        scoring: str = DEFAULT_SCORING,
        show_progress: bool = True,
        route_weights: dict[str, float] | None = None,
        scale: str | None = None,
        pin_max: int | None = None,
    ) -> None:
        """route_weights, scale and pin_max (how many chunks may hold a name BM25 pins) reach fuse (None: the
        defaults chosen for the released MiniLM)."""
        from ragft.retrieval.retrieve import BM25Retriever

        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        self.method, self.fusion, self.weight, self.scoring = method, fusion, weight, scoring
        self.route_weights, self.scale, self.pin_max = route_weights, scale, pin_max
        self.doc_ids, self.starts = doc_starts([c.doc_id for c in chunks])
        texts = [c.indexed_text for c in chunks]
        self.bm25 = BM25Retriever([c.chunk_id for c in chunks], texts) if method != "dense" else None
        self.embedder, self.vectors = None, None
        if method != "bm25":
            from ragft.retrieval.embed import embed_texts

            if embedder is None:
                from ragft.retrieval.quantize import embedder_variant

                embedder = embedder_variant(DEFAULT_VARIANT)
            self.embedder = embedder
            if scoring == "firstp":  # only the first chunk of each document is ever scored
                texts = [texts[i] for i in self.starts]
            self.vectors = embed_texts(texts, embedder, show_progress=show_progress)

    def search_both(self, queries: Sequence[str], k: int = DEPTH) -> tuple[list[Ranking], list[Ranking]]:
        """BM25's and dense's document rankings (k each; empty lists for a method not built)."""
        queries = list(queries)
        sparse = bm25_doc_rankings(self.bm25, self.starts, self.doc_ids, queries, k) if self.bm25 else []
        dense = []
        if self.embedder is not None:
            query_vectors = self.embedder.encode(queries)
            dense = top_documents(
                dense_doc_scores(query_vectors, self.vectors, self.starts, self.scoring), self.doc_ids, k
            )
        return sparse, dense

    def search(self, queries: Sequence[str], k: int = 10) -> list[Ranking]:
        """The k best documents per query, best first."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        sparse, dense = self.search_both(queries, max(k, DEPTH))
        if self.method == "bm25":
            return [r[:k] for r in sparse]
        if self.method == "dense":
            return [r[:k] for r in dense]
        pins = self.bm25.pins if self.pin_max is None else partial(self.bm25.pins, max_texts=self.pin_max)
        return [
            fuse(
                s,
                d,
                self.fusion,
                self.weight,
                query=q,
                route_weights=self.route_weights,
                pins=pins,
                scale=self.scale,
            )[:k]
            for q, s, d in zip(queries, sparse, dense, strict=True)
        ]
