"""ragft.retrieval.doc_search: documents ranked from their chunks, both lists fused at document level."""

import numpy as np
import pytest
from fake_embedder import FakeEmbedder

from ragft.retrieval import doc_search
from ragft.retrieval.chunking import Chunk


def _chunk(doc_id, i, text):
    return Chunk(f"{doc_id}#{i}", doc_id, text, "", 0, len(text), (doc_id,))


CHUNKS = [
    _chunk("cache", 0, "caching framework overview"),
    _chunk("cache", 1, "the memcached backend and CACHES setting"),
    _chunk("forms", 0, "forms validate user input"),
    _chunk("admin", 0, "the admin site"),
    _chunk("admin", 1, "ModelAdmin list_display options"),
]


@pytest.fixture
def embedder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    return FakeEmbedder(tmp_path)


def test_firstp_embeds_only_first_chunks_and_maxp_every_chunk(embedder):
    first = doc_search.DocumentRetriever(CHUNKS, "dense", embedder, scoring="firstp", show_progress=False)
    assert len(first.vectors) == 3 and first.doc_ids == ["cache", "forms", "admin"]
    best = doc_search.DocumentRetriever(CHUNKS, "dense", embedder, scoring="maxp", show_progress=False)
    assert len(best.vectors) == 5
    query = ["list_display options of ModelAdmin"]
    assert best.search(query, 1)[0][0][0] == "admin"
    # by its first chunk ("the admin site") the admin page no longer matches the query's words best
    scores = dict(first.search(query, 3)[0])
    assert scores["admin"] < dict(best.search(query, 3)[0])["admin"]


def test_bm25_scores_a_document_by_its_best_chunk_and_drops_unmatched_documents(embedder):
    bm25 = doc_search.DocumentRetriever(CHUNKS, "bm25", show_progress=False)
    assert bm25.embedder is None and bm25.vectors is None
    (ranking,) = bm25.search(["memcached CACHES"], 10)
    assert [d for d, _ in ranking] == ["cache"]  # the other documents share no word with the query


def test_hybrid_fuses_document_lists_and_checks_its_arguments(embedder):
    hybrid = doc_search.DocumentRetriever(
        CHUNKS, "hybrid", embedder, fusion="convex", weight=0.3, show_progress=False
    )
    sparse, dense = hybrid.search_both(["memcached CACHES"], 10)
    assert [d for d, _ in sparse[0]] == ["cache"] and len(dense[0]) == 3
    fused = hybrid.search(["memcached CACHES"], 2)[0]
    assert fused[0][0] == "cache" and len(fused) == 2
    with pytest.raises(ValueError, match="method must be one of"):
        doc_search.DocumentRetriever(CHUNKS, "splade", embedder)
    with pytest.raises(ValueError, match="k must be >= 1"):
        hybrid.search(["x"], 0)


def test_routed_fusion_takes_the_route_weights_and_scale_it_is_given(embedder):
    """One weight for every kind of query is a convex fusion at that weight, under the scale given."""
    queries = ["memcached CACHES", "admin site options", "validate input"]
    routed = doc_search.DocumentRetriever(
        CHUNKS,
        "hybrid",
        embedder,
        fusion="routed",
        show_progress=False,
        route_weights={"keyword": 0.3, "mixed": 0.3, "semantic": 0.3},
        scale="zscore",
    )
    convex = doc_search.DocumentRetriever(
        CHUNKS, "hybrid", embedder, fusion="convex", weight=0.3, show_progress=False, scale="zscore"
    )
    minmax = doc_search.DocumentRetriever(
        CHUNKS, "hybrid", embedder, fusion="convex", weight=0.3, show_progress=False
    )
    assert routed.search(queries, 3) == convex.search(queries, 3) != minmax.search(queries, 3)


def test_dense_doc_scores_accepts_first_chunk_vectors_only():
    vectors = np.eye(3, dtype=np.float32)
    starts = np.array([0, 2, 3])
    first_only = doc_search.dense_doc_scores(np.eye(3, dtype=np.float32)[:1], vectors, starts, "firstp")
    assert first_only.tolist() == [[1.0, 0.0, 0.0]]


def test_routed_fusion_pins_a_name_only_within_the_pin_limit_it_is_given(embedder):
    """A question naming a name BM25 pins takes the mixed route (here: BM25's best first); with a limit no
    name meets it takes the semantic one (here: dense alone)."""
    question = ["Which options of ModelAdmin.list_display validate forms?"]
    route = {"keyword": 0.0, "mixed": 0.0, "semantic": 1.0}

    def routed(**limit):
        return doc_search.DocumentRetriever(
            CHUNKS, "hybrid", embedder, fusion="routed", show_progress=False, route_weights=route, **limit
        ).search(question, 3)[0]

    def alone(method):
        retriever = doc_search.DocumentRetriever(CHUNKS, method, embedder, show_progress=False)
        return retriever.search(question, 3)[0]

    def ids(ranking):
        return [d for d, _ in ranking]

    assert ids(alone("bm25"))[0] != ids(alone("dense"))[0]
    assert ids(routed())[0] == ids(routed(pin_max=1))[0] == ids(alone("bm25"))[0]  # 1 chunk holds the name
    assert ids(routed(pin_max=0)) == ids(alone("dense"))
