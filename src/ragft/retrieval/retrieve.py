"""Three retrievers behind one interface: `search(queries, k) -> [[(doc_id, score), ...], ...]`.

BM25 (bm25s, lexical), dense (MiniLM vectors in a faiss index, inner product on normalized
vectors = cosine) and hybrid (both, fused; see ragft.retrieval.fusion).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragft.retrieval.fusion import DEFAULT_RRF_K, FUSIONS, PIN_MAX_TEXTS, Ranking, fuse

METHODS = ("bm25", "dense", "hybrid")
INDEXES = ("flat", "hnsw", "ivf")
# The default hybrid: routed fusion (fusion.route_query picks dense's weight per query, ROUTE_WEIGHTS; both
# lists rescaled by ROUTE_SCALE). Chosen in notebook 04 on dev collections (facts dev, identifiers-dev,
# celery-faq, scrapy-faq): the candidate whose worst margin against the better single method is largest (the
# cheaper to index among those within 0.01); see data/experiments/retrieval_defaults.json. DEFAULT_WEIGHT is
# dense's share when convex or rrf is asked for without a weight.
DEFAULT_FUSION = "routed"
DEFAULT_WEIGHT = 0.55
FUSION_DEPTH = 100  # chunks taken from each list before fusing (more when a search asks for more)
MAX_K = 10_000


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")


def _check_ids(doc_ids: Sequence[str], n: int, what: str) -> list[str]:
    doc_ids = list(doc_ids)
    if len(doc_ids) != n:
        raise ValueError(f"doc_ids has {len(doc_ids)} entries but {what} has {n}")
    if not doc_ids:
        raise ValueError("doc_ids must not be empty: there is nothing to search")
    return doc_ids


def bm25_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased word tokens of 2+ characters, English stopwords removed (bm25s' defaults).

    Underscores count as word characters, so DEFAULT_AUTO_FIELD stays one token.
    """
    import bm25s

    return bm25s.tokenize(list(texts), return_ids=False, show_progress=False)


def term_postings(tokenized: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """For each term, the sorted indexes of the texts it occurs in."""
    lists: dict[str, list[int]] = {}
    for i, terms in enumerate(tokenized):
        for term in set(terms):
            lists.setdefault(term, []).append(i)
    return {term: np.asarray(ids, dtype=np.int32) for term, ids in lists.items()}


def texts_with_all_terms(postings: dict[str, np.ndarray], name: str) -> int:
    """How many indexed texts hold every BM25 term of a name (0 when it leaves no term, like "4.2")."""
    terms = bm25_tokenize([name])[0]
    if not terms or any(term not in postings for term in terms):
        return 0
    common = postings[terms[0]]
    for term in terms[1:]:
        common = np.intersect1d(common, postings[term], assume_unique=True)
    return len(common)


def pinned(postings: dict[str, np.ndarray], name: str, max_texts: int = PIN_MAX_TEXTS) -> bool:
    """Whether BM25 can single out a name: 1 to max_texts indexed texts hold all of its terms.

    A version number leaves no term (one-character tokens are dropped); a common name matches too much."""
    return 0 < texts_with_all_terms(postings, name) <= max_texts


class BM25Retriever:
    """Okapi BM25 over the texts (k1=1.5, b=0.75, Lucene's variant), via bm25s."""

    def __init__(
        self, doc_ids: Sequence[str], texts: Sequence[str], k1: float = 1.5, b: float = 0.75
    ) -> None:
        import bm25s

        self.doc_ids = _check_ids(doc_ids, len(texts), "texts")
        tokens = bm25_tokenize(texts)
        self.index = bm25s.BM25(k1=k1, b=b)
        self.index.index(tokens, show_progress=False)
        self.postings = term_postings(tokens)

    def pins(self, name: str, max_texts: int = PIN_MAX_TEXTS) -> bool:
        """Whether BM25 can single out this name in this index (see pinned)."""
        return pinned(self.postings, name, max_texts)

    def search(self, queries: Sequence[str], k: int = 10) -> list[Ranking]:
        _check_k(k)
        k = min(k, len(self.doc_ids))
        tokens = bm25_tokenize(queries)
        # bm25s cannot rank an empty query; give it a token that matches nothing.
        tokens = [t if t else ["\x00"] for t in tokens]
        docs, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            [(self.doc_ids[int(d)], float(s)) for d, s in zip(row_docs, row_scores, strict=True) if s > 0]
            for row_docs, row_scores in zip(docs, scores, strict=True)
        ]


IVF_MIN_POINTS_PER_LIST = 39  # faiss's k-means default: it warns when trained on fewer points per centroid


def ivf_lists(n: int) -> int:
    """How many clusters an IVF index over n vectors gets: sqrt(n), the usual rule, but no more than k-means
    can train with IVF_MIN_POINTS_PER_LIST points each (1,434 vectors: 36 lists, not 37), and at least 1."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return max(1, min(int(np.sqrt(n)), n // IVF_MIN_POINTS_PER_LIST))


def build_faiss_index(vectors: np.ndarray, kind: str = "flat", seed: int = 0):
    """A faiss inner-product index: exact (flat), graph (HNSW, M=32) or clustered (IVF, `ivf_lists` lists)."""
    import faiss

    if kind not in INDEXES:
        raise ValueError(f"index must be one of {list(INDEXES)}, got {kind!r}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
    else:
        lists = ivf_lists(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        # k-means wants enough points per centroid: below that, one list holds all the vectors
        index.cp.min_points_per_centroid = min(index.cp.min_points_per_centroid, n // lists)
        index.train(vectors)
        index.nprobe = max(1, lists // 8)
    index.add(vectors)
    return index


class DenseRetriever:
    """Cosine similarity between MiniLM vectors, searched with faiss (vectors cached on disk)."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        texts: Sequence[str] | None = None,
        vectors: np.ndarray | None = None,
        embedder=None,
        index: str = "flat",
        show_progress: bool = True,
    ) -> None:
        from ragft.retrieval.embed import embed_texts

        if embedder is None:
            from ragft.runtime.models import load_embedder

            embedder = load_embedder()
        self.embedder = embedder
        if vectors is None:
            if texts is None:
                raise ValueError("give texts (to embed) or vectors (already embedded)")
            vectors = embed_texts(texts, embedder, show_progress=show_progress)
        self.doc_ids = _check_ids(doc_ids, len(vectors), "vectors")
        self.vectors = vectors
        self.index = build_faiss_index(vectors, index)

    def search(self, queries: Sequence[str], k: int = 10) -> list[Ranking]:
        _check_k(k)
        k = min(k, len(self.doc_ids))
        query_vectors = self.embedder.encode(list(queries))
        scores, rows = self.index.search(np.ascontiguousarray(query_vectors), k)
        return [
            [(self.doc_ids[int(r)], float(s)) for r, s in zip(row, row_scores, strict=True) if r >= 0]
            for row, row_scores in zip(rows, scores, strict=True)
        ]


class HybridRetriever:
    """BM25 and dense, each to `depth`, fused (DEFAULT_FUSION unless told; see ragft.retrieval.fusion)."""

    def __init__(
        self,
        bm25: BM25Retriever,
        dense: DenseRetriever,
        fusion: str = DEFAULT_FUSION,
        weight: float = DEFAULT_WEIGHT,
        rrf_k: int = DEFAULT_RRF_K,
        depth: int = FUSION_DEPTH,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {list(FUSIONS)}, got {fusion!r}")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be between 0 and 1, got {weight}")
        _check_k(depth)
        self.bm25, self.dense = bm25, dense
        self.fusion, self.weight, self.rrf_k, self.depth = fusion, weight, rrf_k, depth

    def search_both(
        self, queries: Sequence[str], k: int | None = None
    ) -> tuple[list[Ranking], list[Ranking]]:
        """Both input rankings, to depth (or k if larger): fuse them many ways without searching again."""
        depth = max(self.depth, k or 0)
        return self.bm25.search(queries, depth), self.dense.search(queries, depth)

    def search(self, queries: Sequence[str], k: int = 10) -> list[Ranking]:
        _check_k(k)
        sparse, dense = self.search_both(queries, k)
        return [
            fuse(s, d, self.fusion, self.weight, self.rrf_k, query=q, pins=self.bm25.pins)[:k]
            for q, s, d in zip(queries, sparse, dense, strict=True)
        ]


def make_retriever(
    method: str,
    doc_ids: Sequence[str],
    texts: Sequence[str],
    fusion: str = DEFAULT_FUSION,
    weight: float = DEFAULT_WEIGHT,
    show_progress: bool = True,
):
    """One of METHODS over the same texts."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "bm25":
        return BM25Retriever(doc_ids, texts)
    if method == "dense":
        return DenseRetriever(doc_ids, texts, show_progress=show_progress)
    return HybridRetriever(
        BM25Retriever(doc_ids, texts),
        DenseRetriever(doc_ids, texts, show_progress=show_progress),
        fusion=fusion,
        weight=weight,
    )


def best_chunk_per_doc(ranking: Ranking, chunk_to_doc: dict[str, str]) -> Ranking:
    """Collapse a ranking of chunks into a ranking of documents, each scored by its best chunk."""
    seen: dict[str, float] = {}
    for chunk_id, score in ranking:
        doc_id = chunk_to_doc[chunk_id]
        if doc_id not in seen:
            seen[doc_id] = score
    return list(seen.items())
