"""ragft.retrieval.fusion_study: re-fusing stored chunk rankings many ways without searching again."""

import pytest
from search_runs import CHUNK_TO_DOC, tiny_runs

from ragft.retrieval import fusion_study as fs
from ragft.retrieval.fusion import fuse


def test_single_methods_collapse_chunks_to_documents():
    runs = tiny_runs()
    assert [d for d, _ in fs.fused_rankings(runs, "bm25")[0]] == ["a", "b"]
    assert [d for d, _ in fs.fused_rankings(runs, "dense")[1]] == ["c", "b", "a"]
    table = fs.single_methods(runs_by_set := {"tiny": runs})
    assert table.loc["tiny", "best single"] == max(table.loc["tiny", "bm25"], table.loc["tiny", "dense"])
    assert list(runs_by_set) == ["tiny"]


def test_fusions_match_ragft_fusion():
    runs = tiny_runs()
    for method, weight in (("rrf", 0.5), ("convex", 0.3), ("raw", 0.5)):
        fused = fs.fused_rankings(runs, method, weight, rrf_k=10)
        expected = fuse(runs.sparse[1], runs.dense[1], method, weight, 10)
        assert [d for d, _ in fused[1]] == list(dict.fromkeys(CHUNK_TO_DOC[c] for c, _ in expected))
    with pytest.raises(ValueError, match="method must be one of"):
        fs.fused_rankings(runs, "max")


def test_hybrid_recovers_both_queries_where_each_single_method_misses_one():
    runs = tiny_runs()
    scores = {
        m: fs.score(runs, fs.fused_rankings(runs, m), ["recall@1"])["recall@1"] for m in ("bm25", "dense")
    }
    assert scores == {"bm25": 0.5, "dense": 0.5}
    hybrid = fs.fused_rankings(runs, "convex", 0.5)
    assert fs.score(runs, hybrid, ["recall@2"])["recall@2"] == 1.0
    assert fs.per_query_scores(runs, hybrid, "mrr@10")["q1"] == 1.0


def test_tune_weight_picks_the_best_and_breaks_ties_toward_the_middle():
    runs = tiny_runs()
    best, curve = fs.tune_weight(runs, "convex", [0.0, 0.25, 0.5, 0.75, 1.0], metric="mrr@10")
    assert curve[best] == curve.max()
    ties = [w for w in curve.index if curve[w] == curve.max()]
    assert best == min(ties, key=lambda w: (abs(w - 0.5), w))
    with pytest.raises(ValueError, match="weights must not be empty"):
        fs.tune_weight(runs, "convex", [])


def test_no_loss_margins_and_labels():
    runs_by_set = {"tiny": tiny_runs()}
    configs = [{"method": "rrf", "rrf_k": 60}, {"method": "convex", "weight": 0.3}, {"method": "raw"}]
    table = fs.no_loss_margins(runs_by_set, configs)
    assert list(table.index) == ["rrf k=60", "convex w=0.3", "raw"]
    assert (table["worst"] == table[["tiny"]].min(axis=1)).all()
    rows = fs.evaluate_configs(runs_by_set, [*configs, {"method": "bm25"}])
    assert rows.loc[rows.method == "bm25", "weight"].isna().all()
    assert rows.loc[rows.method == "convex", "rrf_k"].isna().all()


def test_gold_rank_and_rank_changes():
    runs = tiny_runs()
    assert fs.gold_rank([("x", 1.0), ("a", 0.5)], {"a": 1}) == 2
    assert fs.gold_rank([("x", 1.0)], {"a": 1}) is None
    changes = fs.rank_changes(runs, fs.fused_rankings(runs, "dense"), fs.fused_rankings(runs, "rrf"))
    # RRF puts b (found by both lists) above each query's gold document: fusion can also hurt.
    assert changes["after"].tolist() == [2, 2]
    assert changes["before"].isna().tolist() == [True, False] and changes.loc[1, "before"] == 1


def test_worst_margin_choice_and_paired_bootstrap():
    import pandas as pd

    margins = pd.DataFrame({"x": [-0.1, 0.02], "y": [0.05, -0.01]}, index=["rrf k=60", "convex w=0.6"])
    margins["worst"] = margins.min(axis=1)
    assert fs.worst_margin_choice(margins) == "convex w=0.6"
    mean, low, high = fs.paired_bootstrap(
        {"q1": 1.0, "q2": 0.0, "q3": 0.5}, {"q1": 0.0, "q2": 0.0, "q3": 0.5}
    )
    assert mean == pytest.approx(1 / 3) and 0.0 <= low <= mean <= high <= 1.0
    assert fs.paired_bootstrap({"q": 1.0}, {"q": 1.0}) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="share no query"):
        fs.paired_bootstrap({"a": 1.0}, {"b": 1.0})


def test_pick_weight_subset_and_halves():
    import pandas as pd

    assert fs.pick_weight(pd.Series({0.2: 0.9, 0.4: 0.9, 0.8: 0.5})) == 0.4
    with pytest.raises(ValueError, match="curve must not be empty"):
        fs.pick_weight(pd.Series(dtype=float))
    runs = tiny_runs()
    first, second = fs.halves(runs)
    assert (first.query_ids, second.query_ids) == (["q1"], ["q2"])
    assert (first.split, second.split) == ("test-a", "test-b")
    assert second.qrels == {"q2": {"c": 1}} and second.sparse == runs.sparse[1:]
    with pytest.raises(ValueError, match="positions must be non-empty"):
        fs.subset(runs, [2])
    with pytest.raises(ValueError, match="at least 2 queries"):
        fs.halves(first)
