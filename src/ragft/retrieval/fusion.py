"""Fusing two ranked lists: reciprocal rank fusion, convex combination of rescaled scores (min-max or
z-scores), and raw-score summing (kept to show why it fails: BM25 scores run to 20+, cosine to 1).

A ranking is a list of (doc_id, score) pairs, best first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Ranking = list[tuple[str, float]]
FUSIONS = ("rrf", "convex", "raw", "routed")
DEFAULT_RRF_K = 60
# How a convex combination puts the two lists on one scale before weighting them (see rescale).
SCALES = ("minmax", "zscore")
# Routed fusion rescales by z-scores: chosen on dev collections with the weights below. Plain convex fusion
# keeps min-max unless told.
ROUTE_SCALE = "zscore"
# Routed fusion: dense's share in a convex combination, by kind of query (see route_query).
# Chosen on dev collections in notebook 04 (`python -m ragft bench defaults`).
ROUTE_WEIGHTS = {"keyword": 0.2, "mixed": 0.5, "semantic": 0.9}
# The same choice made again with dense lists from MiniLM tuned on each collection's headings (what
# eval-retrieval searches with by default): `python -m ragft bench tuned-defaults` (its dev sets:
# ragft.retrieval.tuned_defaults.DEV).
TUNED_ROUTE_WEIGHTS = {"keyword": 0.2, "mixed": 0.5, "semantic": 0.95}
TUNED_ROUTE_SCALE = "minmax"
KEYWORD_MAX_WORDS = 3
# With an index at hand, a name counts only if BM25 can pin it: at most this many indexed texts hold all its
# terms (BM25 drops one-character tokens, so "1.7" leaves nothing to match, and a name as common as "flush()"
# in an ORM's manual matches too much). Chosen on dev collections with the weights above.
PIN_MAX_TEXTS = 10
TUNED_PIN_MAX_TEXTS = 5  # the same limit, chosen with the tuned weights: stricter
Pins = Callable[[str], bool]  # does BM25 pin this name in the index at hand (see BM25Retriever.pins)
_IDENTIFIER = re.compile(
    r"[A-Z][A-Z0-9]*_[A-Z0-9_]+"  # SETTING_NAMES
    r"|\b[a-z_]\w*(?:\.\w+)*\.[A-Z]\d{3}\b"  # system-check ids: admin.E108
    r"|(?<!\w)--?[a-z][\w-]*"  # command options: --noinput
    r"|\b\d+\.\d+(?:\.\d+)?\b"  # version numbers: 4.2, 5.2.1
    r"|\w+\(\)|\b\w+\.\w+\b|``"  # calls, dotted names, literals
)


def _sorted(scores: dict[str, float]) -> Ranking:
    # Ties broken by doc id so fusion is deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def rrf(
    rankings: Sequence[Ranking], k: int = DEFAULT_RRF_K, weights: Sequence[float] | None = None
) -> Ranking:
    """Reciprocal rank fusion: score(d) = sum over lists of weight / (k + rank), rank starting at 1.

    Uses ranks only, so the lists' score scales don't matter; k damps the advantage of the top ranks.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"weights must have one entry per ranking ({len(rankings)}), got {len(weights)}")
    fused: dict[str, float] = {}
    for weight, ranking in zip(weights, rankings, strict=True):
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return _sorted(fused)


def min_max(ranking: Ranking) -> dict[str, float]:
    """Rescale a list's scores to [0, 1]: best -> 1, worst -> 0 (all 1 when the scores are equal)."""
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {doc_id: 1.0 for doc_id, _ in ranking}
    return {doc_id: (score - low) / (high - low) for doc_id, score in ranking}


def _mean_and_spread(ranking: Ranking, slots: int) -> tuple[float, float]:
    """Mean and standard deviation of a list's scores, filled up with 0s to `slots` scores (spread 0 when
    they are all equal)."""
    scores = [score for _, score in ranking]
    scores += [0.0] * max(0, slots - len(scores))
    mean = sum(scores) / len(scores)
    if max(scores) == min(scores):
        return mean, 0.0
    return mean, (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5


def z_scores(ranking: Ranking, slots: int = 0) -> dict[str, float]:
    """Rescale a list's scores to how many standard deviations each lies above the list's mean (all 0 when
    the scores are equal). Min-max takes its scale from the top and bottom scores only; here every score
    in the list sets it. A list shorter than `slots` counts as filled up with scores of 0 (see rescale)."""
    return rescale(ranking, "zscore", slots)[0]


def rescale(ranking: Ranking, scale: str = "minmax", slots: int = 0) -> tuple[dict[str, float], float]:
    """(doc_id -> rescaled score, the score of a document missing from the list).

    A missing document scores the bottom of the scale: 0 under min-max, else the list's lowest z-score. With
    `slots`, a z-scored list shorter than that is a retriever that returns only what it matched, as BM25
    does: every other document scores 0, so the list counts as filled up with 0s and a missing document gets
    the z-score of 0. (Without that, a lone BM25 hit would get the z-score of the missing ones: no say.)"""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    if scale == "minmax":
        return min_max(ranking), 0.0
    if not ranking:
        return {}, 0.0
    mean, spread = _mean_and_spread(ranking, slots)
    if spread == 0:
        return {doc_id: 0.0 for doc_id, _ in ranking}, 0.0
    bottom = 0.0 if len(ranking) < slots else min(score for _, score in ranking)
    return {doc_id: (score - mean) / spread for doc_id, score in ranking}, (bottom - mean) / spread


def scale_for(method: str, scale: str | None = None) -> str:
    """The rescaling a fusion method uses: `scale` if given, else min-max for convex and ROUTE_SCALE for
    routed ('minmax' for the methods that rescale nothing: rrf uses ranks, raw the scores as they are)."""
    if scale is not None and scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    return scale or (ROUTE_SCALE if method == "routed" else "minmax")


def route_settings(tuned: bool = False) -> tuple[dict[str, float], str]:
    """Routed fusion's dense weight by kind of query and its rescaling: those chosen for the released MiniLM,
    or (tuned) those chosen for MiniLM tuned on the collection's own headings."""
    if tuned:
        return dict(TUNED_ROUTE_WEIGHTS), TUNED_ROUTE_SCALE
    return dict(ROUTE_WEIGHTS), ROUTE_SCALE


def pin_limit(tuned: bool = False) -> int:
    """How many indexed texts may hold a name for BM25 to pin it when routing: the limit chosen for the
    released MiniLM, or (tuned) the one chosen for MiniLM tuned on the collection's own headings."""
    return TUNED_PIN_MAX_TEXTS if tuned else PIN_MAX_TEXTS


def convex(
    sparse: Ranking, dense: Ranking, weight: float = 0.5, normalize: bool = True, scale: str = "minmax"
) -> Ranking:
    """weight * dense + (1 - weight) * sparse, on scores rescaled by `scale` (min-max by default; a document
    missing from a list scores the bottom of that list's scale, see rescale).

    weight 0 is BM25 alone, 1 is dense alone. With normalize=False this is raw-score fusion. Under
    z-scores, BM25's list counts as filled up with 0s to the longer list's length.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")
    if normalize:
        slots = max(len(sparse), len(dense))
        (a, a_missing), (b, b_missing) = rescale(sparse, scale, slots), rescale(dense, scale)
    else:
        (a, a_missing), (b, b_missing) = (dict(sparse), 0.0), (dict(dense), 0.0)
    fused = {
        doc_id: (1 - weight) * a.get(doc_id, a_missing) + weight * b.get(doc_id, b_missing)
        for doc_id in a.keys() | b
    }
    return _sorted(fused)


def raw_sum(sparse: Ranking, dense: Ranking) -> Ranking:
    """Add the raw scores: the larger scale (BM25's) decides almost every ordering."""
    return convex(sparse, dense, weight=0.5, normalize=False)


def query_names(query: str) -> list[str]:
    """The identifiers a query names: SETTING_NAMES, dotted names, calls, options, check ids, versions."""
    return _IDENTIFIER.findall(query)


def route_query(query: str, pins: Pins | None = None) -> str:
    """Which retriever a query leans on: 'keyword' (a short query without a question mark, like a
    search-box lookup of a name), 'mixed' (a sentence naming an identifier) or 'semantic' (plain words).

    Dense retrieval is weak at exact names and BM25 at rewording; routing gives each query the mix
    that suits it, so the hybrid keeps up with the stronger side when the other is much weaker. With
    `pins` (the index's BM25Retriever.pins), a sentence is 'mixed' only if BM25 can pin one of its names.
    """
    if len(query.split()) <= KEYWORD_MAX_WORDS and not query.rstrip().endswith("?"):
        return "keyword"
    names = query_names(query)
    if pins is not None:
        names = [name for name in names if pins(name)]
    return "mixed" if names else "semantic"


def fuse(
    sparse: Ranking,
    dense: Ranking,
    method: str = "rrf",
    weight: float = 0.5,
    k: int = DEFAULT_RRF_K,
    query: str | None = None,
    route_weights: dict[str, float] | None = None,
    pins: Pins | None = None,
    scale: str | None = None,
) -> Ranking:
    """Fuse a BM25 and a dense ranking with one of FUSIONS (weight: dense's share, for rrf and convex;
    routed: the convex weight of the query's kind (route_query, with `pins` if given) in route_weights,
    else ROUTE_WEIGHTS). `scale` (one of SCALES) rescales convex and routed scores; by default min-max for
    convex and ROUTE_SCALE for routed."""
    scale = scale_for(method, scale)
    if method == "routed":
        if query is None:
            raise ValueError("query is required for routed fusion: the weight depends on the query")
        weight = (route_weights or ROUTE_WEIGHTS)[route_query(query, pins)]
        return convex(sparse, dense, weight, scale=scale)
    if method == "rrf":
        return rrf([sparse, dense], k=k, weights=[2 * (1 - weight), 2 * weight])
    if method == "convex":
        return convex(sparse, dense, weight, scale=scale)
    if method == "raw":
        return raw_sum(sparse, dense)
    raise ValueError(f"method must be one of {list(FUSIONS)}, got {method!r}")
