"""`python -m ragft eval-retrieval DIR`: measure BM25, dense or hybrid retrieval on any BEIR folder.

Documents are chunked with the course's default chunker (structure-aware, 256 tokens, 32
overlap, title as context) and ranked by ragft.retrieval.doc_search (each document scored from its
chunks). The same function gives notebook 04 its numbers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ragft.retrieval.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, Chunk, chunk_document
from ragft.retrieval.doc_search import DEFAULT_SCORING, DEFAULT_VARIANT
from ragft.retrieval.fusion import pin_limit, route_settings, scale_for
from ragft.retrieval.metrics import DEFAULT_METRICS, evaluate, run_from_rankings
from ragft.retrieval.retrieve import DEFAULT_FUSION, DEFAULT_WEIGHT, best_chunk_per_doc

CHUNK_DEPTH_FACTOR = 3  # chunks fetched per wanted document, so that collapsing to documents keeps k


def chunk_collection(
    corpus: dict[str, dict], size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP, cache: bool = True
) -> list[Chunk]:
    """Every document of a BEIR corpus, chunked by the default chunker (short documents stay whole).

    Cached on disk, keyed by the documents, the sizes and the chunker's own source code, so a
    warm run skips tokenizing the collection again (about 4 s for 5,000 documents).
    """
    path = _chunk_cache_path(corpus, size, overlap) if cache else None
    if path is not None and path.is_file():
        return [Chunk(*row[:6], tuple(row[6])) for row in json.loads(path.read_text(encoding="utf-8"))]
    chunks: list[Chunk] = []
    for doc_id, doc in corpus.items():
        chunks += chunk_document(doc_id, doc.get("text", ""), doc.get("title", ""), size, overlap)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps([list(c) for c in chunks], ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
    return chunks


def _chunk_cache_path(corpus: dict[str, dict], size: int, overlap: int) -> Path:
    from ragft.retrieval import chunking
    from ragft.retrieval.embed import texts_key
    from ragft.runtime.paths import cache_dir

    fields = [Path(chunking.__file__).read_text(encoding="utf-8"), f"{size}/{overlap}"]
    for doc_id, doc in corpus.items():
        fields += [doc_id, doc.get("title", ""), doc.get("text", "")]
    return cache_dir() / "chunks" / f"{texts_key(fields)}.json"


def search_documents(
    retriever, chunks: list[Chunk], queries: list[str], k: int
) -> list[list[tuple[str, float]]]:
    """Search chunks, then rank documents by their best chunk, keeping k documents."""
    chunk_to_doc = {c.chunk_id: c.doc_id for c in chunks}
    depth = min(len(chunks), max(k * CHUNK_DEPTH_FACTOR, k))
    return [best_chunk_per_doc(r, chunk_to_doc)[:k] for r in retriever.search(queries, depth)]


def evaluate_collection(
    directory: str | Path,
    method: str = "hybrid",
    k: int = 10,
    split: str = "test",
    fusion: str = DEFAULT_FUSION,
    weight: float = DEFAULT_WEIGHT,
    show_progress: bool = True,
    scoring: str = DEFAULT_SCORING,
    variant: str = DEFAULT_VARIANT,
    tune_embedder: bool | None = None,
) -> dict:
    """Load a BEIR folder, chunk, index, search every judged query, and return metrics and timings.

    Documents are ranked by ragft.retrieval.doc_search (dense: `scoring` of each document's chunks, vectors
    from the embedding `variant`; BM25: best chunk; hybrid: the two document lists fused). MiniLM is first
    tuned on the collection's own headings (ragft.retrieval.domain_tuning), leaving out every page that holds
    a judged answer: always with tune_embedder=True, never with False, and by default (None) where the
    collection gives enough pairs and memory allows (domain_tuning.untuned_reason). Routed fusion over a tuned
    model's list uses the settings chosen for tuned models (fusion.TUNED_ROUTE_WEIGHTS, TUNED_ROUTE_SCALE,
    TUNED_PIN_MAX_TEXTS).
    """
    from ragft.corpus.data import load_beir
    from ragft.retrieval.doc_search import DocumentRetriever
    from ragft.retrieval.pointer_answers import pointer_questions
    from ragft.retrieval.quantize import embedder_variant, resolve_variant

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if tune_embedder is True and method == "bm25":
        raise ValueError(
            "tune_embedder tunes the dense side: use it with method 'dense' or 'hybrid', not 'bm25'"
        )
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    corpus, queries, qrels = load_beir(directory)
    if split not in qrels:
        raise ValueError(f"split must be one of {sorted(qrels)} (files in {directory}/qrels), got {split!r}")
    judged = {qid: rel for qid, rel in qrels[split].items() if qid in queries}
    if not judged:
        raise ValueError(f"no query in qrels/{split}.tsv appears in queries.jsonl")
    chunks = chunk_collection(corpus)
    timings["chunk_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    embedder, tuning, route_weights, scale, pin_max = None, None, None, None, None
    if method != "bm25" and tune_embedder is not False:
        from ragft.retrieval.domain_tuning import corpus_pairs, tuned_embedder, untuned_reason
        from ragft.runtime.threads import cgroup_memory_limit

        pairs, held_out = corpus_pairs(corpus, qrels, chunks)
        if tune_embedder and len(pairs) < 2:
            raise ValueError(
                f"tune_embedder needs at least 2 titled documents away from the judged pages; {directory} "
                f"has {len(pairs)} ({held_out} of {len(corpus)} documents are held out)"
            )
        skipped = None if tune_embedder else untuned_reason(len(pairs), cgroup_memory_limit())
        tuning = {"pairs": len(pairs), "held_out_documents": held_out, "cpu_s": None, "skipped": skipped}
        if skipped is None:
            tuned, log = tuned_embedder(pairs, show_progress)
            embedder = embedder_variant(variant, tuned)
            tuning["cpu_s"] = log["cpu_s"]
            timings["tune_s"] = time.perf_counter() - clock
            clock = time.perf_counter()
    if embedder is None and method != "bm25":
        embedder = embedder_variant(variant)
    if fusion == "routed":  # a tuned model's list is fused with the settings chosen for tuned models
        tuned = tuning is not None and tuning["skipped"] is None
        (route_weights, scale), pin_max = route_settings(tuned), pin_limit(tuned)
    retriever = DocumentRetriever(
        chunks, method, embedder, fusion, weight, scoring, show_progress, route_weights, scale, pin_max
    )
    timings["index_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    query_ids = sorted(judged)
    rankings = retriever.search([queries[q]["text"] for q in query_ids], max(k, 100))
    timings["search_s"] = time.perf_counter() - clock
    timings["search_ms_per_query"] = 1000 * timings["search_s"] / len(query_ids)

    routed = method == "hybrid" and fusion == "routed"
    metrics = list(dict.fromkeys([*DEFAULT_METRICS, f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"]))
    result = evaluate(run_from_rankings(query_ids, rankings), judged, metrics)
    result.update(
        {
            "method": method,
            "fusion": fusion if method == "hybrid" else None,
            "weight": weight if method == "hybrid" else None,
            "route_weights": route_weights if routed else None,
            "pin_max": pin_max if routed else None,  # how many chunks may hold a name BM25 pins
            "scale": scale_for(fusion, scale)
            if method == "hybrid" and fusion in ("convex", "routed")
            else None,
            "scoring": scoring if method != "bm25" else None,
            "variant": resolve_variant(variant) if method != "bm25" else None,
            "tuned_embedder": tuning,
            "collection": str(directory),
            "split": split,
            "documents": len(corpus),
            "chunks": len(chunks),
            "queries": len(query_ids),
            # questions whose judged answer only links elsewhere: finding the linked section scores nothing
            "pointer_answers": len(pointer_questions(corpus, judged)),
            "timings": {name: round(value, 3) for name, value in timings.items()},
        }
    )
    return result
