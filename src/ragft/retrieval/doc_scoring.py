"""Scoring a document from its chunks: best chunk (MaxP), first chunk (FirstP), a blend of the two, or one
vector for the whole document (the normalized mean of its chunk vectors).

Chunk scores come as a (queries x chunks) matrix whose columns are grouped by document, in order (as
`chunk_collection` returns them); every function returns a (queries x documents) matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DOC_SCORINGS = ("maxp", "firstp", "blend", "meanvec")
DEFAULT_FIRST_SHARE = 0.5  # "blend": (1 - share) * best chunk + share * first chunk


def doc_starts(chunk_doc_ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(document ids in order, index of each document's first chunk); chunks must be grouped by document."""
    doc_ids: list[str] = []
    starts: list[int] = []
    for i, doc_id in enumerate(chunk_doc_ids):
        if not doc_ids or doc_ids[-1] != doc_id:
            doc_ids.append(doc_id)
            starts.append(i)
    if len(set(doc_ids)) != len(doc_ids):
        raise ValueError("chunks are not grouped by document: a document's chunks must be contiguous")
    return doc_ids, np.asarray(starts, dtype=np.int64)


def max_scores(chunk_scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each document's best chunk score (MaxP)."""
    return np.maximum.reduceat(chunk_scores, starts, axis=1)


def first_scores(chunk_scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each document's first chunk score (FirstP): its title and lead."""
    return chunk_scores[:, starts]


def blend_scores(
    chunk_scores: np.ndarray, starts: np.ndarray, share: float = DEFAULT_FIRST_SHARE
) -> np.ndarray:
    """(1 - share) * MaxP + share * FirstP: the best passage, pulled towards what the document opens with."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    return (1 - share) * max_scores(chunk_scores, starts) + share * first_scores(chunk_scores, starts)


def mean_vectors(chunk_vectors: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """One L2-normalized vector per document: the mean of its chunks' vectors."""
    sums = np.add.reduceat(chunk_vectors, starts, axis=0)
    return sums / np.clip(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12, None)


def doc_scores(
    scoring: str,
    chunk_scores: np.ndarray,
    starts: np.ndarray,
    query_vectors: np.ndarray | None = None,
    chunk_vectors: np.ndarray | None = None,
    share: float = DEFAULT_FIRST_SHARE,
) -> np.ndarray:
    """(queries x documents) scores by one of DOC_SCORINGS ("meanvec" needs the query and chunk vectors)."""
    if scoring == "maxp":
        return max_scores(chunk_scores, starts)
    if scoring == "firstp":
        return first_scores(chunk_scores, starts)
    if scoring == "blend":
        return blend_scores(chunk_scores, starts, share)
    if scoring == "meanvec":
        if query_vectors is None or chunk_vectors is None:
            raise ValueError("meanvec scoring needs query_vectors and chunk_vectors")
        return query_vectors @ mean_vectors(chunk_vectors, starts).T
    raise ValueError(f"scoring must be one of {list(DOC_SCORINGS)}, got {scoring!r}")


def top_documents(scores: np.ndarray, doc_ids: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
    """Each row's k best documents as (doc_id, score), best first, ties broken by document order."""
    k = min(k, scores.shape[1])
    out = []
    for row in scores:
        top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
        top = top[np.lexsort((top, -row[top]))]
        out.append([(doc_ids[i], float(row[i])) for i in top])
    return out
