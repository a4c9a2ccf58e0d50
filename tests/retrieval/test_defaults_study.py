"""ragft.retrieval.defaults_study: one search per collection, every candidate default scored from it."""

import json

import numpy as np
import pytest
from fake_embedder import FakeEmbedder

from ragft.retrieval import defaults_study as st
from ragft.retrieval import fusion

WORDS = ["cache", "session", "model", "field", "form", "view", "admin", "query", "template", "url"]


def _beir(folder):
    (folder / "qrels").mkdir(parents=True)
    docs = {
        f"d{i}": {"title": f"T{i}", "text": f"{WORDS[i]} {WORDS[(i * 3) % 10]} text {i}"} for i in range(10)
    }
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, **v}) + "\n" for d, v in docs.items()))
    queries = {f"q{i}": f"{WORDS[i]} {WORDS[(i + 1) % 10]}" for i in range(10)}
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items())
    )
    qrels = "".join(f"q{i}\td{i}\t1\n" for i in range(10))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return folder


def test_collected_runs_reproduce_evaluate_collection(tmp_path, monkeypatch):
    """The study's rankings at the default settings are what `eval-retrieval` computes, metric for metric."""
    import ragft.runtime.models
    from ragft.retrieval.retrieval_bench import default_configs
    from ragft.retrieval.retrieval_eval import evaluate_collection

    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    embedder = FakeEmbedder(tmp_path)
    monkeypatch.setattr(ragft.runtime.models, "load_embedder", lambda: embedder)
    folder = _beir(tmp_path / "beir")
    runs = st.collect(folder, "test", embedder)
    assert runs.name == "beir" and len(runs.query_ids) == 10
    for method, config in default_configs().items():
        expected = evaluate_collection(
            folder, method, show_progress=False, variant="fp32", tune_embedder=False
        )
        assert st.ndcg(runs, config) == pytest.approx(expected["ndcg@10"]), method
        got = st.per_query_ndcg(runs, config)
        assert got.shape == (10,) and 0 <= got.min() <= got.max() <= 1


def _runs(name, dense_gold_rank, bm25_gold_rank):
    """One query whose gold document d0 sits at these ranks (1-based) in the dense and BM25 lists."""

    def ranking(rank):
        docs = [f"x{i}" for i in range(5)]
        docs.insert(rank - 1, "d0")
        return [[(d, 1.0 - i / 10) for i, d in enumerate(docs)]]

    runs = st.CollectionRuns(name, "dev", ["q"], ["how do I do this thing?"], {"q": {"d0": 1}})
    runs.dense = {s: ranking(dense_gold_rank) for s in ("maxp", "firstp", "blend", "meanvec")}
    runs.bm25 = {s: ranking(bm25_gold_rank) for s in ("maxp", "document")}
    return runs


def test_routed_candidates_with_pins_route_by_the_collections_term_counts():
    runs = _runs("a", 1, 4)
    runs.query_texts = ["Why does flush() fail here?"]
    route = {"keyword": 0.0, "mixed": 0.0, "semantic": 1.0}  # mixed: BM25's order, semantic: dense's
    config = {"method": "routed", "dense": "maxp", "route": route, "pins": 20}
    runs.postings = {"flush": np.arange(3)}
    assert st.rankings(runs, config) == st.rankings(runs, {**config, "pins": None})  # pinned: mixed
    assert st.rankings(runs, config)[0][0][0] == "x0"
    runs.postings = {"flush": np.arange(300)}  # too common to pin: semantic, dense's order
    assert st.rankings(runs, config)[0][0][0] == "d0"
    assert st.route_kinds(runs, pin_max=20) == ["semantic"]
    runs.postings = {"flush": np.arange(3)}
    assert st.route_kinds(runs, pin_max=20) == ["mixed"] and st.route_kinds(runs, pin_max=2) == ["semantic"]
    # a config's own routing: its pin limit, any name without one, nothing for a config that does not route
    assert st.config_route_kinds(runs, {**config, "pins": 2}) == ["semantic"]
    runs.postings = {"flush": np.arange(300)}
    assert st.config_route_kinds(runs, config) == ["semantic"]
    assert st.config_route_kinds(runs, {**config, "pins": None}) == ["mixed"]
    assert st.config_route_kinds(runs, {"method": "convex", "weight": 0.5}) is None


def test_margins_are_against_the_better_single_method_and_choose_takes_the_best_worst_case():
    a, b = _runs("a", 1, 4), _runs("b", 3, 1)
    configs = [{"method": "convex", "weight": w} for w in (0.0, 0.5, 1.0)]
    table = st.margins([a, b], configs)
    assert set(table) == {"maxp | convex w=0.00", "maxp | convex w=0.50", "maxp | convex w=1.00"}
    assert table["maxp | convex w=1.00"]["a"] == pytest.approx(0.0)  # dense alone is a's best single
    assert table["maxp | convex w=1.00"]["b"] < 0 and table["maxp | convex w=0.00"]["a"] < 0
    worst = {label: min(row.values()) for label, row in table.items()}
    assert worst[st.choose(table, ["a", "b"])] == max(worst.values())
    with pytest.raises(ValueError, match="no candidates"):
        st.choose({}, ["a"])


def test_candidate_configs_and_labels():
    configs = st.candidate_configs(
        ["firstp"], weights=[0.5], rrf_ks=[60], routes=[st.ROUTES[0]], pin_limits=[None]
    )
    labels = [st.config_label(c) for c in configs]
    assert labels == [
        "firstp | convex w=0.50",
        "firstp | routed 0.00/0.50/0.70",
        "firstp | convex w=0.50 zscore",
        "firstp | routed 0.00/0.50/0.70 zscore",
        "firstp | rrf k=60",  # ranks only: no scale
    ]
    # a config without "scale" is labelled with the scale fuse gives its method by default
    assert (
        st.config_label({"method": "routed", "dense": "blend", "bm25": "document"})
        == f"blend+bm25 document | routed {fusion.ROUTE_SCALE}"
    )
    assert st.config_label({"method": "convex", "weight": 0.5}) == "maxp | convex w=0.50"
    assert st.config_label({"method": "routed", "scale": "minmax"}) == "maxp | routed"
    pinned = st.candidate_configs(
        ["firstp"], weights=[], rrf_ks=[], routes=[st.ROUTES[0]], pin_limits=[None, 20], scales=["minmax"]
    )
    assert [st.config_label(c) for c in pinned] == [
        "firstp | routed 0.00/0.50/0.70",
        "firstp | routed 0.00/0.50/0.70 pins<=20",
    ]
    per_scale = 15 + len(st.ROUTES) * len(st.PIN_LIMITS)
    assert len(st.candidate_configs()) == 4 * (2 + len(st.SCALES) * per_scale)


def test_study_chooses_on_dev_sets_and_reports_each_left_out_collection(monkeypatch):
    dev = {"faq": (("f", "dev"), ("e", "dev")), "facts": (("g", "dev"),), "identifiers": (("h", "dev"),)}
    monkeypatch.setattr(st, "DEV", dev)
    monkeypatch.setattr(st, "TEST", {"faq": ("F", "dev"), "facts": ("G", "dev"), "identifiers": ("H", "dev")})
    ranks = {"f": (1, 4), "e": (1, 3), "g": (2, 1), "h": (3, 1), "F": (1, 5), "G": (2, 2), "H": (4, 1)}
    runs = {f"{n}/dev": _runs(n, *r) for n, r in ranks.items()}
    configs = [{"method": "convex", "weight": w} for w in np.round(np.arange(0, 1.01, 0.25), 2)]
    result = st.study(runs, configs)
    assert result["dev_sets"] == ["f/dev", "e/dev", "g/dev", "h/dev"]  # both dev sets of the faq kind
    assert set(result["loco"]) == {"faq", "facts", "identifiers"}
    loco = result["loco"]["faq"]
    assert loco["chosen_on"] == ["g/dev", "h/dev"] and loco["reported_on"] == ["f/dev", "e/dev", "F/dev"]
    assert loco["ndcg@10"]["F/dev"] == result["ndcg@10"]["F/dev"][loco["choice"]]
    assert result["loco"]["facts"]["chosen_on"] == ["f/dev", "e/dev", "h/dev"]
    bound = result["ceiling"]  # over the test sets (the held-out one is not among these runs)
    assert list(bound["per_set"]) == ["F/dev", "G/dev", "H/dev"]
    assert bound["reaching the floors"]["floors"] == {"F/dev": st.FLOORS["faq"]}
    assert bound == st.ceiling(
        result["ndcg@10"], ["F/dev", "G/dev", "H/dev"], result["singles"], floors={"F/dev": st.FLOORS["faq"]}
    )


def test_choose_prefers_the_cheaper_candidate_among_those_within_the_tolerance():
    table = {
        "maxp | routed": {"a": 0.030, "b": 0.020},
        "firstp | routed": {"a": 0.040, "b": 0.012},  # worst 0.012: within 0.01 of 0.020, and cheaper
        "firstp | convex w=0.50": {"a": 0.050, "b": -0.002},  # worst -0.002: too far below
    }
    assert st.cost("firstp | routed") == 0 and st.cost("maxp | routed") == 1
    assert st.choose(table, ["a", "b"]) == "firstp | routed"
    assert st.choose(table, ["a", "b"], tolerance=0.0) == "maxp | routed"


def test_ceiling_chooses_on_the_sets_themselves_and_counts_what_reaches_the_targets():
    table = {
        "a": {"bm25": 0.50, "dense": 0.60, "x": 0.65, "y": 0.58, "z": 0.71},
        "b": {"bm25": 0.80, "dense": 0.40, "x": 0.78, "y": 0.82, "z": 0.70},
    }
    out = st.ceiling(table, ["a", "b"], ["bm25", "dense"], floors={"a": 0.70})
    assert out["candidates"] == 3
    expected_a = {
        "best single": 0.6,
        "best candidate": "z",
        "its nDCG@10": 0.71,
        "margin": 0.11,
        "within tolerance": 2,
        "within tolerance on the others": 1,
    }  # x, z on a; y on b
    assert out["per_set"]["a"] == expected_a
    assert out["per_set"]["b"]["best candidate"] == "y" and out["per_set"]["b"]["within tolerance"] == 1
    # x: -0.02 on b; y: -0.02 on a; z: -0.10 on b. x and y tie on their worst margin: both are named.
    assert out["joint"]["worst margin"] == pytest.approx(-0.02)
    assert out["joint"]["tied"] == ["x", "y"] and out["joint"]["candidate"] == "y"
    assert out["joint"]["margin"] == {"a": -0.02, "b": 0.02}
    assert out["within tolerance everywhere"] == 0
    looser = st.ceiling(table, ["a", "b"], ["bm25", "dense"], tolerance=0.02)
    assert looser["within tolerance everywhere"] == 2
    reaching = out["reaching the floors"]
    assert reaching["candidates"] == 1 and reaching["candidate"] == "z"
    assert reaching["worst margin"] == pytest.approx(-0.10) and reaching["margin"]["a"] == pytest.approx(0.11)
    assert reaching["within tolerance everywhere"] == 0
    nothing = st.ceiling(table, ["a", "b"], ["bm25", "dense"], floors={"a": 0.9})["reaching the floors"]
    assert nothing["candidates"] == 0 and nothing["candidate"] is None and nothing["margin"] == {}
    assert st.ceiling(table, ["a"], ["bm25", "dense"])["within tolerance everywhere"] == 2  # x and z


def test_ceiling_rejects_unknown_sets_and_tables_without_candidates():
    table = {"a": {"bm25": 0.5, "dense": 0.6, "x": 0.7}}
    with pytest.raises(ValueError, match=r"keys \['b'\] are not in the table"):
        st.ceiling(table, ["b"], ["bm25", "dense"])
    with pytest.raises(ValueError, match="at least one set"):
        st.ceiling(table, [], ["bm25", "dense"])
    with pytest.raises(ValueError, match="floors name sets"):
        st.ceiling(table, ["a"], ["bm25", "dense"], floors={"b": 0.7})
    with pytest.raises(ValueError, match="no candidates"):
        st.ceiling({"a": {"bm25": 0.5, "dense": 0.6}}, ["a"], ["bm25", "dense"])


def test_collect_with_first_chunks_only_embeds_them_and_ranks_as_the_full_collect(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    folder = _beir(tmp_path / "beir")
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    long_doc = json.loads(lines[0])
    long_doc["text"] += "\n\n" + " ".join(f"filler{i}" for i in range(900))  # several chunks
    (folder / "corpus.jsonl").write_text("\n".join([json.dumps(long_doc), *lines[1:]]) + "\n")
    from ragft.corpus.data import load_beir
    from ragft.retrieval.retrieval_eval import chunk_collection

    assert len(chunk_collection(load_beir(folder)[0])) > 10
    full = st.collect(folder, "test", FakeEmbedder(tmp_path))
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache-2"))  # nothing cached for the second run
    embedder = FakeEmbedder(tmp_path)
    encoded = []
    encode = embedder.encode

    def counting(texts, **kwargs):
        encoded.append(len(texts))
        return encode(texts, **kwargs)

    monkeypatch.setattr(embedder, "encode", counting)
    firsts = st.collect(folder, "test", embedder, scorings=("firstp",))
    assert set(firsts.dense) == {"firstp"} and firsts.bm25.keys() == full.bm25.keys()
    assert firsts.dense["firstp"] == full.dense["firstp"]
    assert encoded == [10, 10]  # the 10 questions, then one first chunk per document
    assert st.ndcg(firsts, {"method": "bm25"}) == st.ndcg(full, {"method": "bm25"})  # BM25 needs no dense run
    with pytest.raises(ValueError, match="scorings must be some of"):
        st.collect(folder, "test", embedder, scorings=("best",))
