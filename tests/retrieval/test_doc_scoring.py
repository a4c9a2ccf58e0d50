"""ragft.retrieval.doc_scoring: a document's score from its chunks' scores."""

import numpy as np
import pytest

from ragft.retrieval import doc_scoring as ds

# Two queries; chunks of documents a (3 chunks), b (1), c (2), grouped in order.
CHUNK_DOCS = ["a", "a", "a", "b", "c", "c"]
SCORES = np.array([[0.1, 0.9, 0.2, 0.5, 0.4, 0.3], [0.8, 0.1, 0.1, 0.2, 0.1, 0.7]], dtype=np.float32)


def test_doc_starts_groups_chunks_and_refuses_interleaved_documents():
    doc_ids, starts = ds.doc_starts(CHUNK_DOCS)
    assert doc_ids == ["a", "b", "c"] and starts.tolist() == [0, 3, 4]
    with pytest.raises(ValueError, match="grouped"):
        ds.doc_starts(["a", "b", "a"])


def test_maxp_firstp_and_blend():
    _, starts = ds.doc_starts(CHUNK_DOCS)
    np.testing.assert_allclose(ds.max_scores(SCORES, starts), [[0.9, 0.5, 0.4], [0.8, 0.2, 0.7]])
    np.testing.assert_allclose(ds.first_scores(SCORES, starts), [[0.1, 0.5, 0.4], [0.8, 0.2, 0.1]])
    np.testing.assert_allclose(ds.blend_scores(SCORES, starts, 0.5), [[0.5, 0.5, 0.4], [0.8, 0.2, 0.4]])
    np.testing.assert_allclose(
        ds.doc_scores("blend", SCORES, starts, share=1.0), ds.first_scores(SCORES, starts)
    )
    with pytest.raises(ValueError, match="share"):
        ds.blend_scores(SCORES, starts, 1.5)
    with pytest.raises(ValueError, match="scoring"):
        ds.doc_scores("sump", SCORES, starts)


def test_mean_vectors_are_normalized_means_of_each_documents_chunks():
    vectors = np.array([[1, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    means = ds.mean_vectors(vectors, np.array([0, 2, 4]))
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(means[0], [2**-0.5, 2**-0.5], rtol=1e-6)
    query = np.array([[0.0, 1.0]], dtype=np.float32)
    scores = ds.doc_scores("meanvec", np.zeros((1, 6)), np.array([0, 2, 4]), query, vectors)
    assert scores.shape == (1, 3) and scores[0].argmax() == 1  # the middle document is all "y"
    with pytest.raises(ValueError, match="meanvec"):
        ds.doc_scores("meanvec", SCORES, np.array([0, 3, 4]))


def test_top_documents_sorts_by_score_then_document_order():
    scores = np.array([[0.2, 0.9, 0.2, 0.5]])
    assert ds.top_documents(scores, ["w", "x", "y", "z"], k=3) == [[("x", 0.9), ("z", 0.5), ("w", 0.2)]]
    assert [d for d, _ in ds.top_documents(scores, ["w", "x", "y", "z"], k=10)[0]] == ["x", "z", "w", "y"]
