"""Measure a chunking strategy by what retrieval finds with it: recall@k of the gold sections and the
context tokens the top k chunks would cost the generator.

A retrieved chunk counts for every section it covers (`Chunk.section_ids`), so fixed windows over
whole pages, per-section structure chunks and sentence windows are scored against the same gold
sections. Retrieval is BM25: it indexes a new set of chunks in seconds, so a whole strategy x size x
overlap sweep fits a notebook's budget, where MiniLM would need minutes per configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from ragft.retrieval.chunking import STRATEGIES, Chunk, chunk_corpus, count_tokens
from ragft.retrieval.retrieve import BM25Retriever

DEFAULT_K = 5  # chunks put into the prompt (the cost model's retrieved_chunks)
MAX_K = 100


class Config(NamedTuple):
    """One chunking configuration: strategy, size and overlap (tokens; sentences for 'sentence')."""

    strategy: str
    size: int
    overlap: int

    @property
    def label(self) -> str:
        unit = "sent" if self.strategy == "sentence" else "tok"
        return f"{self.strategy} {self.size}/{self.overlap} {unit}"


# The sweep of notebook 02: the common sizes (256/32, 512/64), a smaller one, each without overlap
# too; sentence windows (sizes in sentences) with and without overlap.
SWEEP_CONFIGS: tuple[Config, ...] = tuple(
    [Config(s, size, ov) for s in ("fixed", "structure") for size in (128, 256, 512) for ov in (0, size // 8)]
    + [
        Config("sentence", 3, 0),
        Config("sentence", 3, 1),
        Config("sentence", 6, 1),
        Config("sentence", 10, 2),
    ]
)


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")


def retrieve_chunks(chunks: Sequence[Chunk], queries: Sequence[str], k: int = DEFAULT_K) -> list[list[Chunk]]:
    """The top k chunks for each query, by BM25 over each chunk's indexed text (heading trail + text)."""
    _check_k(k)
    if not chunks:
        raise ValueError("chunks must not be empty: there is nothing to search")
    by_id = {c.chunk_id: c for c in chunks}
    if len(by_id) != len(chunks):
        raise ValueError("chunks must have unique chunk_id values")
    retriever = BM25Retriever(list(by_id), [c.indexed_text for c in chunks])
    return [[by_id[cid] for cid, _ in ranking] for ranking in retriever.search(list(queries), k)]


def covered(ranked: Iterable[Chunk]) -> set[str]:
    """Every section the given chunks cover."""
    return {sid for chunk in ranked for sid in chunk.section_ids}


def chunk_recall(ranked: Sequence[Chunk], relevant: Mapping[str, int], k: int = DEFAULT_K) -> float:
    """Share of the relevant sections covered by at least one of the top k chunks."""
    _check_k(k)
    gold = {doc for doc, grade in relevant.items() if grade > 0}
    if not gold:
        return 0.0
    return len(gold & covered(ranked[:k])) / len(gold)


def context_tokens(ranked: Sequence[Chunk], k: int = DEFAULT_K) -> int:
    """Tokens the top k chunks add to the prompt (heading trail included: it is sent too)."""
    _check_k(k)
    return sum(count_tokens(c.indexed_text) for c in ranked[:k])


def score_rankings(
    rankings: Sequence[Sequence[Chunk]],
    query_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
    k: int,
) -> dict[str, float]:
    """Mean recall@k and mean context tokens over the judged queries."""
    if not query_ids:
        raise ValueError("query_ids must not be empty")
    recalls = [chunk_recall(r, qrels[q], k) for r, q in zip(rankings, query_ids, strict=True)]
    tokens = [context_tokens(r, k) for r in rankings]
    return {f"recall@{k}": sum(recalls) / len(recalls), "context_tokens": sum(tokens) / len(tokens)}


def per_query_recall(chunks: Sequence[Chunk], evalset, k: int = DEFAULT_K) -> dict[str, float]:
    """recall@k of every judged query of one eval set on these chunks: {query id: recall}.

    The same retrieval and scoring as `evaluate_chunks`, kept per query, so that two chunkings measured on the
    same questions can be compared query by query (ragft.runtime.stats.paired_bootstrap).
    """
    query_ids = sorted(evalset.qrels)
    if not query_ids:
        raise ValueError("evalset has no judged queries")
    rankings = retrieve_chunks(chunks, [evalset.queries[q]["text"] for q in query_ids], k)
    return {q: chunk_recall(r, evalset.qrels[q], k) for q, r in zip(query_ids, rankings, strict=True)}


def evaluate_chunks(chunks: Sequence[Chunk], evalsets: Mapping[str, object], k: int = DEFAULT_K) -> dict:
    """Index the chunks once and score every eval set on them: {set label: {recall@k, context_tokens}}.

    evalsets maps a label (e.g. 'facts dev') to a ragft.corpus.data.EvalSet whose corpus the chunks cover.
    """
    labels, query_ids, texts = [], [], []
    for label, ev in evalsets.items():
        for qid in sorted(ev.qrels):
            labels.append(label)
            query_ids.append(qid)
            texts.append(ev.queries[qid]["text"])
    rankings = retrieve_chunks(chunks, texts, k)
    results = {}
    for label, ev in evalsets.items():
        rows = [i for i, lab in enumerate(labels) if lab == label]
        results[label] = score_rankings(
            [rankings[i] for i in rows], [query_ids[i] for i in rows], ev.qrels, k
        )
    return results


def sweep(
    sections: Sequence[dict],
    evalsets: Mapping[str, object],
    configs: Sequence[Config] = SWEEP_CONFIGS,
    k: int = DEFAULT_K,
    chunker: Callable[[Sequence[dict], Config], list[Chunk]] | None = None,
    show_progress: bool = True,
) -> list[dict]:
    """Chunk the corpus with each configuration, retrieve with BM25, score each eval set.

    Returns one row per configuration: strategy, size, overlap, chunks, mean chunk tokens, and for
    each eval set label its recall@k and mean context tokens per query.
    """
    from tqdm.auto import tqdm

    for config in configs:
        if config.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {config.strategy!r}")
    make = chunker or (lambda secs, c: chunk_corpus(secs, c.strategy, c.size, c.overlap))
    rows = []
    for config in tqdm(configs, desc="chunking sweep", disable=not show_progress):
        chunks = make(sections, config)
        scores = evaluate_chunks(chunks, evalsets, k)
        row = {
            "strategy": config.strategy,
            "size": config.size,
            "overlap": config.overlap,
            "chunks": len(chunks),
        }
        for label, values in scores.items():
            row[f"{label} recall@{k}"] = values[f"recall@{k}"]
            row[f"{label} context tokens"] = values["context_tokens"]
        rows.append(row)
    return rows


def best_config(rows: Sequence[dict], column: str) -> Config:
    """The configuration with the highest value in column (ties: fewer context tokens, then the first)."""
    if not rows:
        raise ValueError("rows must not be empty")
    if column not in rows[0]:
        raise ValueError(f"column must be one of {sorted(rows[0])}, got {column!r}")
    tokens_column = column.rsplit(" recall@", 1)[0] + " context tokens"
    best = max(rows, key=lambda r: (round(r[column], 12), -r.get(tokens_column, 0.0)))
    return Config(best["strategy"], best["size"], best["overlap"])


LABEL_TOLERANCE = 0.04  # points closer than this share of the axis span on both axes get one label


def label_groups(
    points: Sequence[tuple[float, float, str]],
    x_span: float,
    y_span: float,
    tolerance: float = LABEL_TOLERANCE,
) -> list[tuple[float, float, str]]:
    """Merge the labels of points that would print on top of each other: points closer than tolerance x the
    span on both axes share one label ('512/0, 512/64'), placed at the group's top right point."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    groups: list[list] = []
    for x, y, text in points:
        for group in groups:
            if abs(group[0] - x) <= tolerance * x_span and abs(group[1] - y) <= tolerance * y_span:
                group[2].append((x, y, text))
                break
        else:
            groups.append([x, y, [(x, y, text)]])
    return [
        (max(p[0] for p in members), max(p[1] for p in members), ", ".join(p[2] for p in members))
        for _, _, members in groups
    ]


def sweep_figure(rows: Sequence[dict], labels: Sequence[str], k: int = DEFAULT_K):
    """One panel per eval set label: recall@k against context tokens per query, one line per strategy
    (points in sweep order, annotated size/overlap; labels of coinciding points merged). Up and left is
    better."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(labels), 4.2))
    axes = fig.subplots(1, len(labels), squeeze=False)[0]
    for ax, label in zip(axes, labels, strict=True):
        all_x = [r[f"{label} context tokens"] for r in rows]
        all_y = [r[f"{label} recall@{k}"] for r in rows]
        x_span = (max(all_x) - min(all_x)) or 1.0
        y_span = (max(all_y) - min(all_y)) or 1.0
        for i, strategy in enumerate(STRATEGIES):
            mine = [r for r in rows if r["strategy"] == strategy]
            if not mine:
                continue
            xs = [r[f"{label} context tokens"] for r in mine]
            ys = [r[f"{label} recall@{k}"] for r in mine]
            ax.scatter(xs, ys, color=f"C{i}", label=strategy)
            texts = [f"{r['size']}/{r['overlap']}" for r in mine]
            for x, y, text in label_groups(list(zip(xs, ys, texts, strict=True)), x_span, y_span):
                ax.annotate(
                    text, (x, y), fontsize=7, color=f"C{i}", xytext=(4, 3), textcoords="offset points"
                )
        ax.margins(x=0.12, y=0.08)  # room for the labels of the outermost points
        ax.set_title(f"{label}: recall@{k} against context cost (BM25)")
        ax.set_xlabel(f"context tokens per query (top {k} chunks)")
        ax.set_ylabel(f"recall@{k} of the gold sections")
        ax.legend(fontsize=8, loc="lower right", title="strategy (size/overlap)", title_fontsize=8)
    fig.tight_layout()
    return fig
