"""Corpus building: sdist reading, deterministic output, pinned hashes, and a full reproducibility check."""

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from ragft.corpus import build as corpus
from ragft.corpus.build import (
    SDIST_SHA256,
    VERSIONS,
    build_all,
    build_corpus,
    fetch_sdists,
    read_docs,
    sdist_name,
    write_gzip,
)
from ragft.runtime.paths import cache_dir, data_dir

PAGE = "=====\nIndex\n=====\n\nWelcome.\n\nPart\n====\n\nText ``x``.\n"


def _make_sdist(tmp_path: Path) -> Path:
    members = {
        "django-9.9/LICENSE": b"BSD license text\n",
        "django-9.9/docs/index.txt": PAGE.encode(),
        "django-9.9/docs/ref/b.txt": "B page\n======\n\nÜber.\n".encode(),
        "django-9.9/docs/ref/a.txt": b"A page\n======\n\nA.\n",
        "django-9.9/docs/requirements.txt": b"sphinx\n",
        "django-9.9/docs/_theme/djangodocs/LICENSE.txt": b"theme license\n",
        "django-9.9/docs/_ext/djangodocs.py": b"# extension\n",
        "django-9.9/docs/README.rst": b"readme\n",
    }
    path = tmp_path / "django-9.9.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_read_docs_keeps_only_manual_pages(tmp_path):
    pages, license_bytes = read_docs(_make_sdist(tmp_path))
    assert sorted(pages) == ["index.txt", "ref/a.txt", "ref/b.txt"]
    assert license_bytes == b"BSD license text\n"


def test_build_corpus_is_sorted_and_byte_identical(tmp_path):
    sdist = _make_sdist(tmp_path)
    sections = build_corpus("5.2", sdist, tmp_path / "one")
    build_corpus("5.2", sdist, tmp_path / "two")
    one = (tmp_path / "one" / "django-5.2" / "sections.jsonl.gz").read_bytes()
    assert one == (tmp_path / "two" / "django-5.2" / "sections.jsonl.gz").read_bytes()
    assert [(s["path"], s["order"]) for s in sections] == [
        ("index.txt", 0),
        ("index.txt", 1),
        ("ref/a.txt", 0),
        ("ref/b.txt", 0),
    ]
    lines = gzip.decompress(one).decode("utf-8").splitlines()
    assert lines[-1] == json.dumps(sections[-1], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "Über" in lines[-1]
    assert (tmp_path / "one" / "LICENSE.django").read_bytes() == b"BSD license text\n"


def test_gzip_header_has_no_name_and_no_time(tmp_path):
    write_gzip(tmp_path / "x.gz", b"payload")
    header = (tmp_path / "x.gz").read_bytes()[:10]
    assert header[3] & 0x08 == 0  # FNAME flag off
    assert header[4:8] == b"\0\0\0\0"  # MTIME 0
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == b"payload"


def test_bad_version_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"version must be one of \['4.2', '5.2'\]"):
        build_corpus("3.0", _make_sdist(tmp_path), tmp_path)


def test_every_version_has_a_pinned_hash():
    assert set(SDIST_SHA256) == set(VERSIONS.values())


def test_fetch_refuses_a_file_with_the_wrong_hash(tmp_path):
    (tmp_path / "sdists").mkdir()
    for release in VERSIONS.values():
        (tmp_path / "sdists" / sdist_name(release)).write_bytes(b"not django")
    with pytest.raises(ValueError, match="expected 4ebc7a43.*python -m ragft data fetch"):
        fetch_sdists(tmp_path)


def test_fetch_downloads_one_version_per_pip_call(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "no network")

    monkeypatch.setattr(corpus.subprocess, "run", fake_run)
    with pytest.raises(FileNotFoundError, match="could not download django==4.2.30"):
        fetch_sdists(tmp_path)
    (cmd,) = calls
    assert [arg for arg in cmd if arg.startswith("django==")] == ["django==4.2.30"]
    assert cmd[cmd.index("-d") + 1] == str(tmp_path / "sdists")


@pytest.mark.slow
def test_rebuild_from_cached_sdists_matches_committed_data(tmp_path):
    missing = [
        sdist_name(r) for r in VERSIONS.values() if not (cache_dir() / "sdists" / sdist_name(r)).is_file()
    ]
    if missing:
        pytest.fail(
            f"the Django sdists {missing} are not in {cache_dir() / 'sdists'}; "
            "run `python -m ragft data fetch` (needs the package registry) and run the tests again"
        )
    manifest = build_all(tmp_path)
    committed = json.loads((data_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == committed
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted([*committed["files"], "manifest.json"])
    for relative in built:
        assert (tmp_path / relative).read_bytes() == (data_dir() / relative).read_bytes(), relative


def test_pip_download_sdist_tries_each_build_setting_in_order(tmp_path, monkeypatch):
    calls = []
    path = tmp_path / "scrapy-2.19.0.tar.gz"

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        if "--no-build-isolation" in cmd:
            return subprocess.CompletedProcess(cmd, 1, "", "no module named hatchling")
        path.write_bytes(b"sdist")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(corpus.subprocess, "run", fake_run)
    assert corpus.pip_download_sdist("scrapy", "2.19.0", path, build_isolation=(False, True)) == path
    assert ["--no-build-isolation" in cmd for cmd in calls] == [True, False]
    with pytest.raises(ValueError, match="at least one try"):
        corpus.pip_download_sdist("scrapy", "2.19.0", path, build_isolation=())
