"""ragft.retrieval.fusion: RRF ranks from 1, min-max rescales, convex weights, raw sums follow the larger."""

import pytest

from ragft.retrieval import fusion

BM25 = [("a", 20.0), ("b", 10.0), ("c", 5.0)]
DENSE = [("c", 0.9), ("b", 0.8), ("d", 0.1)]


def test_rrf_uses_ranks_starting_at_one():
    fused = dict(fusion.rrf([BM25, DENSE], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [d for d, _ in fusion.rrf([BM25, DENSE])][:2] == ["c", "b"]


def test_min_max_maps_best_to_one_and_worst_to_zero():
    assert fusion.min_max(BM25) == {"a": 1.0, "b": pytest.approx(1 / 3), "c": 0.0}
    assert fusion.min_max([("x", 3.0), ("y", 3.0)]) == {"x": 1.0, "y": 1.0}
    assert fusion.min_max([]) == {}


def test_z_scores_center_on_the_mean_in_units_of_the_spread():
    z = fusion.z_scores([("a", 3.0), ("b", 1.0), ("c", 2.0)])
    spread = (2 / 3) ** 0.5
    assert z == {"a": pytest.approx(1 / spread), "b": pytest.approx(-1 / spread), "c": 0.0}
    assert fusion.z_scores([("x", 3.0), ("y", 3.0)]) == {"x": 0.0, "y": 0.0}
    equal = [("x", 0.1), ("y", 0.1), ("z", 0.1)]  # their mean is not exactly 0.1 in floating point
    assert fusion.z_scores(equal) == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert fusion.z_scores([]) == {}


def test_min_max_depends_on_the_two_extremes_z_scores_on_every_score():
    before = [("top", 30.0), ("b", 6.0), ("c", 5.0), ("d", 4.0)]
    after = [("top", 30.0), ("b", 6.0), ("c", 25.0), ("d", 4.0)]  # only a middle score moved
    assert fusion.min_max(before)["b"] == fusion.min_max(after)["b"]
    assert fusion.z_scores(before)["b"] != pytest.approx(fusion.z_scores(after)["b"])


def test_a_document_missing_from_a_list_scores_the_bottom_of_its_scale():
    assert fusion.rescale(BM25, "minmax") == (fusion.min_max(BM25), 0.0)
    scores, missing = fusion.rescale(BM25, "zscore")
    assert missing == min(scores.values()) == scores["c"] < 0
    # "a" is only in BM25's list and "d" only in dense's: each takes the other list's lowest
    fused = dict(fusion.convex(BM25, DENSE, 0.5, scale="zscore"))
    dense_z = fusion.z_scores(DENSE)
    assert fused["a"] == pytest.approx(0.5 * scores["a"] + 0.5 * dense_z["d"])
    assert fused["d"] == pytest.approx(0.5 * scores["c"] + 0.5 * dense_z["d"])
    with pytest.raises(ValueError, match=r"scale must be one of \['minmax', 'zscore'\], got 'rank'"):
        fusion.convex(BM25, DENSE, 0.5, scale="rank")
    with pytest.raises(ValueError, match="scale must be one of"):
        fusion.fuse(BM25, DENSE, "rrf", scale="rank")


def test_a_short_bm25_list_counts_as_filled_up_with_zeros_under_z_scores():
    # BM25 returns only the documents sharing a word with the query; every other one scores 0.
    lone = [("hit", 4.0)]
    scores, missing = fusion.rescale(lone, "zscore", slots=4)  # as if [4, 0, 0, 0]
    spread = 3**0.5  # mean 1; deviations 3, -1, -1, -1: variance 3
    assert scores == {"hit": pytest.approx(3 / spread)} and missing == pytest.approx(-1 / spread)
    assert fusion.rescale(lone, "zscore") == ({"hit": 0.0}, 0.0)  # alone, a lone hit would have no say
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("hit", 0.1)]
    # at BM25's share 0.8, the lone hit comes first, as it does under min-max
    assert fusion.convex(lone, dense, 0.2, scale="zscore")[0][0] == "hit"
    assert fusion.convex(lone, dense, 0.2)[0][0] == "hit"


def test_convex_weight_zero_is_bm25_and_one_is_dense():
    assert [d for d, _ in fusion.convex(BM25, DENSE, 0.0)][:3] == ["a", "b", "c"]
    assert [d for d, _ in fusion.convex(BM25, DENSE, 1.0)][:2] == ["c", "b"]


def test_raw_sum_is_dominated_by_the_larger_scale():
    # Dense's favourite (c, 0.9) cannot overcome BM25's 20 vs 5 gap.
    assert [d for d, _ in fusion.raw_sum(BM25, DENSE)][0] == "a"


def test_fuse_rejects_unknown_methods_and_bad_weights():
    with pytest.raises(ValueError, match="method must be one of"):
        fusion.fuse(BM25, DENSE, method="max")
    with pytest.raises(ValueError, match="weight must be between 0 and 1, got 1.5"):
        fusion.convex(BM25, DENSE, 1.5)
    with pytest.raises(ValueError, match="k must be >= 0"):
        fusion.rrf([BM25], k=-1)


def test_rrf_weighted_by_dense_share():
    only_bm25 = fusion.fuse(BM25, DENSE, "rrf", weight=0.0)
    assert [d for d, s in only_bm25 if s > 0] == ["a", "b", "c"]


def test_route_query_sends_names_to_keywords_and_questions_by_their_words():
    assert fusion.route_query("DEFAULT_AUTO_FIELD") == "keyword"
    assert fusion.route_query("collectstatic --no-default-ignore") == "keyword"
    assert fusion.route_query("What is the default value of DEFAULT_AUTO_FIELD?") == "mixed"
    assert fusion.route_query("Which Python versions does Django 4.2 support?") == "mixed"
    assert fusion.route_query("How do I cite Django in a paper?") == "semantic"


def test_route_query_with_an_index_counts_only_the_names_bm25_can_pin():
    question = "Why does flush() fail after os.fork()?"
    assert fusion.query_names(question) == ["flush()", "os.fork"]
    assert fusion.route_query(question) == "mixed"  # no index: any name counts
    assert fusion.route_query(question, pins=lambda name: False) == "semantic"
    assert fusion.route_query(question, pins=lambda name: name == "os.fork") == "mixed"
    assert fusion.route_query("DEBUG", pins=lambda name: False) == "keyword"  # short lookups stay keyword
    seen = []
    fusion.fuse(BM25, DENSE, "routed", query=question, pins=lambda name: seen.append(name) or False)
    assert seen == ["flush()", "os.fork"]


def test_routed_fusion_weights_by_route_and_needs_the_query():
    keyword, scale = fusion.ROUTE_WEIGHTS["keyword"], fusion.ROUTE_SCALE
    routed = fusion.fuse(BM25, DENSE, "routed", query="DEBUG")
    assert routed == fusion.convex(BM25, DENSE, keyword, scale=scale)
    mine = {"keyword": 0.0, "mixed": 0.5, "semantic": 1.0}
    assert fusion.fuse(BM25, DENSE, "routed", query="DEBUG", route_weights=mine) == fusion.convex(
        BM25, DENSE, 0.0, scale=scale
    )
    question = "Why is my page slow?"
    assert fusion.fuse(BM25, DENSE, "routed", query=question) == fusion.convex(
        BM25, DENSE, fusion.ROUTE_WEIGHTS["semantic"], scale=scale
    )
    assert fusion.fuse(BM25, DENSE, "routed", query=question, scale="minmax") == fusion.convex(
        BM25, DENSE, fusion.ROUTE_WEIGHTS["semantic"]
    )
    with pytest.raises(ValueError, match="query is required"):
        fusion.fuse(BM25, DENSE, "routed")


def test_route_settings_are_the_weights_and_scale_chosen_for_each_model():
    assert fusion.route_settings() == (fusion.ROUTE_WEIGHTS, fusion.ROUTE_SCALE)
    assert fusion.route_settings(tuned=True) == (fusion.TUNED_ROUTE_WEIGHTS, fusion.TUNED_ROUTE_SCALE)
    assert fusion.pin_limit() == fusion.PIN_MAX_TEXTS
    assert fusion.pin_limit(tuned=True) == fusion.TUNED_PIN_MAX_TEXTS
    weights, _ = fusion.route_settings()
    weights["semantic"] = 0.0  # a copy: the package's weights stay as chosen
    assert fusion.ROUTE_WEIGHTS["semantic"] != 0.0
