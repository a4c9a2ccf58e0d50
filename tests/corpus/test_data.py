"""Loading the committed data: hash checks before parsing, clear errors, and the BEIR reader."""

import gzip
import json
import shutil

import pytest

from ragft.corpus.data import (
    DataIntegrityError,
    load_beir,
    load_corpus,
    load_evalset,
    load_manifest,
    verify_data,
)
from ragft.runtime.paths import data_dir

SECTION_KEYS = {"id", "version", "path", "trail", "title", "anchors", "text", "order"}


@pytest.fixture
def corrupted(tmp_path, monkeypatch):
    """A copy of the manifest and the 5.2 corpus with one byte flipped, used as RAGFT_DATA_DIR."""
    shutil.copy(data_dir() / "manifest.json", tmp_path / "manifest.json")
    shutil.copytree(data_dir() / "django-5.2", tmp_path / "django-5.2")
    target = tmp_path / "django-5.2" / "sections.jsonl.gz"
    payload = bytearray(target.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    target.write_bytes(bytes(payload))
    monkeypatch.setenv("RAGFT_DATA_DIR", str(tmp_path))
    return tmp_path


def test_load_corpus_on_committed_data():
    manifest = load_manifest()
    for version in ("4.2", "5.2"):
        sections = load_corpus(version)
        assert len(sections) == manifest["sections"][version]
        assert set(sections[0]) == SECTION_KEYS
        assert {s["version"] for s in sections} == {version}
        assert sections == sorted(sections, key=lambda s: (s["path"], s["order"]))
        assert len({s["id"] for s in sections}) == len(sections)
    auto = next(s for s in load_corpus() if s["id"] == "5.2/ref/settings#default-auto-field")
    assert auto["text"].startswith(".. setting:: DEFAULT_AUTO_FIELD\n\nDefault: ``'``:class:")


def test_corrupted_corpus_is_refused_before_parsing(corrupted):
    expected = load_manifest()["files"]["django-5.2/sections.jsonl.gz"]["sha256"]
    with pytest.raises(DataIntegrityError) as info:
        load_corpus("5.2")
    message = str(info.value)
    assert "sections.jsonl.gz" in message and expected in message
    assert "git checkout -- data/" in message and "python -m ragft data build" in message
    assert isinstance(info.value, ValueError)


def test_verify_data(corrupted):
    report = verify_data()
    assert report["ok"] is False
    bad = [f["path"] for f in report["files"] if not f["ok"]]
    assert "django-5.2/sections.jsonl.gz" in bad and "eval/faq/corpus.jsonl" in bad  # corrupted, missing
    missing = next(f for f in report["files"] if f["path"] == "eval/faq/corpus.jsonl")
    assert missing["actual"] is None


def test_committed_data_verifies():
    report = verify_data()
    assert report["ok"], [f for f in report["files"] if not f["ok"]]


def test_bad_version():
    with pytest.raises(ValueError, match=r"version must be one of \['4.2', '5.2'\], got '5.0'"):
        load_corpus("5.0")


def test_load_beir(tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "T", "text": "one"},
        {"_id": "d2", "title": "", "text": "two", "metadata": {"x": 1}},
    ]
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in corpus)
    queries = [
        {"_id": "q1", "text": "first?"},
        {"_id": "q2", "text": "sec\u2028ond?", "metadata": {"answer": "2"}},
    ]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td2\t1\n")
    docs, qs, qrels = load_beir(folder)
    assert docs == {
        "d1": {"title": "T", "text": "one"},
        "d2": {"title": "", "text": "two", "metadata": {"x": 1}},
    }
    assert qs == {"q1": {"text": "first?"}, "q2": {"text": "sec\u2028ond?", "metadata": {"answer": "2"}}}
    assert qrels == {"test": {"q1": {"d1": 1, "d2": 2}}, "dev": {"q2": {"d2": 1}}}


def test_load_beir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        load_beir(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("")
    (tmp_path / "queries.jsonl").write_text("")
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(ValueError, match="header"):
        load_beir(tmp_path)


def test_load_evalset_returns_one_split():
    dev = load_evalset("facts", "dev")
    assert dev.name == "facts" and dev.split == "dev"
    assert set(dev.queries) == set(dev.qrels) and dev.queries
    assert {q["metadata"]["split"] for q in dev.queries.values()} == {"dev"}
    assert len(dev.corpus) == load_manifest()["sections"]["5.2"]
    faq = load_evalset("faq")
    assert all(q["metadata"]["kind"] == "faq" for q in faq.queries.values())


def test_load_evalset_bad_arguments():
    with pytest.raises(ValueError, match=r"name must be one of \['facts', 'facts-mini', 'faq', 'faq-mini', "):
        load_evalset("trivia")
    with pytest.raises(ValueError, match=r"split of 'faq' must be one of \['test'\], got 'dev'"):
        load_evalset("faq", "dev")


def test_data_readme_counts_match_the_manifest(repo_root):
    """The counts written in data/README.md are the manifest's (no hand-typed figure can drift)."""
    import json

    readme = (repo_root / "data" / "README.md").read_text()
    files = json.loads((repo_root / "data" / "manifest.json").read_text())["files"]
    for version in ("4.2", "5.2"):
        assert f"{files[f'django-{version}/sections.jsonl.gz']['sections']:,} sections" in readme
    dev, test = files["eval/facts/qrels/dev.tsv"]["queries"], files["eval/facts/qrels/test.tsv"]["queries"]
    assert f"{dev} dev, {test} test" in readme
    assert f"{files['eval/faq/qrels/test.tsv']['queries']} FAQ questions" in readme
    assert f"{files['eval/identifiers/qrels/test.tsv']['queries']} exact-identifier queries" in readme
    assert f"corpus of {files['eval/facts-mini/corpus.jsonl']['documents']} sections" in readme
