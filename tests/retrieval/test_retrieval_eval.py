"""ragft.retrieval.retrieval_eval and `python -m ragft eval-retrieval` on tiny BEIR folder (fake embedder)."""

import json

import pytest
from fake_embedder import FakeEmbedder

from ragft.cli import main
from ragft.retrieval import retrieval_eval

CORPUS = {
    "settings": {
        "title": "Settings > DEFAULT_AUTO_FIELD",
        "text": "Default primary key field type for models.",
    },
    "checks": {"title": "System checks", "text": "fields.E304 reports a reverse accessor clash."},
    "migrate": {"title": "migrate", "text": "The --fake-initial option skips creating existing tables."},
    "empty": {"title": "Heading only", "text": ""},
    "long": {
        "title": "Cache",
        "text": "\n\n".join(f"Paragraph {i} about memcached servers." for i in range(80)),
    },
}
QUERIES = {"q1": "DEFAULT_AUTO_FIELD", "q2": "fields.E304", "q3": "migrate --fake-initial", "q4": "memcached"}
QRELS = {"q1": "settings", "q2": "checks", "q3": "migrate", "q4": "long"}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Chunked collections and vectors are cached on disk: keep each test's cache to itself."""
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def beir(tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, **doc}) + "\n" for i, doc in CORPUS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items())
    )
    rows = "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return folder


@pytest.fixture
def fake_models(tmp_path, monkeypatch):
    import ragft.runtime.models

    embedder = FakeEmbedder(tmp_path)
    monkeypatch.setattr(ragft.runtime.models, "load_embedder", lambda: embedder)
    return embedder


def test_chunk_collection_is_cached_and_gives_the_same_chunks(tmp_path):
    first = retrieval_eval.chunk_collection(CORPUS)
    assert list((tmp_path / "cache" / "chunks").glob("*.json"))
    assert (
        retrieval_eval.chunk_collection(CORPUS)
        == first
        == retrieval_eval.chunk_collection(CORPUS, cache=False)
    )


def test_chunk_collection_keeps_short_documents_whole_and_splits_long_ones():
    chunks = retrieval_eval.chunk_collection(CORPUS)
    per_doc = {}
    for chunk in chunks:
        per_doc.setdefault(chunk.doc_id, []).append(chunk)
    assert len(per_doc["settings"]) == 1 and len(per_doc["long"]) > 1
    assert [c.indexed_text.strip() for c in per_doc["empty"]] == ["Heading only"]  # findable by its title
    assert all(c.context == "Cache" for c in per_doc["long"])


def test_search_documents_collapses_chunks_to_unique_documents():
    chunks = retrieval_eval.chunk_collection(CORPUS)

    class Echo:  # returns every chunk in corpus order
        def search(self, queries, k):
            return [[(c.chunk_id, 1.0 / (i + 1)) for i, c in enumerate(chunks)][:k] for _ in queries]

    (ranking,) = retrieval_eval.search_documents(Echo(), chunks, ["anything"], k=3)
    assert [d for d, _ in ranking] == ["settings", "checks", "migrate"]
    (everything,) = retrieval_eval.search_documents(Echo(), chunks, ["anything"], k=10)
    assert len(everything) == len({d for d, _ in everything}) == len(CORPUS)


def test_bm25_finds_every_identifier(beir):
    result = retrieval_eval.evaluate_collection(beir, "bm25", show_progress=False)
    assert result["recall@10"] == 1.0 and result["mrr@10"] == 1.0
    assert set(result) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "timings"}
    assert (result["documents"], result["queries"], result["method"], result["fusion"]) == (
        5,
        4,
        "bm25",
        None,
    )
    assert set(result["timings"]) == {"chunk_s", "index_s", "search_s", "search_ms_per_query"}


@pytest.mark.parametrize("method", ["dense", "hybrid"])
def test_dense_and_hybrid_run_with_any_embedder(beir, fake_models, method):
    result = retrieval_eval.evaluate_collection(
        beir, method, fusion="convex", weight=0.4, show_progress=False, variant="fp32"
    )
    assert 0.0 < result["ndcg@10"] <= 1.0
    assert (result["variant"], result["scoring"]) == ("fp32", retrieval_eval.DEFAULT_SCORING)
    assert result["recall@100"] == 1.0  # five documents: everything is retrieved
    if method == "hybrid":
        assert (result["fusion"], result["weight"]) == ("convex", 0.4)


def test_bad_split_and_k_are_rejected(beir):
    with pytest.raises(ValueError, match=r"split must be one of \['test'\]"):
        retrieval_eval.evaluate_collection(beir, "bm25", split="dev")
    with pytest.raises(ValueError, match="k must be >= 1"):
        retrieval_eval.evaluate_collection(beir, "bm25", k=0)


def test_command_prints_the_same_metrics_as_the_function(beir, capsys):
    assert main(["eval-retrieval", str(beir), "--method", "bm25", "--k", "5", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    direct = retrieval_eval.evaluate_collection(beir, "bm25", k=5, show_progress=False)
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "ndcg@5", "recall@5", "mrr@5"):
        assert printed[key] == pytest.approx(direct[key])
    assert "total_s" in printed["timings"]


def test_command_passes_tune_embedder_through(beir, monkeypatch, capsys):
    seen = []

    def fake(*args, **kwargs):
        seen.append(kwargs["tune_embedder"])
        return {
            "ndcg@10": 0.5,
            "recall@10": 0.5,
            "recall@100": 1.0,
            "mrr@10": 0.5,
            "timings": {},
            "documents": 5,
            "chunks": 5,
            "queries": 2,
            "tuned_embedder": None,
        }

    monkeypatch.setattr(retrieval_eval, "evaluate_collection", fake)
    assert main(["eval-retrieval", str(beir), "--method", "dense", "--tune-embedder"]) == 0
    assert main(["eval-retrieval", str(beir), "--method", "dense", "--no-tune-embedder"]) == 0
    assert main(["eval-retrieval", str(beir), "--method", "dense"]) == 0
    assert seen == [True, False, None] and "0.500" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tuning", "line"),
    [
        (None, None),
        (
            {"pairs": 9, "cpu_s": None, "skipped": "9 training pairs, fewer than"},
            "MiniLM left untuned: 9 training",
        ),
        (
            {"pairs": 800, "cpu_s": 190.5, "skipped": None},
            "MiniLM tuned on 800 of its headings (190.5 CPU-s)",
        ),
    ],
)
def test_command_says_whether_minilm_was_tuned(beir, monkeypatch, capsys, tuning, line):
    result = {"ndcg@10": 0.5, "recall@10": 0.5, "recall@100": 1.0, "mrr@10": 0.5, "timings": {}}
    result |= {"documents": 5, "chunks": 5, "queries": 2, "tuned_embedder": tuning}
    monkeypatch.setattr(retrieval_eval, "evaluate_collection", lambda *a, **k: result)
    assert main(["eval-retrieval", str(beir)]) == 0
    out = capsys.readouterr().out
    assert ("MiniLM" in out) == (line is not None) and (line is None or line in out)


def test_judged_answers_that_only_link_elsewhere_are_counted_and_named(beir, capsys):
    assert retrieval_eval.evaluate_collection(beir, "bm25", show_progress=False)["pointer_answers"] == 0
    corpus = (beir / "corpus.jsonl").read_text()
    stub = json.dumps({"_id": "checks", "title": "System checks", "text": "See :ref:`system-checks`."})
    lines = [stub if json.loads(line)["_id"] == "checks" else line for line in corpus.splitlines()]
    (beir / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    assert retrieval_eval.evaluate_collection(beir, "bm25", show_progress=False)["pointer_answers"] == 1
    assert main(["eval-retrieval", str(beir), "--method", "bm25"]) == 0
    assert "1 of the 4 questions have a judged answer that only links elsewhere" in capsys.readouterr().out


def test_a_judged_document_missing_from_the_corpus_is_no_pointer(beir):
    qrels = beir / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "q1\tgone\t1\n")
    assert retrieval_eval.evaluate_collection(beir, "bm25", show_progress=False)["pointer_answers"] == 0
