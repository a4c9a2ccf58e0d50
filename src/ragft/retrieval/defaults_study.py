"""Choosing the hybrid's defaults without the test sets: how a document is scored from its chunks, and how
BM25 and dense are fused (notebook 04, `python -m ragft bench retrieval`).

Each collection is searched once per embedding variant: dense scores every chunk, BM25 scores chunks (and
whole documents); every candidate default is then computed from those matrices without searching again.
Candidates are compared by their *margin*: nDCG@10 minus the better of BM25 and dense (same document scoring)
on that collection. The default is the candidate whose worst margin over the dev collections is largest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragft.retrieval.doc_scoring import DOC_SCORINGS, doc_scores, doc_starts, top_documents
from ragft.retrieval.doc_search import matched, score_matrix
from ragft.retrieval.fusion import SCALES, Pins, Ranking, fuse
from ragft.retrieval.metrics import ndcg_at_k

BM25_SCORINGS = ("maxp", "document")
ROUTE_KINDS = ("keyword", "mixed", "semantic")  # labels show routed weights in this order
# Routed fusion's per-kind dense weights tried (the rules that sort queries into kinds stay as they are).
ROUTES = tuple(
    {"keyword": k, "mixed": m, "semantic": s}
    for k, m, s in itertools.product((0.0, 0.2), (0.5, 0.7), (0.7, 0.8, 0.9, 0.95))
)
# How routing tells a 'mixed' query: None = any name the pattern finds (route_query without an index); a
# number = only names BM25 can pin: at most that many indexed texts hold all their terms (BM25Retriever.pins).
PIN_LIMITS = (None, 5, 10, 20, 50, 100)
DOCUMENTS = 100  # documents kept from each list before fusing, and per query after
BM25_CHUNK_DEPTH = 1000
# What indexing costs under each dense document scoring: FirstP embeds one chunk per document, the others
# every chunk (Django's manual: 6,487 first chunks against 10,787 chunks).
EMBEDS_FIRST_CHUNKS_ONLY = ("firstp",)


@dataclass
class CollectionRuns:
    """Top documents of every query under each single method and document scoring, for one collection."""

    name: str
    split: str
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]
    dense: dict[str, list[Ranking]] = field(default_factory=dict)  # doc scoring -> rankings
    bm25: dict[str, list[Ranking]] = field(default_factory=dict)  # "maxp" or "document" -> rankings
    postings: dict[str, np.ndarray] = field(default_factory=dict)  # the chunks each BM25 term occurs in


def judged_queries(directory: Path, split: str) -> tuple[dict, list[str], list[str], dict]:
    """(corpus, query ids, query texts, qrels) of a BEIR folder's split, judged queries only."""
    from ragft.corpus.data import load_beir

    corpus, queries, qrels = load_beir(directory)
    judged = {q: rel for q, rel in qrels[split].items() if q in queries}
    ids = sorted(judged)
    return corpus, ids, [queries[q]["text"] for q in ids], judged


def bm25_matrix(retriever, queries: Sequence[str], depth: int) -> np.ndarray:
    """(queries x texts) BM25 scores, 0 outside each query's `depth` best (BM25 scores are never negative)."""
    ids = retriever.doc_ids
    return score_matrix(retriever.search(queries, min(depth, len(ids))), ids)


def collect(
    directory: str | Path,
    split: str,
    embedder,
    show_progress: bool = False,
    scorings: Sequence[str] = DOC_SCORINGS,
) -> CollectionRuns:
    """Search one collection's split with dense (under these doc scorings) and BM25 (chunks and whole
    documents). Scorings that need only first chunks (FirstP) embed only those."""
    from ragft.retrieval.embed import embed_texts
    from ragft.retrieval.retrieval_eval import chunk_collection
    from ragft.retrieval.retrieve import BM25Retriever

    unknown = [s for s in scorings if s not in DOC_SCORINGS]
    if unknown or not scorings:
        raise ValueError(f"scorings must be some of {list(DOC_SCORINGS)}, got {list(scorings)}")
    directory = Path(directory)
    corpus, query_ids, query_texts, qrels = judged_queries(directory, split)
    chunks = chunk_collection(corpus)
    doc_ids, starts = doc_starts([c.doc_id for c in chunks])
    texts = [c.indexed_text for c in chunks]
    runs = CollectionRuns(directory.name, split, query_ids, query_texts, qrels)
    query_vectors = embedder.encode(query_texts)
    if set(scorings) <= set(EMBEDS_FIRST_CHUNKS_ONLY):
        firsts = embed_texts([texts[i] for i in starts], embedder, show_progress=show_progress)
        runs.dense["firstp"] = top_documents(query_vectors @ firsts.T, doc_ids, DOCUMENTS)
    else:
        vectors = embed_texts(texts, embedder, show_progress=show_progress)
        chunk_scores = query_vectors @ vectors.T
        for scoring in scorings:
            scores = doc_scores(scoring, chunk_scores, starts, query_vectors, vectors)
            runs.dense[scoring] = top_documents(scores, doc_ids, DOCUMENTS)
    chunk_index = BM25Retriever([c.chunk_id for c in chunks], texts)
    runs.postings = chunk_index.postings
    sparse = bm25_matrix(chunk_index, query_texts, BM25_CHUNK_DEPTH)
    runs.bm25["maxp"] = matched(
        top_documents(np.maximum.reduceat(sparse, starts, axis=1), doc_ids, DOCUMENTS)
    )
    whole = [f"{corpus[d].get('title', '')}\n{corpus[d].get('text', '')}" for d in doc_ids]
    runs.bm25["document"] = matched(
        top_documents(bm25_matrix(BM25Retriever(doc_ids, whole), query_texts, DOCUMENTS), doc_ids, DOCUMENTS)
    )
    return runs


def config_label(config: dict) -> str:
    """A short readable name: 'firstp | convex w=0.80', 'maxp | routed', 'firstp | dense'."""
    method = config["method"]
    scoring = f"{config.get('dense', 'maxp')}"
    if config.get("bm25", "maxp") != "maxp":
        scoring += f"+bm25 {config['bm25']}"
    scale = effective_scale(config)
    scale = f" {scale}" if scale != "minmax" else ""
    if method == "convex":
        return f"{scoring} | convex w={config['weight']:.2f}{scale}"
    if method == "rrf":
        return f"{scoring} | rrf k={config['rrf_k']}"
    if method == "routed" and "route" in config:
        label = f"{scoring} | routed " + "/".join(f"{config['route'][kind]:.2f}" for kind in ROUTE_KINDS)
        return label + (f" pins<={config['pins']}" if config.get("pins") else "") + scale
    return f"{scoring} | {method}{scale}"


def effective_scale(config: dict) -> str:
    """The rescaling a config fuses with: its "scale", else fuse's default for its method (fusion.scale_for;
    'minmax', named by no label, for the methods that rescale nothing)."""
    from ragft.retrieval.fusion import scale_for

    return scale_for(config["method"], config.get("scale"))


def rankings(runs: CollectionRuns, config: dict) -> list[Ranking]:
    """Document rankings of one config: method bm25, dense, or a fusion (convex, rrf, routed) of the two."""
    method = config["method"]
    if method == "bm25":
        return runs.bm25[config.get("bm25", "maxp")]
    dense = runs.dense[config.get("dense", "maxp")]
    if method == "dense":
        return dense
    sparse = runs.bm25[config.get("bm25", "maxp")]
    weight, rrf_k, route = config.get("weight", 0.5), config.get("rrf_k", 60), config.get("route")
    pins = collection_pins(runs, config["pins"]) if config.get("pins") else None
    scale = config.get("scale")  # None: fuse's default for the method (what effective_scale names)
    return [
        fuse(s, d, method, weight, rrf_k, query=q, route_weights=route, pins=pins, scale=scale)[:DOCUMENTS]
        for q, s, d in zip(runs.query_texts, sparse, dense, strict=True)
    ]


def collection_pins(runs: CollectionRuns, max_texts: int) -> Pins:
    """The collection's BM25Retriever.pins at this limit, from the postings kept in runs."""
    from ragft.retrieval.retrieve import pinned

    def pins(name: str) -> bool:
        return pinned(runs.postings, name, max_texts)

    return pins


def route_kinds(runs: CollectionRuns, pin_max: int | None = None) -> list[str]:
    """Each query's routing kind (runs.query_ids order), with names pinned in this collection's BM25 index
    (pin_max texts at most; the package default when None)."""
    from ragft.retrieval.fusion import PIN_MAX_TEXTS, route_query

    pins = collection_pins(runs, PIN_MAX_TEXTS if pin_max is None else pin_max)
    return [route_query(q, pins) for q in runs.query_texts]


def config_route_kinds(runs: CollectionRuns, config: dict) -> list[str] | None:
    """Each query's routing kind under a routed config, pinned as `rankings` pins (its "pins" limit, or any
    name when it has none); None for a config that does not route."""
    from ragft.retrieval.fusion import route_query

    if config["method"] != "routed":
        return None
    pins = collection_pins(runs, config["pins"]) if config.get("pins") else None
    return [route_query(q, pins) for q in runs.query_texts]


def per_query_ndcg(runs: CollectionRuns, config: dict, k: int = 10) -> np.ndarray:
    """nDCG@k of every query (in runs.query_ids order)."""
    return np.array(
        [
            ndcg_at_k([d for d, _ in ranking], runs.qrels[q], k)
            for q, ranking in zip(runs.query_ids, rankings(runs, config), strict=True)
        ]
    )


def ndcg(runs: CollectionRuns, config: dict, k: int = 10) -> float:
    """Mean nDCG@k over the collection's judged queries."""
    return float(per_query_ndcg(runs, config, k).mean())


def candidate_configs(
    dense_scorings: Iterable[str] = DOC_SCORINGS,
    bm25_scorings: Iterable[str] = ("maxp",),
    weights: Iterable[float] = tuple(round(w, 2) for w in np.arange(0.3, 1.0001, 0.05)),
    rrf_ks: Iterable[int] = (10, 60),
    routes: Iterable[dict[str, float]] | None = None,
    pin_limits: Iterable[int | None] = PIN_LIMITS,
    scales: Iterable[str] = SCALES,
) -> list[dict]:
    """Every fusion (convex at each weight, rrf at each k, routed with each set of per-kind weights and each
    way of telling a 'mixed' query; convex and routed under each scale) for each pair of document scorings."""
    routes = list(ROUTES if routes is None else routes)
    pin_limits, scales = list(pin_limits), list(scales)
    configs = []
    for dense, bm25 in itertools.product(dense_scorings, bm25_scorings):
        base = {"dense": dense, "bm25": bm25}
        for scale in scales:
            scaled = {**base, "scale": scale}
            configs += [{**scaled, "method": "convex", "weight": w} for w in weights]
            configs += [
                {**scaled, "method": "routed", "route": route, **({"pins": pins} if pins else {})}
                for route in routes
                for pins in pin_limits
            ]
        configs += [{**base, "method": "rrf", "rrf_k": k} for k in rrf_ks]
    return configs


def best_single(runs: CollectionRuns, dense_scorings: Iterable[str], bm25_scorings: Iterable[str]) -> float:
    """The better single method's nDCG@10: the best of dense and BM25 under any of these scorings."""
    singles = [{"method": "dense", "dense": s} for s in dense_scorings]
    singles += [{"method": "bm25", "bm25": s} for s in bm25_scorings]
    return max(ndcg(runs, config) for config in singles)


def margins(runs_list: Sequence[CollectionRuns], configs: Sequence[dict]) -> dict[str, dict[str, float]]:
    """label -> collection -> nDCG@10 minus the better single method (over every scoring the configs use)."""
    dense_scorings = sorted({c.get("dense", "maxp") for c in configs})
    bm25_scorings = sorted({c.get("bm25", "maxp") for c in configs})
    reference = {r.name: best_single(r, dense_scorings, bm25_scorings) for r in runs_list}
    return {
        config_label(config): {r.name: ndcg(r, config) - reference[r.name] for r in runs_list}
        for config in configs
    }


DEV_TOLERANCE = 0.01  # worst dev margins closer than this are not told apart: the cheaper candidate wins


def cost(label: str) -> int:
    """0 for a candidate that embeds only each document's first chunk, 1 for one that embeds every chunk."""
    return 0 if label.split(" ")[0] in EMBEDS_FIRST_CHUNKS_ONLY else 1


def choose(
    margin_table: dict[str, dict[str, float]], collections: Sequence[str], tolerance: float = DEV_TOLERANCE
) -> str:
    """Among the labels whose worst margin over these collections is within `tolerance` of the largest, the
    cheapest to index (see cost), then the largest worst margin, then the largest mean margin."""
    if not margin_table:
        raise ValueError("no candidates to choose from")

    def worst(label: str) -> float:
        return min(margin_table[label][c] for c in collections)

    best = max(worst(label) for label in margin_table)
    close = [label for label in sorted(margin_table) if worst(label) >= best - tolerance - 1e-9]

    def key(label: str) -> tuple[int, float, float]:
        values = [margin_table[label][c] for c in collections]
        return (-cost(label), round(min(values), 6), float(np.mean(values)))

    return max(close, key=key)


# ---------------------------------------------------------------- the study behind the defaults

RECORD = "retrieval_defaults"
COMMAND = "python -m ragft bench defaults --save"
# (folder, split): what the defaults are chosen on (dev: one or more sets per kind of question), checked on
# (test) and held out on.
DEV = {
    "faq": (("celery-faq", "dev"), ("scrapy-faq", "dev"), ("lxml-faq", "dev")),
    "facts": (("facts", "dev"),),
    "identifiers": (("identifiers-dev", "dev"),),
}
TEST = {"faq": ("faq", "test"), "facts": ("facts", "test"), "identifiers": ("identifiers", "test")}
MINI = {
    "faq": ("faq-mini", "test"),
    "facts": ("facts-mini", "test"),
    "identifiers": ("identifiers-mini", "test"),
}
# Collections no default is chosen on. SQLAlchemy's was the first; Cython's was added with lxml's dev FAQ (FAQ
# questions that name API methods, like SQLAlchemy's), so that one reported collection is still unseen.
HELD_OUT = (("sqlalchemy-faq", "test"), ("cython-faq", "test"))
FLOORS = {"faq": 0.70}  # test nDCG@10 a default should reach, by kind (Django's FAQ: a real FAQ collection)
STUDY_SETS = (*(s for sets in DEV.values() for s in sets), *TEST.values(), *MINI.values(), *HELD_OUT)


def set_key(folder: str, split: str) -> str:
    """'facts/dev': one collection and split."""
    return f"{folder}/{split}"


def dev_keys(kinds: Iterable[str] | None = None, dev: dict[str, tuple] | None = None) -> list[str]:
    """The dev sets of these kinds of question (all kinds by default), as set keys; `dev` maps each kind to
    its (folder, split) sets (default: DEV)."""
    dev = DEV if dev is None else dev
    return [set_key(*s) for kind in (dev if kinds is None else kinds) for s in dev[kind]]


def singles(
    dense_scorings: Iterable[str] = DOC_SCORINGS, bm25_scorings: Iterable[str] = BM25_SCORINGS
) -> list[dict]:
    """Every single-method config: dense under each document scoring, BM25 under each."""
    return [{"method": "dense", "dense": s} for s in dense_scorings] + [
        {"method": "bm25", "bm25": s} for s in bm25_scorings
    ]


def study(
    runs: dict[str, CollectionRuns],
    configs: Sequence[dict],
    single_configs: Sequence[dict] | None = None,
    dev: dict[str, tuple] | None = None,
    held_out: Sequence[tuple[str, str]] | None = None,
) -> dict:
    """nDCG@10 of every config on every set; the dev choice; leave-one-collection-out choices and reports.
    Margins are taken against the best of `single_configs` (default: singles(), every scoring); `dev` and
    `held_out` say what is chosen on and what only reports (default: DEV and HELD_OUT)."""
    single_configs = singles() if single_configs is None else single_configs
    table = score_table(runs, [*single_configs, *configs])
    labels, single_labels = [config_label(c) for c in configs], [config_label(c) for c in single_configs]
    return study_on_table(table, labels, single_labels, dev, held_out)


def score_table(runs: dict[str, CollectionRuns], configs: Sequence[dict]) -> dict[str, dict[str, float]]:
    """set -> config label -> nDCG@10 (4 places) of every config on every set of `runs`."""
    return {
        set_key(r.name, r.split): {config_label(c): round(ndcg(r, c), 4) for c in configs}
        for r in runs.values()
    }


def study_on_table(
    table: dict[str, dict[str, float]],
    labels: Sequence[str],
    single_labels: Sequence[str],
    dev: dict[str, tuple] | None = None,
    held_out: Sequence[tuple[str, str]] | None = None,
) -> dict:
    """study's choices from a score_table: the candidates `labels`, their margins against the best of
    `single_labels`, chosen on `dev` and reported on the test sets and `held_out` (defaults: DEV, HELD_OUT).
    One table serves any split into dev and held out, without scoring the configs again."""
    dev_sets = DEV if dev is None else dev
    held_out = HELD_OUT if held_out is None else held_out

    def margin_table(keys: Sequence[str]) -> dict[str, dict[str, float]]:
        return score_margins(table, keys, single_labels, labels)

    dev = dev_keys(dev=dev_sets)
    choice = choose(margin_table(dev), dev)
    loco = {}
    for held in dev_sets:
        keys = dev_keys((g for g in dev_sets if g != held), dev_sets)
        picked = choose(margin_table(keys), keys)
        report = [*dev_keys([held], dev_sets), set_key(*TEST[held])]
        loco[held] = {
            "chosen_on": keys,
            "choice": picked,
            "reported_on": report,
            "margin": {k: round(margin_table(report)[picked][k], 4) for k in report},
            "ndcg@10": {k: table[k][picked] for k in report},
        }
    reported = [
        k for k in [*(set_key(*t) for t in TEST.values()), *(set_key(*h) for h in held_out)] if k in table
    ]
    floors = {set_key(*TEST[kind]): f for kind, f in FLOORS.items() if set_key(*TEST[kind]) in table}
    return {
        "ndcg@10": table,
        "singles": single_labels,
        "dev_sets": dev,
        "choice": choice,
        "loco": loco,
        # chosen on the report sets themselves: a bound on any fair choice, not a result
        "ceiling": ceiling(table, reported, single_labels, floors=floors),
    }


def score_margins(
    table: dict[str, dict[str, float]],
    keys: Sequence[str],
    single_labels: Sequence[str],
    labels: Sequence[str],
) -> dict[str, dict[str, float]]:
    """label -> set -> nDCG@10 minus the set's better single method, from a study's table (rounded to 6
    places, so that equal margins compare equal whatever the float noise)."""
    best = {k: max(table[k][s] for s in single_labels) for k in keys}
    return {label: {k: round(table[k][label] - best[k], 6) for k in keys} for label in labels}


def ceiling(
    table: dict[str, dict[str, float]],
    keys: Sequence[str],
    single_labels: Sequence[str],
    tolerance: float = DEV_TOLERANCE,
    floors: dict[str, float] | None = None,
) -> dict:
    """What the candidates could reach if they were chosen on these very sets (an upper bound on any honest
    choice): each set's best candidate, the largest worst margin over all of them and every candidate that
    has it, and how many candidates stay within `tolerance` on each set, on all sets, and on all sets but one.

    `table` is a study's "ndcg@10" (set -> label -> score); every label not in `single_labels` is a candidate.
    `floors` (set -> nDCG@10) also counts the candidates that reach every floor, and names the one among them
    whose worst margin is largest (ties: the last label in sorted order).
    """
    if not keys:
        raise ValueError("keys must name at least one set of the table")
    missing = [k for k in keys if k not in table]
    if missing:
        raise ValueError(f"keys {missing} are not in the table; it has {sorted(table)}")
    floors = floors or {}
    unknown = [k for k in floors if k not in keys]
    if unknown:
        raise ValueError(f"floors name sets {unknown} that are not among keys {list(keys)}")
    labels = [label for label in table[keys[0]] if label not in set(single_labels)]
    if not labels:
        raise ValueError("the table holds no candidates besides the single methods")
    margin = score_margins(table, keys, single_labels, labels)

    def worst(label: str, over: Sequence[str] = keys) -> float:
        return min(margin[label][k] for k in over)

    def keeping_up(over: Sequence[str]) -> set[str]:  # no sets to keep up on: every candidate does
        return {label for label in labels if not over or worst(label, over) >= -tolerance - 1e-9}

    def described(label: str | None) -> dict:
        if label is None:
            return {"candidate": None, "margin": {}, "worst margin": None}
        rounded = {k: round(v, 4) for k, v in margin[label].items()}
        return {"candidate": label, "margin": rounded, "worst margin": min(rounded.values())}

    bound = max(worst(label) for label in labels)
    tied = sorted(label for label in labels if worst(label) == bound)
    reaching = [label for label in labels if all(table[k][label] >= f for k, f in floors.items())]
    passing = keeping_up(keys)
    per_set = {}
    for k in keys:
        top = max(labels, key=lambda label: (table[k][label], label))
        best_single = table[k][top] - margin[top][k]
        per_set[k] = {
            "best single": round(best_single, 4),
            "best candidate": top,
            "its nDCG@10": table[k][top],
            "margin": round(margin[top][k], 4),
            "within tolerance": len(keeping_up([k])),
            "within tolerance on the others": len(keeping_up([o for o in keys if o != k])),
        }
    return {
        "per_set": per_set,
        "joint": {**described(tied[-1]), "tied": tied},
        "within tolerance everywhere": len(passing),
        "reaching the floors": {
            "floors": dict(floors),
            "candidates": len(reaching),
            **described(max(reaching, key=lambda label: (worst(label), label)) if reaching else None),
            "within tolerance everywhere": len(passing.intersection(reaching)),
        },
        "candidates": len(labels),
    }
