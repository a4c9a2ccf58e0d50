"""ragft.retrieval.retrieve: BM25, dense (faiss) and hybrid retrievers behind one search() interface.

Dense tests use a hashed bag-of-words FakeEmbedder (tests/fake_embedder.py), never MiniLM.
"""

import numpy as np
import pytest
from fake_embedder import FakeEmbedder

from ragft.retrieval import retrieve
from ragft.retrieval.fusion import FUSIONS, fuse

IDS = ["settings", "checks", "migrate", "cache"]
TEXTS = [
    "DEFAULT_AUTO_FIELD is the default primary key field type for models",
    "System check fields.E304 reports a reverse accessor clash between fields",
    "The migrate command option fake initial skips creating tables that exist",
    "The cache framework stores rendered pages in memcached or a database table",
]


@pytest.fixture
def embedder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    return FakeEmbedder(tmp_path)


@pytest.fixture
def hybrid(embedder):
    return retrieve.HybridRetriever(
        retrieve.BM25Retriever(IDS, TEXTS), retrieve.DenseRetriever(IDS, TEXTS, embedder=embedder)
    )


def test_defaults_are_valid_choices():
    assert retrieve.DEFAULT_FUSION in FUSIONS
    assert 0.0 <= retrieve.DEFAULT_WEIGHT <= 1.0
    assert 1 <= retrieve.FUSION_DEPTH <= retrieve.MAX_K


def test_bm25_tokenizer_keeps_identifiers_whole():
    tokens = retrieve.bm25_tokenize(["What is DEFAULT_AUTO_FIELD?"])[0]
    assert "default_auto_field" in tokens
    assert "is" not in tokens  # stopword


def test_bm25_finds_the_exact_identifier_first():
    bm25 = retrieve.BM25Retriever(IDS, TEXTS)
    (ranking,) = bm25.search(["DEFAULT_AUTO_FIELD"], k=3)
    assert ranking[0][0] == "settings"
    assert all(score > 0 for _, score in ranking)


def test_bm25_pins_a_name_only_when_few_texts_hold_all_of_its_terms():
    texts = ["flush the session", "flush again", "flush the os", "ABSOLUTE_URL_OVERRIDES maps", "os fork"]
    bm25 = retrieve.BM25Retriever(["a", "b", "c", "d", "e"], texts)
    assert list(bm25.postings["flush"]) == [0, 1, 2] and list(bm25.postings["os"]) == [2, 4]
    assert bm25.pins("ABSOLUTE_URL_OVERRIDES")
    assert not bm25.pins("flush()", max_texts=2) and bm25.pins("flush()", max_texts=3)
    assert retrieve.texts_with_all_terms(bm25.postings, "os.flush") == 1  # only "flush the os" holds both
    assert bm25.pins("os.flush", max_texts=1) and not bm25.pins("os.fork.flush", max_texts=1)
    assert not bm25.pins("4.2")  # a version number leaves no term: one-character tokens are dropped
    assert not bm25.pins("MISSING_SETTING")  # a term in no text pins nothing


def test_bm25_handles_empty_and_unmatched_queries_and_clips_k():
    bm25 = retrieve.BM25Retriever(IDS, TEXTS)
    empty, nothing, many = bm25.search(["", "zebra", "table tables"], k=50)
    assert empty == [] and nothing == []
    assert {d for d, _ in many} == {"migrate", "cache"}  # only documents that share a word (no stemming)


def test_bad_k_and_mismatched_ids_are_rejected():
    bm25 = retrieve.BM25Retriever(IDS, TEXTS)
    with pytest.raises(ValueError, match="k must be between 1 and"):
        bm25.search(["x"], k=0)
    with pytest.raises(ValueError, match="doc_ids has 3 entries but texts has 4"):
        retrieve.BM25Retriever(IDS[:3], TEXTS)
    with pytest.raises(ValueError, match="must not be empty"):
        retrieve.BM25Retriever([], [])


@pytest.mark.parametrize("kind", retrieve.INDEXES)
def test_every_faiss_index_finds_a_stored_vector(kind):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(64, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = retrieve.build_faiss_index(vectors, kind)
    assert index.ntotal == 64
    if kind == "ivf":
        index.nprobe = index.nlist  # visit every cluster: exact
    _, rows = index.search(vectors[:5], 1)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_ivf_gets_no_more_lists_than_kmeans_can_train(capfd):
    # faiss warns (on stderr, from C++) when k-means gets fewer than 39 points per centroid: sqrt(1434) = 37
    # lists would need 1443 vectors, so 1434 get 36
    assert retrieve.ivf_lists(1434) == 36 and retrieve.ivf_lists(10_000) == 100 and retrieve.ivf_lists(5) == 1
    with pytest.raises(ValueError, match="n must be >= 1"):
        retrieve.ivf_lists(0)
    rng = np.random.default_rng(0)
    for n in (20, 200):
        vectors = rng.normal(size=(n, 8)).astype(np.float32)
        index = retrieve.build_faiss_index(vectors, "ivf")
        assert index.nlist == retrieve.ivf_lists(n) and index.ntotal == n
    assert "WARNING" not in capfd.readouterr().err


def test_unknown_index_is_rejected():
    with pytest.raises(ValueError, match="index must be one of"):
        retrieve.build_faiss_index(np.zeros((2, 4), dtype=np.float32), "lsh")


def test_dense_retriever_ranks_by_cosine_and_caches_vectors(embedder):
    dense = retrieve.DenseRetriever(IDS, TEXTS, embedder=embedder)
    (ranking,) = dense.search(["reverse accessor clash fields"], k=2)
    assert ranking[0][0] == "checks"
    assert -1.0 <= ranking[1][1] <= ranking[0][1] <= 1.0 + 1e-6
    calls = embedder.calls
    again = retrieve.DenseRetriever(IDS, TEXTS, embedder=embedder)  # vectors come from the disk cache
    assert embedder.calls == calls
    np.testing.assert_array_equal(again.vectors, dense.vectors)


def test_dense_retriever_accepts_vectors_and_needs_one_of_texts_or_vectors(embedder):
    vectors = embedder.encode(TEXTS)
    dense = retrieve.DenseRetriever(IDS, vectors=vectors, embedder=embedder, index="hnsw")
    assert dense.search(["memcached cache pages"], k=1)[0][0][0] == "cache"
    with pytest.raises(ValueError, match="give texts"):
        retrieve.DenseRetriever(IDS, embedder=embedder)
    with pytest.raises(ValueError, match="doc_ids has 2 entries but vectors has 4"):
        retrieve.DenseRetriever(IDS[:2], vectors=vectors, embedder=embedder)


def test_hybrid_fuses_the_two_lists_it_returns(hybrid):
    queries = ["DEFAULT_AUTO_FIELD primary key", "tables"]
    sparse, dense = hybrid.search_both(queries, k=4)
    fused = hybrid.search(queries, k=2)
    for q, s, d, f in zip(queries, sparse, dense, fused, strict=True):
        assert f == fuse(s, d, hybrid.fusion, hybrid.weight, hybrid.rrf_k, query=q)[:2]
    assert fused[0][0][0] == "settings"


def test_hybrid_weight_zero_convex_is_bm25_order(hybrid):
    hybrid.fusion, hybrid.weight = "convex", 0.0
    (bm25,) = hybrid.bm25.search(["table"], k=4)
    (fused,) = hybrid.search(["table"], k=len(bm25))
    assert [d for d, _ in fused] == [d for d, _ in bm25]


def test_hybrid_rejects_bad_fusion_and_weight(embedder):
    bm25 = retrieve.BM25Retriever(IDS, TEXTS)
    dense = retrieve.DenseRetriever(IDS, TEXTS, embedder=embedder)
    with pytest.raises(ValueError, match="fusion must be one of"):
        retrieve.HybridRetriever(bm25, dense, fusion="max")
    with pytest.raises(ValueError, match="weight must be between 0 and 1, got 2"):
        retrieve.HybridRetriever(bm25, dense, weight=2)


def test_make_retriever_builds_each_method(embedder, monkeypatch):
    import ragft.runtime.models

    monkeypatch.setattr(ragft.runtime.models, "load_embedder", lambda: embedder)
    assert isinstance(retrieve.make_retriever("bm25", IDS, TEXTS), retrieve.BM25Retriever)
    assert isinstance(retrieve.make_retriever("dense", IDS, TEXTS), retrieve.DenseRetriever)
    hybrid = retrieve.make_retriever("hybrid", IDS, TEXTS, fusion="convex", weight=0.3)
    assert (hybrid.fusion, hybrid.weight) == ("convex", 0.3)
    with pytest.raises(ValueError, match="method must be one of"):
        retrieve.make_retriever("splade", IDS, TEXTS)


def test_best_chunk_per_doc_keeps_each_documents_first_chunk():
    ranking = [("a#1", 0.9), ("b#0", 0.8), ("a#0", 0.7), ("c#0", 0.1)]
    mapping = {"a#0": "a", "a#1": "a", "b#0": "b", "c#0": "c"}
    assert retrieve.best_chunk_per_doc(ranking, mapping) == [("a", 0.9), ("b", 0.8), ("c", 0.1)]
