"""ragft.retrieval.tuned_defaults: the fusion chosen again over lists from MiniLM tuned on each collection."""

import json

from fake_embedder import FakeEmbedder
from test_defaults_study import _beir

from ragft.retrieval import defaults_study as st
from ragft.retrieval import domain_tuning as dt
from ragft.retrieval import tuned_defaults as td


def test_the_sets_are_the_studys_dev_test_and_held_out_sets_without_the_minis():
    sets = td.study_sets()
    assert set(sets) == {*(s for group in td.DEV.values() for s in group), *st.TEST.values(), *td.HELD_OUT}
    assert not set(sets) & set(st.MINI.values())
    # the first study's sets are all there: SQLAlchemy's FAQ moved from held out to dev, nothing else
    first = {*(s for group in st.DEV.values() for s in group), *st.HELD_OUT}
    assert first <= set(sets)
    dev = {s for group in td.DEV.values() for s in group}
    assert dev - first == set() and set(td.HELD_OUT) & dev == set()
    assert set(st.HELD_OUT) - set(td.HELD_OUT) == {("sqlalchemy-faq", "test")} <= dev
    assert td.DEV.keys() == st.DEV.keys() and all(set(st.DEV[k]) <= set(td.DEV[k]) for k in st.DEV)
    assert len(td.candidates()) == len(st.candidate_configs()) // len(st.DOC_SCORINGS)
    assert {c["dense"] for c in td.candidates()} == {"firstp"}
    assert [c["method"] for c in td.single_configs()] == ["dense", "bm25", "bm25"]
    # the record keeps per-query scores of every single method, so each margin gets its interval
    assert all(c in td.configs_shown().values() for c in td.single_configs())


def test_each_collection_is_searched_with_the_model_tuned_on_its_own_headings(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAGFT_DATA_DIR", str(tmp_path / "data"))
    for name in ("alpha", "beta"):
        folder = _beir(tmp_path / "data" / "eval" / name)
        extra = [
            {"_id": f"x{i}", "title": f"{name} {i}", "text": f"unjudged {name} text {i}"} for i in range(3)
        ]
        with (folder / "corpus.jsonl").open("a") as handle:
            handle.writelines(json.dumps(doc) + "\n" for doc in extra)
    tuned_on = []

    def fake_tuned(pairs, show_progress=True):
        tuned_on.append([heading for heading, _ in pairs])
        return FakeEmbedder(tmp_path / f"tuned{len(tuned_on)}"), {"steps": 2, "cpu_s": 1.0}

    monkeypatch.setattr(dt, "tuned_embedder", fake_tuned)
    runs, training = td.tuned_runs([("alpha", "test"), ("beta", "test")], "fp32", show_progress=False)
    assert tuned_on == [[f"{name} {i}" for i in range(3)] for name in ("alpha", "beta")]
    assert training["alpha"] == {"pairs": 3, "held_out_documents": 10, "steps": 2, "cpu_s": 1.0}
    assert list(runs) == ["alpha/test", "beta/test"]
    assert set(runs["alpha/test"].dense) == {"firstp"} and set(runs["alpha/test"].bm25) == {
        "maxp",
        "document",
    }
    # every single method and candidate the study needs can be scored from these runs
    for config in [*td.single_configs(), *td.candidates()[:3]]:
        assert 0 <= st.ndcg(runs["beta/test"], config) <= 1
