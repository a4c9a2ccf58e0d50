"""ragft.retrieval.extra_collections: the dev and held-out collections, and the committed copies."""

import io
import json
import tarfile

import pytest

from ragft.corpus.data import load_beir
from ragft.retrieval import extra_collections as ec
from ragft.runtime.paths import data_dir

EVAL = data_dir() / "eval"


def _section(path, title, text, order=0, trail=None):
    return {
        "id": f"1.0/{path}#{title.lower()[:5]}",
        "path": path,
        "title": title,
        "text": text,
        "trail": trail or ["Page", title],
        "order": order,
    }


def test_faq_collection_asks_question_headings_and_hides_them_from_their_titles():
    sections = [
        _section("faq/general", "How do I pool connections?", "Use a pool.", 0),
        _section("faq/general", "Why?", "", 1),  # empty answer: not asked
        _section("guide/pools", "Is this a question?", "Not in a FAQ page.", 0),
    ]
    records, evalset = ec.faq_collection(sections, ("faq/",), "dev")
    assert [q["text"] for q in evalset.queries] == ["How do I pool connections?"]
    assert evalset.qrels == {"dev": {"faq/faq/general#how d": {"1.0/faq/general#how d": 1}}}
    assert records[0]["title"] == "Page" and records[2]["title"] == "Page > Is this a question?"
    assert [r["_id"] for r in records] == [s["id"] for s in sections]


def _write_sdist(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_sdist_sections_reads_rst_pages_and_skips_release_notes(tmp_path):
    path = tmp_path / "pkg-1.0.tar.gz"
    files = {
        "pkg-1.0/LICENSE": b"MIT",
        "pkg-1.0/docs/faq.rst": b"FAQ\n===\n\nCan I?\n------\n\nYes.\n",
        "pkg-1.0/docs/history/1.0.rst": b"History\n=======\n\nChanges.\n",
        "pkg-1.0/docs/_templates/x.rst": b"T\n=\n\nt\n",
    }
    _write_sdist(path, files)
    source = {"docs": "docs/", "skip": ("history/",), "license": "LICENSE", "release": "1.0"}
    sections, license_bytes = ec.sdist_sections(path, source)
    assert license_bytes == b"MIT"
    assert {s["path"] for s in sections} == {"faq"}
    _, evalset = ec.faq_collection(sections, ("faq.rst",), "dev")
    assert [q["text"] for q in evalset.queries] == ["Can I?"]


def test_sdist_sections_reads_pages_with_another_suffix(tmp_path):
    """lxml writes its manual as .txt reST pages: `suffix` picks them, and the FAQ page is named with it."""
    path = tmp_path / "pkg-1.0.tar.gz"
    files = {
        "pkg-1.0/LICENSE.txt": b"BSD",
        "pkg-1.0/doc/FAQ.txt": b"FAQ\n===\n\nCan I?\n------\n\nYes.\n",
        "pkg-1.0/doc/intro.txt": b"Intro\n=====\n\nWords.\n",
        "pkg-1.0/doc/html/page.rst": b"H\n=\n\nh\n",
    }
    _write_sdist(path, files)
    source = {
        "docs": "doc/",
        "suffix": ".txt",
        "skip": ("html/",),
        "license": "LICENSE.txt",
        "release": "1.0",
    }
    sections, _ = ec.sdist_sections(path, source)
    assert {s["path"] for s in sections} == {"FAQ", "intro"}
    _, evalset = ec.faq_collection(sections, ("FAQ.txt",), "dev", suffix=".txt")
    assert [q["text"] for q in evalset.queries] == ["Can I?"]
    _, unsuffixed = ec.faq_collection(sections, ("FAQ.txt",), "dev")  # a .rst suffix would miss the page
    assert unsuffixed.queries == []


def test_identifiers_dev_is_disjoint_from_the_test_set_and_judged_like_it():
    _, dev_queries, dev_qrels = load_beir(EVAL / "identifiers-dev")
    _, test_queries, test_qrels = load_beir(EVAL / "identifiers")
    assert set(dev_qrels) == {"dev"} and set(test_qrels) == {"test"}
    dev_texts = {q["text"] for q in dev_queries.values()}
    assert len(dev_texts) == len(dev_queries) == 120
    assert not dev_texts & {q["text"] for q in test_queries.values()}
    assert not set(dev_qrels["dev"]) & set(test_qrels["test"])
    kinds = [q["metadata"]["kind"] for q in dev_queries.values()]
    assert {k: kinds.count(k) for k in set(kinds)} == {"check": 40, "option": 40, "setting": 40}
    # the same corpus, so one set of cached vectors serves both
    assert (EVAL / "identifiers-dev" / "corpus.jsonl").read_bytes() == (
        EVAL / "identifiers" / "corpus.jsonl"
    ).read_bytes()


def test_committed_identifiers_dev_is_what_the_builder_writes(tmp_path):
    from ragft.corpus.data import load_corpus
    from ragft.corpus.evalsets import jsonl_bytes

    evalset = ec.identifiers_dev(EVAL / "identifiers", load_corpus("5.2"))
    assert jsonl_bytes(evalset.queries) == (EVAL / "identifiers-dev" / "queries.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("celery-faq", "dev"),
        ("scrapy-faq", "dev"),
        ("lxml-faq", "dev"),
        ("sqlalchemy-faq", "test"),
        ("cython-faq", "test"),
        ("docutils-faq", "test"),
    ],
)
def test_sdist_collections_are_committed_with_their_license(name, split):
    folder = EVAL / name
    corpus, queries, qrels = load_beir(folder)
    assert set(qrels) == {split} and len(qrels[split]) == len(queries) >= 30
    assert (folder / "LICENSE").read_bytes().strip()
    for qid, relevant in qrels[split].items():
        (doc_id,) = relevant
        assert corpus[doc_id]["text"].strip()
        assert queries[qid]["text"] not in corpus[doc_id]["title"]  # the question is not its answer's title
    first = json.loads((folder / "queries.jsonl").read_text().splitlines()[0])
    assert first["metadata"]["split"] == split


@pytest.mark.slow
def test_collections_rebuild_byte_for_byte(tmp_path):
    """`python -m ragft bench collections` from the pinned sdists (downloaded once into the cache)."""
    import shutil

    shutil.copytree(EVAL / "identifiers", tmp_path / "identifiers")
    ec.build_collections(tmp_path)
    for name in ("identifiers-dev", *ec.SDIST_COLLECTIONS):
        built = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*") if p.is_file())
        committed = sorted(
            p.relative_to(EVAL / name)
            for p in (EVAL / name).rglob("*")
            if p.is_file() and p.name != "README.md"
        )
        assert built == committed, name
        for relative in built:
            assert (tmp_path / name / relative).read_bytes() == (EVAL / name / relative).read_bytes(), (
                relative
            )
