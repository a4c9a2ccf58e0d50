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


def test_the_package_default_is_the_choice_made_on_dev(defaults):
    study = defaults["variants"]["fp32"]
    assert study["dev_sets"] == st.dev_keys()
    assert st.config_label(rb.default_configs()["hybrid"]) == study["choice"]
    assert defaults["candidates"] == len(st.candidate_configs())
    # the choice follows the rule from the table it was made on
    table = study["ndcg@10"]
    best = {k: max(table[k][s] for s in study["singles"]) for k in study["dev_sets"]}
    labels = [label for label in table[study["dev_sets"][0]] if label not in study["singles"]]
    margins = {label: {k: table[k][label] - best[k] for k in study["dev_sets"]} for label in labels}
    assert st.choose(margins, study["dev_sets"]) == study["choice"]


def test_per_query_scores_match_the_tables_and_the_qrels(defaults):
    for variant, study in defaults["variants"].items():
        for key, per_query in study["per_query"].items():
            folder, split = key.split("/")
            _, _, qrels = load_beir(data_dir() / "eval" / folder)
            assert study["query_ids"][key] == sorted(qrels[split]), (variant, key)
            assert len(defaults["route_kinds"][key]) == len(study["query_ids"][key])
            label = st.config_label(rb.default_configs()["hybrid"])
            assert np.mean(per_query["hybrid"]) == pytest.approx(study["ndcg@10"][key][label], abs=1e-4)


def test_leave_one_collection_out_never_chooses_on_the_collection_it_reports(defaults):
    for kind, row in defaults["variants"]["fp32"]["loco"].items():
        assert row["chosen_on"] == st.dev_keys(k for k in st.DEV if k != kind)
        assert row["reported_on"] == [*st.dev_keys([kind]), st.set_key(*st.TEST[kind])]


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
def test_celery_faq_rows_of_the_defaults_record_reproduce(defaults):
    """Search the dev FAQ collection again (float32; about 80 CPU-s when its vectors are not cached)."""
    from ragft.retrieval.quantize import embedder_variant

    runs = st.collect(data_dir() / "eval" / "celery-faq", "dev", embedder_variant("fp32"))
    table = defaults["variants"]["fp32"]["ndcg@10"]["celery-faq/dev"]
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
