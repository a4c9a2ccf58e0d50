"""The committed retrieval records (notebook 04 reads them): consistent with the package, and reproducible."""

import numpy as np
import pytest

from ragft.corpus.data import load_beir
from ragft.retrieval import defaults_study as st
from ragft.retrieval import retrieval_bench as rb
from ragft.runtime.paths import data_dir
from ragft.runtime.records import load_record, record_path


@pytest.fixture(scope="module")
def defaults():
    return load_record(record_path(st.RECORD), st.COMMAND)


@pytest.fixture(scope="module")
def bench():
    return load_record(record_path(rb.RECORD), rb.COMMAND)


def _assert_chosen_on_dev_by_the_rule(study: dict, dev: dict | None = None) -> None:
    """A study's choice was made on the dev sets (`dev`, default defaults_study's) by choose's rule from its
    own table, and each leave-one-collection-out choice was made without the collection it reports on."""
    dev = st.DEV if dev is None else dev
    assert study["dev_sets"] == st.dev_keys(dev=dev)
    table = study["ndcg@10"]
    labels = [label for label in table[study["dev_sets"][0]] if label not in study["singles"]]
    margins = st.score_margins(table, study["dev_sets"], study["singles"], labels)
    assert st.choose(margins, study["dev_sets"]) == study["choice"]
    assert set(study["loco"]) == set(dev)
    for kind, row in study["loco"].items():
        assert row["chosen_on"] == st.dev_keys((k for k in dev if k != kind), dev)
        assert row["reported_on"] == [*st.dev_keys([kind], dev), st.set_key(*st.TEST[kind])]


def test_the_package_default_is_the_choice_made_on_dev(defaults):
    study = defaults["variants"]["fp32"]
    assert st.config_label(rb.default_configs()["hybrid"]) == study["choice"]
    assert defaults["candidates"] == len(st.candidate_configs())
    _assert_chosen_on_dev_by_the_rule(study)


def test_per_query_scores_match_the_tables_and_the_qrels(defaults):
    for variant, study in defaults["variants"].items():
        for key, per_query in study["per_query"].items():
            folder, split = key.split("/")
            _, _, qrels = load_beir(data_dir() / "eval" / folder)
            assert study["query_ids"][key] == sorted(qrels[split]), (variant, key)
            assert len(defaults["route_kinds"][key]) == len(study["query_ids"][key])
            label = st.config_label(rb.default_configs()["hybrid"])
            assert np.mean(per_query["hybrid"]) == pytest.approx(study["ndcg@10"][key][label], abs=1e-4)


def test_bench_record_agrees_with_the_defaults_record(bench, defaults):
    for variant, table in bench["ndcg@10"].items():
        for key, row in table.items():
            labels = {m: st.config_label(c) for m, c in rb.default_configs().items()}
            for method, value in row.items():
                assert value == pytest.approx(
                    defaults["variants"][variant]["ndcg@10"][key][labels[method]], abs=1e-4
                )
    for result in bench["cold_warm"].values():
        assert result["documents"] == rb.COLD_DOCUMENTS
        assert result["cold"]["embedded"] < result["cold"]["chunks"]  # FirstP embeds first chunks only
        assert result["warm"]["cpu_s"] < result["cold"]["cpu_s"]
    assert bench["speed"]["fp32"]["cosine_to_fp32_mean"] == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["celery-faq", "lxml-faq"])
def test_dev_faq_rows_of_the_defaults_record_reproduce(defaults, folder):
    """Search a dev FAQ collection again (float32; about 80 CPU-s for Celery's, 40 for lxml's, when its
    vectors are not cached)."""
    from ragft.retrieval.quantize import embedder_variant

    runs = st.collect(data_dir() / "eval" / folder, "dev", embedder_variant("fp32"))
    table = defaults["variants"]["fp32"]["ndcg@10"][f"{folder}/dev"]
    configs = [*st.singles(), *st.candidate_configs()]
    got = {st.config_label(c): st.ndcg(runs, c) for c in configs}
    assert got.keys() == table.keys()
    assert max(abs(got[label] - table[label]) for label in table) < 0.005


@pytest.mark.slow
def test_speed_rows_of_the_bench_record_reproduce(bench):
    """Embed the bench's seeded sample again (about 60 CPU-s): the same cosines to float32, and the speed-ups
    the record reports, loosely (CPU seconds vary between machines and runs)."""
    from ragft.retrieval.quantize import cpu_has_bf16
    from ragft.runtime.models import load_embedder

    corpus, _, _ = load_beir(data_dir() / "eval" / "faq")
    texts = rb.sample_texts(corpus, rb.SPEED_SAMPLE)
    assert len(texts) == bench["speed"]["fp32"]["chunks"]
    variants = rb.speed_variants(load_embedder())
    faster = ["int8 per-channel", "fp32, 128 tokens"] + (["bf16"] if cpu_has_bf16() else [])
    got = rb.embedding_speed(texts, {name: variants[name] for name in ["fp32", *faster]})
    for name, row in got.items():
        recorded = bench["speed"][name]
        assert row["cosine_to_fp32_mean"] == pytest.approx(recorded["cosine_to_fp32_mean"], abs=0.002), name
        assert row["cosine_to_fp32_min"] == pytest.approx(recorded["cosine_to_fp32_min"], abs=0.01), name
    for name in faster:
        assert recorded_speedup(bench, name) > 1.5
        assert got[name]["chunks_per_cpu_s"] > 1.3 * got["fp32"]["chunks_per_cpu_s"], name


def recorded_speedup(bench, name: str) -> float:
    return bench["speed"][name]["chunks_per_cpu_s"] / bench["speed"]["fp32"]["chunks_per_cpu_s"]


@pytest.fixture(scope="module")
def embedders_record():
    from ragft.retrieval import embedder_comparison as ec

    return load_record(record_path(ec.RECORD), ec.COMMAND)


def test_minilm_rows_of_the_embedder_comparison_match_the_bench_record(embedders_record, bench):
    """Embedding first chunks only gives eval-retrieval's numbers: the same as the bench's, set by set."""
    from ragft.retrieval import embedder_comparison as ec

    variant = embedders_record["variant"]
    assert embedders_record["hybrid"] == rb.default_configs()["hybrid"]
    assert set(embedders_record["sets"]) == set(ec.MODELS)  # a record's keys are sorted
    for model, sets in embedders_record["sets"].items():
        assert set(sets) == {st.set_key(*s) for s in ec.SETS}
        for key, row in sets.items():
            for method, scores in row["per_query"].items():
                assert len(scores) == row["queries"] == len(row["query_ids"])
                mean = np.mean(scores)
                assert mean == pytest.approx(row["ndcg@10"][method], abs=1e-4), (model, key, method)
            if model == "all-MiniLM-L6-v2":
                assert row["ndcg@10"] == pytest.approx(bench["ndcg@10"][variant][key], abs=1e-4), key
    for row in embedders_record["speed"].values():
        expected = ec.PROJECTED_DOCUMENTS / row["chunks_per_cpu_s"]
        assert row["projected_cpu_s"] == pytest.approx(expected, rel=0.01)


@pytest.mark.slow
def test_scrapy_faq_rows_of_the_embedder_comparison_reproduce(embedders_record):
    """Search Scrapy's FAQ again with both embedders (about 180 CPU-s: mpnet embeds 841 first chunks)."""
    from ragft.retrieval import embedder_comparison as ec
    from ragft.retrieval.doc_search import DEFAULT_VARIANT
    from ragft.retrieval.quantize import resolve_variant
    from ragft.runtime.mpnet import mpnet_status

    ok, why = mpnet_status(budget=None)
    if not ok:
        pytest.fail(f"the test command installs all-mpnet-base-v2; here: {why}")
    variant = resolve_variant(DEFAULT_VARIANT)
    models = ec.load_models(variant)
    got = ec.compare_sets({name: v[variant] for name, v in models.items()}, [("scrapy-faq", "dev")], False)
    # bfloat16 kernels differ between CPUs a little; another variant (no bf16 here) moves scores more
    tolerance = 0.005 if variant == embedders_record["variant"] else 0.03
    for model in ec.MODELS:
        recorded = embedders_record["sets"][model]["scrapy-faq/dev"]["ndcg@10"]
        assert got[model]["scrapy-faq/dev"]["ndcg@10"] == pytest.approx(recorded, abs=tolerance), model


def test_the_recorded_ceiling_bounds_the_default(defaults):
    """The record's ceiling is what st.ceiling computes from the record's own table, and it names the default
    among the tied candidates exactly when the default reaches it."""
    reported = [*(st.set_key(*t) for t in st.TEST.values()), *(st.set_key(*h) for h in st.HELD_OUT)]
    label = st.config_label(rb.default_configs()["hybrid"])
    for variant, study in defaults["variants"].items():
        table = study["ndcg@10"]
        floors = {st.set_key(*st.TEST["faq"]): st.FLOORS["faq"]}
        assert study["ceiling"] == st.ceiling(table, reported, study["singles"], floors=floors), variant
        default_worst = min(st.score_margins(table, reported, study["singles"], [label])[label].values())
        bound = study["ceiling"]["joint"]
        tied = default_worst == pytest.approx(bound["worst margin"], abs=5e-5)
        assert (label in bound["tied"]) == tied, variant  # the default is named whenever it reaches the bound


@pytest.fixture(scope="module")
def domain_record():
    from ragft.retrieval import domain_tuning as dt

    return load_record(record_path(dt.RECORD), dt.COMMAND)


def test_domain_tuning_record_is_consistent_with_its_settings_and_the_bench_record(domain_record, bench):
    """The untuned rows are the bench record's rows in the same variant; every difference recomputes."""
    from ragft.retrieval import domain_tuning as dt

    settings = domain_record["settings"]
    assert settings == {
        "max_pairs": dt.MAX_PAIRS,
        "epochs": dt.EPOCHS,
        "learning_rate": dt.LEARNING_RATE,
        "batch": dt.BATCH,
        "scale": dt.SCALE,
        "warmup": dt.WARMUP,
        "query_tokens": dt.QUERY_TOKENS,
        "passage_tokens": dt.PASSAGE_TOKENS,
        "chunk": dt.CHUNK,
        "seed": dt.SEED,
    }
    caps = domain_record["max_pairs_on_dev"]  # the cap was chosen on the dev FAQs by choose_cap's rule
    assert (
        caps["chosen"] == dt.MAX_PAIRS == dt.choose_cap({c: row["dense"] for c, row in caps["caps"].items()})
    )
    assert list(caps["caps"]) == ["all" if c is None else str(c) for c in dt.CAPS]
    for cap, row in caps["caps"].items():
        assert set(row["dense"]) == {st.set_key(*s) for s in dt.FAQ_SETS if s[1] == "dev"}
        for key, pairs in row["pairs"].items():
            everything = caps["caps"]["all"]["pairs"][key]
            assert pairs == (everything if cap == "all" else min(int(cap), everything))
            if cap == str(dt.MAX_PAIRS):  # the same model as the row of that set above
                assert row["dense"][key] == domain_record["sets"][key]["tuned"]["ndcg@10"]["dense"]
    assert domain_record["hybrid"] == rb.default_configs()["hybrid"]
    assert set(domain_record["sets"]) == {st.set_key(*s) for s in dt.SETS}

    def steps(pairs: int) -> int:  # EPOCHS passes of full batches; a lone pair left over is no batch
        return dt.EPOCHS * (pairs // dt.BATCH + (pairs % dt.BATCH > 1))

    for key, row in domain_record["sets"].items():
        # The bench embeds every chunk, this record first chunks only (as eval-retrieval does): in bfloat16,
        # batches of other lengths round a little differently (facts: 0.0004 on the hybrid).
        assert row["base"]["ndcg@10"] == pytest.approx(
            bench["ndcg@10"][domain_record["variant"]][key], abs=2e-3
        )
        assert row["training"]["pairs"] == row["pairs"] <= dt.MAX_PAIRS
        assert row["training"]["steps"] == len(row["training"]["losses"]) == steps(row["pairs"])
        assert row["trained_here"] and row["training"]["threads"] == domain_record["threads"]
        assert row["tuned_minus_base"] == dt.differences(row), key
        for side in ("base", "tuned"):
            for method, scores in row[side]["per_query"].items():
                assert np.mean(scores) == pytest.approx(row[side]["ndcg@10"][method], abs=1e-4)
        assert row["base"]["ndcg@10"]["bm25"] == row["tuned"]["ndcg@10"]["bm25"]  # BM25 is not tuned
    assert domain_record["peak_mb"] <= dt.MEMORY_MB  # the memory check asks for at least the measured peak
    first_run = domain_record["cold_start"]  # notebook 04 adds its tuning to the bench's cold first run
    assert first_run["documents"] == bench["cold_warm"][bench["default_variant"]]["documents"]
    assert dt.MIN_PAIRS <= first_run["pairs"] <= dt.MAX_PAIRS  # the default would tune this collection
    assert first_run["steps"] == steps(first_run["pairs"])


def _tune_from_scratch(threads: int, tmp_path, monkeypatch, request) -> None:
    """Train in an empty cache (so nothing cached is read back) on the record's threads (the same sums in the
    same order); torch's threads are restored after the test."""
    import torch

    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    request.addfinalizer(lambda: torch.set_num_threads(before))


@pytest.mark.slow
def test_scrapy_faq_rows_of_the_domain_tuning_records_reproduce(
    domain_record, tuned_defaults, tmp_path, monkeypatch, request
):
    """Tune MiniLM on Scrapy's headings again, from scratch in an empty cache (about 4 CPU-minutes), and
    search its FAQ: the domain record's tuned rows and the tuned-defaults record's row of every candidate."""
    from ragft.retrieval import domain_tuning as dt
    from ragft.retrieval.quantize import embedder_variant

    _tune_from_scratch(domain_record["threads"], tmp_path, monkeypatch, request)
    recorded = domain_record["sets"]["scrapy-faq/dev"]
    pairs, held_out = dt.collection_pairs(data_dir() / "eval" / "scrapy-faq")
    assert (len(pairs), held_out) == (recorded["pairs"], recorded["held_out_documents"])
    assert [list(p) for p in pairs[:3]] == recorded["example_pairs"]
    tuned, log = dt.tuned_embedder(pairs, show_progress=False)
    # one thread, one seed: the same steps; float sums may differ in the last digits across CPUs
    assert log["losses"] == pytest.approx(recorded["training"]["losses"], abs=0.02)
    variant = domain_record["variant"]
    got = dt.compare_set(
        "scrapy-faq", "dev", {"tuned": embedder_variant(variant, tuned)}, show_progress=False
    )
    assert got["tuned"]["ndcg@10"] == pytest.approx(recorded["tuned"]["ndcg@10"], abs=0.01)
    _assert_tuned_rows_reproduce(tuned_defaults, "scrapy-faq", "dev", embedder_variant(variant, tuned))


def _assert_tuned_rows_reproduce(tuned_defaults, folder: str, split: str, embedder) -> st.CollectionRuns:
    """Every candidate's and single method's nDCG@10 on one set, searched again with `embedder`, is the
    tuned-defaults record's (to 0.01: float sums differ a little across CPUs). Returns the set's runs."""
    from ragft.retrieval import tuned_defaults as td

    runs = st.collect(data_dir() / "eval" / folder, split, embedder, scorings=td.DENSE_SCORINGS)
    table = tuned_defaults["ndcg@10"][st.set_key(folder, split)]
    again = {st.config_label(c): st.ndcg(runs, c) for c in [*td.single_configs(), *td.candidates()]}
    assert again.keys() == table.keys()
    assert max(abs(again[label] - table[label]) for label in table) < 0.01
    return runs


@pytest.mark.slow
def test_lxml_faq_rows_of_the_tuned_defaults_and_pointers_records_reproduce(
    tuned_defaults, tmp_path, monkeypatch, request
):
    """The dev FAQ added for questions that name API methods: tune on its 213 headings again, from scratch in
    an empty cache (about a CPU-minute), and search it."""
    from ragft.retrieval import domain_tuning as dt
    from ragft.retrieval.quantize import embedder_variant

    _tune_from_scratch(tuned_defaults["threads"], tmp_path, monkeypatch, request)
    recorded = tuned_defaults["training"]["lxml-faq"]
    pairs, held_out = dt.collection_pairs(data_dir() / "eval" / "lxml-faq")
    assert (len(pairs), held_out) == (recorded["pairs"], recorded["held_out_documents"])
    tuned, log = dt.tuned_embedder(pairs, show_progress=False)
    assert log["steps"] == recorded["steps"]
    runs = _assert_tuned_rows_reproduce(
        tuned_defaults, "lxml-faq", "dev", embedder_variant(tuned_defaults["variant"], tuned)
    )
    # and its row of the pointers record, judged both ways, from the same runs
    from ragft.retrieval import pointer_answers as pa

    recorded = load_record(record_path(pa.RECORD), pa.COMMAND)["sets"]["lxml-faq/dev"]
    row = pa.set_report(runs, data_dir() / "eval" / "lxml-faq")
    assert row["pointers"] == recorded["pointers"] and row["query_ids"] == recorded["query_ids"]
    for judged in pa.JUDGMENTS:
        for name, scores in recorded["per_query"][judged].items():
            assert abs(np.mean(row["per_query"][judged][name]) - np.mean(scores)) < 0.01
    # the links were followed: only the pointer question's scores change, and the tuned fusion's rises
    same, followed = (row["per_query"][j][pa.FUSIONS[0]] for j in pa.JUDGMENTS)
    changed = {q for q, a, b in zip(row["query_ids"], same, followed, strict=True) if a != b}
    assert changed == {p["id"] for p in row["pointers"]}
    assert all(b > a for a, b in zip(same, followed, strict=True) if a != b)


@pytest.fixture(scope="module")
def tuned_defaults():
    from ragft.retrieval import tuned_defaults as td

    return load_record(record_path(td.RECORD), td.COMMAND)


def test_the_tuned_fusion_is_the_choice_made_on_tuned_dev_runs(tuned_defaults):
    from ragft.retrieval import tuned_defaults as td

    record = tuned_defaults
    _assert_chosen_on_dev_by_the_rule(record, td.DEV)
    first = {**record["first study"], "ndcg@10": record["ndcg@10"], "singles": record["singles"]}
    _assert_chosen_on_dev_by_the_rule(first)
    assert st.config_label(td.FIRST_CHOICE) == first["choice"] != record["choice"]
    for study, held_out in ((record["first study"], st.HELD_OUT), (record, td.HELD_OUT)):
        reported = {st.set_key(*s) for s in [*st.TEST.values(), *held_out]}
        assert study["ceiling"]["joint"]["margin"].keys() == reported
    assert set(record["ndcg@10"]) == {st.set_key(*s) for s in td.study_sets()}
    assert record["candidates"] == len(td.candidates())
    assert record["singles"] == [st.config_label(c) for c in td.single_configs()]
    tuned_hybrid = rb.default_configs(tuned=True)["hybrid"]
    assert st.config_label(tuned_hybrid) == record["choice"] == st.config_label(record["choice_config"])
    assert {k: tuned_hybrid[k] for k in record["choice_config"]} == record["choice_config"]
    assert record["shown"] == {name: st.config_label(c) for name, c in td.configs_shown().items()}
    for key, per_query in record["per_query"].items():
        folder, split = key.split("/")
        _, _, qrels = load_beir(data_dir() / "eval" / folder)
        assert record["query_ids"][key] == sorted(qrels[split])
        for kinds in (record["route_kinds"][key], record["first study"]["route_kinds"][key]):
            assert len(kinds) == len(qrels[split])
        for name, scores in per_query.items():
            expected = record["ndcg@10"][key][record["shown"][name]]
            assert np.mean(scores) == pytest.approx(expected, abs=1e-4), (key, name)


def test_the_tuned_defaults_record_searched_with_the_domain_records_models(tuned_defaults, domain_record):
    """Same pairs per collection, and on the sets both hold, the same tuned dense and hybrid scores."""
    for key, row in domain_record["sets"].items():
        folder = key.split("/")[0]
        assert tuned_defaults["training"][folder]["pairs"] == row["pairs"]
        assert tuned_defaults["training"][folder]["steps"] == row["training"]["steps"]
        shown = tuned_defaults["shown"]
        for method, name in (("dense", "dense"), ("hybrid", "hybrid, untuned fusion"), ("bm25", "bm25")):
            got = tuned_defaults["ndcg@10"][key][shown[name]]
            assert got == pytest.approx(row["tuned"]["ndcg@10"][method], abs=2e-3), (key, method)
