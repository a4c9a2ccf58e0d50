"""Collections the retrieval defaults are chosen and checked on, beyond the three Django sets.

- `identifiers-dev`: 40 identifiers of each kind that the identifiers test set does not ask, drawn with
  seed 0 from the same candidates, over the same corpus (a dev split for identifiers);
- `celery-faq` and `scrapy-faq`: the real FAQs of Celery's and Scrapy's documentation over their manuals
  (FAQ-style dev questions: Django's FAQ has 46 questions, all of them test);
- `lxml-faq`: lxml's FAQ over its manual, a third FAQ dev set whose questions name API methods
  (`findall()`, `iterparse()`), as SQLAlchemy's do;
- `sqlalchemy-faq` and `cython-faq`: the FAQs of SQLAlchemy's and Cython's documentation over their manuals,
  held out: no default is chosen on them, they only report (the fusion for tuned models has since been
  chosen with SQLAlchemy's among its dev sets: ragft.retrieval.tuned_defaults);
- `docutils-faq`: Docutils' FAQ over its manual, held out from every choice, added after that one.

`python -m ragft bench collections` rebuilds all seven, byte for byte, from pinned sdists.
"""

from __future__ import annotations

import random
import tarfile
from pathlib import Path, PurePosixPath

from ragft.corpus.build import pip_download_sdist
from ragft.corpus.evalsets import EvalQueries, jsonl_bytes, write_beir
from ragft.corpus.rst_sections import clean_markup, parse_sections
from ragft.runtime.hashing import sha256_file

DEV_SEED = 0
PAGE_SUFFIX = ".rst"  # how a manual's reST pages end, unless its entry below names a "suffix"
# name -> where its FAQ collection comes from; "faq" lists the FAQ pages (relative to "docs"), "skip" the
# folders left out (release notes: terse per-ticket entries, most of each manual's size).
SDIST_COLLECTIONS: dict[str, dict] = {
    "celery-faq": {
        "package": "celery",
        "release": "5.4.0",
        "sha256": "504a19140e8d3029d5acad88330c541d4c3f64c789d85f94756762d8bca7e706",
        "docs": "docs/",
        "faq": ("faq.rst",),
        "skip": ("history/", "changelog.rst"),
        "license": "LICENSE",
        "split": "dev",
    },
    "scrapy-faq": {
        "package": "scrapy",
        "release": "2.19.0",
        "sha256": "34130726582b64c91531162ab277c4053e558876d49ba219cb43679e71d80a87",
        "docs": "docs/",
        "faq": ("faq.rst",),
        "skip": ("news.rst",),
        "license": "LICENSE",
        "split": "dev",
    },
    "sqlalchemy-faq": {
        "package": "sqlalchemy",
        "release": "2.0.36",
        "sha256": "7f2767680b6d2398aea7082e45a774b2b0767b5c8d8ffb9c8b683088ea9b29c5",
        "docs": "doc/build/",
        "faq": ("faq/",),
        "skip": ("changelog/",),
        "license": "LICENSE",
        "split": "test",
    },
    "lxml-faq": {
        "package": "lxml",
        "release": "5.3.0",
        "sha256": "4e109ca30d1edec1ac60cdbe341905dc3b8f55b16855e03a54aaf59e51ec8c6f",
        "docs": "doc/",
        "suffix": ".txt",
        "faq": ("FAQ.txt",),
        "skip": ("html/", "licenses/", "s5/", "api/"),
        "license": "LICENSE.txt",
        "split": "dev",
    },
    "cython-faq": {
        "package": "cython",
        "release": "3.0.11",
        "sha256": "7146dd2af8682b4ca61331851e6aebce9fe5158e75300343f80c07ca80b1faff",
        "docs": "docs/src/",
        "faq": ("userguide/faq.rst",),
        "skip": ("changes.rst",),
        "license": "LICENSE.txt",
        "split": "test",
    },
    "docutils-faq": {
        "package": "docutils",
        "release": "0.23",
        "sha256": "746f5060322511280a1e50eb76846ed6bf2342984b2ac04dc42caa1a8d78799e",
        "docs": "",  # the FAQ sits at the sdist's root, the manual under docs/
        "faq": ("FAQ.rst",),
        "skip": ("docutils/", "test/", "tools/", "COPYING.rst", "HISTORY.rst", "RELEASE-NOTES.rst"),
        "license": "COPYING.rst",
        "split": "test",
    },
}


def fetch_sdist(name: str, cache: Path | None = None) -> Path:
    """Download one pinned sdist into <cache>/sdists (once, from PyPI); check its sha256."""
    from ragft.runtime.paths import cache_dir

    source = SDIST_COLLECTIONS[name]
    folder = (cache if cache is not None else cache_dir()) / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source['package']}-{source['release']}.tar.gz"
    if not path.is_file():
        # First with the setuptools already installed (Celery, SQLAlchemy), else in an isolated build
        # environment (hatchling for Scrapy, from the package registry).
        pip_download_sdist(source["package"], source["release"], path, build_isolation=(False, True))
    if sha256_file(path) != source["sha256"]:
        raise ValueError(f"{path} is not the pinned file (sha256 {source['sha256']}); delete it and rebuild")
    return path


def _is_faq_page(relative: str, faq: tuple[str, ...]) -> bool:
    return any(relative == f or (f.endswith("/") and relative.startswith(f)) for f in faq)


def sdist_sections(sdist: Path, source: dict) -> tuple[list[dict], bytes]:
    """Leaf sections of every .rst page under the sdist's docs folder (minus skipped ones); its license."""
    sections: list[dict] = []
    license_bytes = b""
    suffix = source.get("suffix", PAGE_SUFFIX)
    with tarfile.open(sdist, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and "/" in m.name), key=lambda m: m.name)
        for member in members:
            inner = member.name.split("/", 1)[1]
            if inner == source["license"]:
                license_bytes = tar.extractfile(member).read()
            if not (inner.startswith(source["docs"]) and inner.endswith(suffix)):
                continue
            relative = inner[len(source["docs"]) :]
            if relative.startswith(source["skip"]) or PurePosixPath(relative).parts[0].startswith("_"):
                continue
            text = tar.extractfile(member).read().decode("utf-8")
            sections += parse_sections(text, relative.removesuffix(suffix), source["release"])
    if not license_bytes:
        raise ValueError(f"{sdist} has no {source['license']} at its root")
    return sections, license_bytes


def faq_collection(
    sections: list[dict], faq: tuple[str, ...], split: str, suffix: str = PAGE_SUFFIX
) -> tuple[list[dict], EvalQueries]:
    """BEIR corpus records and queries: each FAQ question heading (with a non-empty answer) asks for its
    section; the question is taken out of that section's title, as in the Django faq set. `faq` names pages
    with their `suffix` (the pages' file ending) or folders ending in '/'."""
    records, queries, qrels = [], [], {}
    pages = tuple(f.removesuffix(suffix) for f in faq)
    for section in sections:
        question = _is_faq_page(section["path"], pages) and section["title"].rstrip().endswith("?")
        trail = section["trail"][:-1] if question else section["trail"]
        records.append(
            {
                "_id": section["id"],
                "title": " > ".join(trail),
                "text": section["text"],
                "metadata": {"path": section["path"]},
            }
        )
        if question and section["text"].strip():
            qid = "faq/" + section["id"].split("/", 1)[1]
            metadata = {"kind": "faq", "source_path": section["path"], "split": split}
            queries.append({"_id": qid, "text": clean_markup(section["title"]), "metadata": metadata})
            qrels[qid] = {section["id"]: 1}
    return records, EvalQueries(sorted(queries, key=lambda q: q["_id"]), {split: qrels})


def build_sdist_collection(name: str, out_dir: Path, cache: Path | None = None) -> dict:
    """Write <out_dir>/<name>/ (BEIR layout plus the project's LICENSE) from its pinned sdist."""
    source = SDIST_COLLECTIONS[name]
    sections, license_bytes = sdist_sections(fetch_sdist(name, cache), source)
    records, evalset = faq_collection(
        sections, source["faq"], source["split"], source.get("suffix", PAGE_SUFFIX)
    )
    folder = out_dir / name
    counts = write_beir(folder, jsonl_bytes(records), evalset)
    (folder / "LICENSE").write_bytes(license_bytes)
    return counts


def identifiers_dev(
    test_dir: Path, sections: list[dict], per_kind: int = 40, seed: int = DEV_SEED
) -> EvalQueries:
    """Identifiers of each kind that the test set does not ask, drawn with a seed (a dev split)."""
    from ragft.corpus.data import load_beir
    from ragft.corpus.evalsets import _identifier_candidates

    _, test_queries, _ = load_beir(test_dir)
    asked = {q["text"] for q in test_queries.values()}
    path_of = {s["id"]: s["path"] for s in sections}
    queries, qrels = [], {}
    for kind, candidates in sorted(_identifier_candidates(sections).items()):
        rest = sorted(set(candidates) - asked)
        for text in sorted(random.Random(f"{seed}/{kind}").sample(rest, min(per_kind, len(rest)))):
            qid = f"identifiers/{kind}/{text.replace(' ', '/')}"
            metadata = {"kind": kind, "source_path": path_of[min(candidates[text])], "split": "dev"}
            queries.append({"_id": qid, "text": text, "metadata": metadata})
            qrels[qid] = {sid: 1 for sid in sorted(candidates[text])}
    return EvalQueries(sorted(queries, key=lambda q: q["_id"]), {"dev": qrels})


def build_identifiers_dev(eval_dir: Path) -> dict:
    """Write <eval_dir>/identifiers-dev/: the dev identifiers over the identifiers set's own corpus."""
    from ragft.corpus.data import load_corpus

    evalset = identifiers_dev(eval_dir / "identifiers", load_corpus("5.2"))
    corpus = (eval_dir / "identifiers" / "corpus.jsonl").read_bytes()
    return write_beir(eval_dir / "identifiers-dev", corpus, evalset)


def build_collections(eval_dir: Path, cache: Path | None = None) -> dict:
    """Rebuild identifiers-dev and every SDIST_COLLECTIONS folder under eval_dir; counts per file."""
    counts = {f"identifiers-dev/{k}": v for k, v in build_identifiers_dev(eval_dir).items()}
    for name in SDIST_COLLECTIONS:
        counts.update({f"{name}/{k}": v for k, v in build_sdist_collection(name, eval_dir, cache).items()})
    return counts
