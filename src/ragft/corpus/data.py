"""Load the committed corpus and evaluation sets, checking each file against data/manifest.json first.

A file whose sha256 differs from the manifest is refused before it is parsed (DataIntegrityError):
notebooks then never report numbers computed on a corrupted or hand-edited copy.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import NamedTuple

from ragft.corpus.build import MANIFEST_NAME, VERSIONS, corpus_relpath, sha256_file
from ragft.corpus.evalsets import EVALSET_SPLITS, Qrels
from ragft.runtime import paths

_FIX = "restore it with `git checkout -- data/` or rebuild it with `python -m ragft data build`"


class DataIntegrityError(ValueError):
    """A data file is missing from the manifest or its sha256 differs from the manifest's."""


class EvalSet(NamedTuple):
    """One split of an evaluation set: the shared corpus, that split's queries and their qrels."""

    name: str
    split: str
    corpus: dict[str, dict]
    queries: dict[str, dict]
    qrels: dict[str, dict[str, int]]


def _root(data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else paths.data_dir()


def load_manifest(data_dir: Path | None = None) -> dict:
    """The parsed data/manifest.json (which lists every data file with its sha256)."""
    path = _root(data_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {_FIX}.")
    return json.loads(path.read_text(encoding="utf-8"))


def verified_path(relative: str, data_dir: Path | None = None) -> Path:
    """Path of a data file after checking its sha256 against the manifest (DataIntegrityError if not)."""
    root = _root(data_dir)
    entry = load_manifest(root)["files"].get(relative)
    path = root / relative
    if entry is None:
        raise DataIntegrityError(f"{relative} is not listed in {root / MANIFEST_NAME}; {_FIX}.")
    if not path.is_file():
        raise DataIntegrityError(f"{path} is missing (expected sha256 {entry['sha256']}); {_FIX}.")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise DataIntegrityError(
            f"{path} is corrupted or was edited: expected sha256 {entry['sha256']}, got {actual}; {_FIX}."
        )
    return path


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="\n") as handle:  # split on "\n" only
        return [json.loads(line) for line in handle if line.strip()]


def load_corpus(version: str = "5.2") -> list[dict]:
    """All sections of one version of Django's manual, verified, in (path, order) order."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {sorted(VERSIONS)}, got {version!r}")
    return _read_jsonl(verified_path(corpus_relpath(version)))


def verify_data(data_dir: Path | None = None) -> dict:
    """Check every file the manifest lists: {"ok": bool, "files": [{"path", "ok", "expected", "actual"}]}."""
    root = _root(data_dir)
    files = []
    for relative, entry in sorted(load_manifest(root)["files"].items()):
        path = root / relative
        actual = sha256_file(path) if path.is_file() else None
        expected = entry["sha256"]
        files.append({"path": relative, "ok": actual == expected, "expected": expected, "actual": actual})
    return {"ok": all(f["ok"] for f in files), "files": files}


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header != ["query-id", "corpus-id", "score"]:
            raise ValueError(f"{path}: the first line must be the header query-id<TAB>corpus-id<TAB>score")
        for row in rows:
            if row:
                qid, doc, score = row
                qrels.setdefault(qid, {})[doc] = int(score)
    return qrels


def load_beir(directory: Path | str) -> tuple[dict[str, dict], dict[str, dict], Qrels]:
    """Read a BEIR folder: corpus.jsonl(.gz), queries.jsonl and qrels/<split>.tsv.

    Returns (corpus, queries, qrels): corpus {id: {"title", "text", ...}} and queries {id: {"text", ...}}
    keep every field of each record except `_id` (so query metadata such as gold answers survives; BEIR's
    own loader keeps only the text: use `{q: r["text"] for q, r in queries.items()}`), and qrels
    {split: {query id: {doc id: score}}} for every qrels file present.
    """
    directory = Path(directory)
    found = [directory / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (directory / n).is_file()]
    if not found:
        raise FileNotFoundError(f"{directory} has no corpus.jsonl or corpus.jsonl.gz (not a BEIR folder?)")
    corpus = {r.pop("_id"): r for r in _read_jsonl(found[0])}
    queries = {r.pop("_id"): r for r in _read_jsonl(directory / "queries.jsonl")}
    qrels = {p.stem: _read_qrels(p) for p in sorted((directory / "qrels").glob("*.tsv"))}
    return corpus, queries, qrels


def load_evalset(name: str, split: str = "test") -> EvalSet:
    """One split of a committed evaluation set (faq, facts, identifiers), each file verified first."""
    if name not in EVALSET_SPLITS:
        raise ValueError(f"name must be one of {sorted(EVALSET_SPLITS)}, got {name!r}")
    if split not in EVALSET_SPLITS[name]:
        raise ValueError(f"split of {name!r} must be one of {list(EVALSET_SPLITS[name])}, got {split!r}")
    prefix = f"eval/{name}/"
    for relative in sorted(load_manifest()["files"]):
        if relative.startswith(prefix):
            verified_path(relative)
    corpus, queries, qrels = load_beir(paths.data_dir() / "eval" / name)
    chosen = qrels[split]
    return EvalSet(name, split, corpus, {q: r for q, r in queries.items() if q in chosen}, chosen)
