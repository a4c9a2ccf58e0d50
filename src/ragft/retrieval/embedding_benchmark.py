"""A 20 query-document benchmark for choosing an embedder, built from the evaluation sets.

Ten exact-identifier queries (setting names, system-check ids, command options) and ten reworded
fact questions (a paraphrase from `metadata.paraphrases`, both wordings used in turn), picked
evenly over the sorted query ids, so the benchmark is the same on every run. Each query is
searched over a small pool: the 20 gold sections plus the sections just before and after each
on the same page (hard negatives that share the page's vocabulary). The pool is small enough for
a large embedder to encode in seconds, which is the point: a team can run its candidates on it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ragft.corpus.evalsets import spread_sample
from ragft.retrieval.chunking import Chunk, chunk_document
from ragft.runtime.stats import interval_text, mean_interval, rate_with_interval

IDENTIFIER_QUOTA = {"setting": 4, "check": 3, "option": 3}
PARAPHRASE_QUOTA = {"setting_default": 4, "version_added": 3, "python_support": 3}
GROUPS = ("identifier", "paraphrase")


@dataclass(frozen=True)
class BenchmarkPair:
    """One benchmark query with its single gold section; `original` is the template wording, if any."""

    qid: str
    query: str
    doc_id: str
    group: str
    kind: str
    original: str | None = None


def _by_kind(evalset, quota: Mapping[str, int]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {kind: [] for kind in quota}
    for qid, query in evalset.queries.items():
        kind = query["metadata"]["kind"]
        if kind in kinds and len(evalset.qrels.get(qid, {})) == 1:
            kinds[kind].append(qid)
    for kind, wanted in quota.items():
        if wanted < 0 or len(kinds[kind]) < wanted:
            raise ValueError(f"quota for {kind!r} must be between 0 and {len(kinds[kind])}, got {wanted}")
    return kinds


def build_benchmark(
    identifiers,
    facts,
    identifier_quota: Mapping[str, int] = IDENTIFIER_QUOTA,
    paraphrase_quota: Mapping[str, int] = PARAPHRASE_QUOTA,
) -> list[BenchmarkPair]:
    """The benchmark pairs from an identifiers EvalSet and a facts EvalSet (deterministic)."""
    pairs: list[BenchmarkPair] = []
    for kind, qids in _by_kind(identifiers, identifier_quota).items():
        for qid in spread_sample(qids, identifier_quota[kind]):
            (doc_id,) = identifiers.qrels[qid]
            pairs.append(BenchmarkPair(qid, identifiers.queries[qid]["text"], doc_id, "identifier", kind))
    turn = 0
    for kind, qids in _by_kind(facts, paraphrase_quota).items():
        for qid in spread_sample(qids, paraphrase_quota[kind]):
            query = facts.queries[qid]
            paraphrases = query["metadata"]["paraphrases"]
            (doc_id,) = facts.qrels[qid]
            reworded = paraphrases[turn % len(paraphrases)]
            pairs.append(BenchmarkPair(qid, reworded, doc_id, "paraphrase", kind, query["text"]))
            turn += 1
    return pairs


def benchmark_pool(pairs: Sequence[BenchmarkPair], sections: Sequence[dict], neighbors: int = 1) -> list[str]:
    """Section ids to search: every gold section and `neighbors` sections either side of it on its page."""
    if neighbors < 0:
        raise ValueError(f"neighbors must be >= 0, got {neighbors}")
    pages: dict[str, list[dict]] = {}
    for section in sections:
        pages.setdefault(section["path"], []).append(section)
    position = {}
    for page in pages.values():
        page.sort(key=lambda s: s["order"])
        for i, section in enumerate(page):
            position[section["id"]] = (page, i)
    pool: set[str] = set()
    for pair in pairs:
        if pair.doc_id not in position:
            raise ValueError(f"gold section {pair.doc_id!r} of {pair.qid!r} is not in the sections given")
        page, i = position[pair.doc_id]
        pool.update(s["id"] for s in page[max(0, i - neighbors) : i + neighbors + 1])
    return sorted(pool)


def pool_chunks(pool: Sequence[str], corpus: Mapping[str, dict]) -> list[Chunk]:
    """The pool's documents cut by the course's default chunker (title as context), like eval-retrieval."""
    chunks: list[Chunk] = []
    for doc_id in pool:
        doc = corpus[doc_id]
        chunks += chunk_document(doc_id, doc.get("text", ""), doc.get("title", ""))
    return chunks


def gold_ranks(
    rankings: Sequence[Sequence[tuple[str, float]]], pairs: Sequence[BenchmarkPair]
) -> list[int | None]:
    """Rank (1 = first) of each pair's gold document in its ranking; None when it is not there."""
    ranks: list[int | None] = []
    for ranking, pair in zip(rankings, pairs, strict=True):
        docs = [doc for doc, _ in ranking]
        ranks.append(docs.index(pair.doc_id) + 1 if pair.doc_id in docs else None)
    return ranks


def summarize(
    pairs: Sequence[BenchmarkPair], ranks: Mapping[str, Sequence[int | None]], intervals: bool = False
) -> list[dict]:
    """Per retriever and query group: how many queries have the gold document first, and MRR.

    With intervals, each row also gets 'first (95% CI)' (the count as a rate with its Wilson interval) and
    'mrr (95% CI)' (a seeded bootstrap over the queries; Wilson when every rank is 1 or a miss): with 10 or
    20 queries a row moves a lot per query.
    """
    rows = []
    for name, column in ranks.items():
        for group in (*GROUPS, "all"):
            picked = [r for r, p in zip(column, pairs, strict=True) if group in ("all", p.group)]
            if not picked:
                continue
            row = {
                "retriever": name,
                "queries": group,
                "n": len(picked),
                "first": sum(r == 1 for r in picked),
                "mrr": sum(1 / r for r in picked if r) / len(picked),
            }
            if intervals:
                row["first (95% CI)"] = rate_with_interval(row["first"], row["n"])
                mean, low, high = mean_interval([1 / r if r else 0.0 for r in picked])
                row["mrr (95% CI)"] = interval_text(mean, low, high)
            rows.append(row)
    return rows


def measure_encoding(embedder, texts: Sequence[str], batch_size: int = 16, repeats: int = 1) -> dict:
    """Texts/s and word pieces/s of embedder.encode on these texts (best of `repeats` runs).

    Rates use the process's CPU time, which on one thread is what a dedicated CPU would take even
    when other jobs share the machine; the wall-clock time is reported too.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    texts = list(texts)
    if not texts:
        raise ValueError("texts must not be empty")
    encoded = embedder.tokenizer(texts, truncation=True, max_length=embedder.max_seq_length)
    tokens = sum(len(ids) for ids in encoded["input_ids"])
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        embedder.encode(texts, batch_size=batch_size)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    seconds = max(best_cpu, 1e-9)
    return {
        "texts": len(texts),
        "tokens": tokens,
        "cpu_seconds": best_cpu,
        "wall_seconds": best_wall,
        "texts_per_s": len(texts) / seconds,
        "tokens_per_s": tokens / seconds,
    }


def parameter_megabytes(model) -> float:
    """Memory taken by a torch model's parameters, in MB (float32: 4 bytes each)."""
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def dot_vs_cosine_flips(query_vectors: np.ndarray, doc_vectors: np.ndarray) -> list[tuple[int, int, int]]:
    """(query row, best doc by cosine, best doc by raw dot) for every query where the two disagree.

    Pass raw (unnormalized) vectors: the raw dot product rewards long vectors, cosine does not.
    """
    if query_vectors.ndim != 2 or doc_vectors.ndim != 2 or query_vectors.shape[1] != doc_vectors.shape[1]:
        raise ValueError("query_vectors and doc_vectors must be 2-D with the same number of columns")
    dot = query_vectors @ doc_vectors.T
    norms = np.linalg.norm(query_vectors, axis=1, keepdims=True) * np.linalg.norm(doc_vectors, axis=1)
    cosine = dot / np.clip(norms, 1e-12, None)
    by_cos, by_dot = cosine.argmax(axis=1), dot.argmax(axis=1)
    return [(int(q), int(c), int(d)) for q, (c, d) in enumerate(zip(by_cos, by_dot, strict=True)) if c != d]


def resident_mb() -> float:
    """This process's resident memory now, in MB (VmRSS on Linux, psutil elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss / 2**20
