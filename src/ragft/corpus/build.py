"""Build the course corpus (Django's manual, two versions) and the evaluation sets from pinned sdists.

Every output is byte-for-byte reproducible: sorted records, fixed JSON formatting, gzip without a
timestamp or file name, and a manifest without dates. `python -m ragft data build` runs `build_all`.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path, PurePosixPath

from ragft.corpus.evalsets import build_evalsets, jsonl_bytes
from ragft.corpus.fact_pools import OLD, build_pools, write_pools
from ragft.corpus.rst_sections import parse_sections
from ragft.runtime import paths
from ragft.runtime.hashing import sha256_file

# Short version (used in paths and ids) -> the exact release on PyPI.
VERSIONS: dict[str, str] = {"4.2": "4.2.30", "5.2": "5.2.19"}
# sha256 of each sdist as downloaded from PyPI; a different file is refused.
SDIST_SHA256: dict[str, str] = {
    "4.2.30": "4ebc7a434e3819db6cf4b399fb5b3f536310a30e8486f08b66886840be84b37c",
    "5.2.19": "ad03d8abc51dbff95ebf34b27123cf0c26a3b62db7ba0cd520783686362533d1",
}
EVAL_VERSION = "5.2"
LICENSE_NAME = "LICENSE.django"
MANIFEST_NAME = "manifest.json"
BUILD_COMMAND = "python -m ragft data build"
# docs/*.txt files that are not part of the manual.
_SKIPPED_DOCS = {"requirements.txt"}


def _log(message: str) -> None:
    print(f"[ragft data] {message}", file=sys.stderr, flush=True)


def sdist_name(release: str) -> str:
    """File name pip gives the sdist of a Django release."""
    return f"django-{release}.tar.gz"


def _check_version(version: str) -> str:
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {sorted(VERSIONS)}, got {version!r}")
    return VERSIONS[version]


def verify_sdist(path: Path, release: str) -> None:
    """Raise ValueError when a downloaded sdist is not the pinned file (corrupt or re-released)."""
    expected, actual = SDIST_SHA256[release], sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"{path} has sha256 {actual}, expected {expected} (pinned in ragft.corpus.build.SDIST_SHA256). "
            f"Delete the file and run `python -m ragft data fetch` again."
        )


def pip_download_sdist(
    package: str, release: str, path: Path, build_isolation: tuple[bool, ...] = (True,)
) -> Path:
    """Download one sdist from the package registry into path's folder (pip names it path.name).

    pip reads the sdist's metadata to do so, in an isolated build environment or with the build backend
    already installed; each entry of build_isolation is one try, in order, until the file is there."""
    if not build_isolation:
        raise ValueError("build_isolation must hold at least one try (True: isolated, False: not)")
    # One requirement per call: pip download with two pins of one package silently keeps only one.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    cmd += [f"{package}=={release}", "-d", str(path.parent)]
    for isolated in build_isolation:
        result = subprocess.run(
            cmd if isolated else [*cmd, "--no-build-isolation"], capture_output=True, text=True
        )
        if result.returncode == 0 and path.is_file():
            return path
    raise FileNotFoundError(
        f"pip could not download {package}=={release} into {path.parent} "
        f"(exit {result.returncode}): {result.stderr.strip()[-500:]}"
    )


def fetch_sdists(cache: Path | None = None) -> dict[str, Path]:
    """Download the pinned Django sdists into <cache>/sdists (once) and verify their hashes."""
    folder = (cache if cache is not None else paths.cache_dir()) / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    for version, release in sorted(VERSIONS.items()):
        path = folder / sdist_name(release)
        if not path.is_file():
            _log(f"downloading django=={release} into {folder}")
            pip_download_sdist("django", release, path)
        verify_sdist(path, release)
        found[version] = path
    return found


def _is_manual_page(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return relative.endswith(".txt") and relative not in _SKIPPED_DOCS and not parts[0].startswith("_")


def read_docs(sdist: Path) -> tuple[dict[str, str], bytes]:
    """Read docs/**/*.txt (path relative to docs/ -> text) and the LICENSE bytes straight from the tar.gz."""
    pages: dict[str, str] = {}
    license_bytes = b""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or "/" not in member.name:
                continue
            inner = member.name.split("/", 1)[1]
            if inner == "LICENSE":
                license_bytes = tar.extractfile(member).read()
            elif inner.startswith("docs/") and _is_manual_page(inner[len("docs/") :]):
                pages[inner[len("docs/") :]] = tar.extractfile(member).read().decode("utf-8")
    if not pages:
        raise ValueError(f"sdist {sdist} contains no docs/**/*.txt files; is it a Django sdist?")
    if not license_bytes:
        raise ValueError(f"sdist {sdist} has no LICENSE file at its root; is it a Django sdist?")
    return pages, license_bytes


def write_gzip(path: Path, payload: bytes) -> None:
    """Gzip without a file name or timestamp in the header, so equal payloads give equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    path.write_bytes(buffer.getvalue())


def corpus_relpath(version: str) -> str:
    """Path of a version's sections file, relative to the data folder."""
    return f"django-{version}/sections.jsonl.gz"


def build_corpus(version: str, sdist: Path, out_dir: Path) -> list[dict]:
    """Parse one sdist's manual into sections, write <out_dir>/django-<version>/sections.jsonl.gz."""
    _check_version(version)
    pages, license_bytes = read_docs(sdist)
    sections = []
    for relative in sorted(pages):
        sections.extend(parse_sections(pages[relative], relative, version))
    sections.sort(key=lambda s: (s["path"], s["order"]))
    write_gzip(out_dir / corpus_relpath(version), jsonl_bytes(sections))
    (out_dir / LICENSE_NAME).write_bytes(license_bytes)
    _log(f"django {version}: {len(pages)} pages -> {len(sections)} sections")
    return sections


def _file_entry(root: Path, relative: str, counts: dict) -> dict:
    path = root / relative
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size, **counts}


def build_all(data_dir: Path | None = None) -> dict:
    """Build both corpora, the three evaluation sets, the fact pools and manifest.json; return it."""
    started = time.perf_counter()
    root = data_dir if data_dir is not None else paths.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    sdists = fetch_sdists()
    files: dict[str, dict] = {}
    sources = []
    section_counts = {}
    by_version: dict[str, list[dict]] = {}
    for version, release in sorted(VERSIONS.items()):
        sections = build_corpus(version, sdists[version], root)
        section_counts[version] = len(sections)
        pages = len({s["path"] for s in sections})
        relative = corpus_relpath(version)
        files[relative] = _file_entry(root, relative, {"sections": len(sections)})
        sources.append(
            {
                "package": "django",
                "version": release,
                "sdist": sdists[version].name,
                "sha256": SDIST_SHA256[release],
                "license": "BSD-3-Clause",
                "taken": f"docs/**/*.txt ({pages} pages, parsed into sections) -> {corpus_relpath(version)}; "
                f"LICENSE -> {LICENSE_NAME}",
            }
        )
        by_version[version] = sections
    files[LICENSE_NAME] = _file_entry(root, LICENSE_NAME, {})
    eval_files = build_evalsets(by_version[EVAL_VERSION], root / "eval")
    for relative, counts in eval_files.items():
        files[f"eval/{relative}"] = _file_entry(root, f"eval/{relative}", counts)
        _log(f"eval/{relative}: {counts}")
    pool_files = write_pools(build_pools(by_version[OLD], by_version[EVAL_VERSION]), root)
    for relative, counts in pool_files.items():
        files[relative] = _file_entry(root, relative, counts)
        _log(f"{relative}: {counts}")
    evalsets: dict[str, dict[str, int]] = {}
    for relative, counts in eval_files.items():
        name, _, rest = relative.partition("/")
        if rest.startswith("qrels/"):
            evalsets.setdefault(name, {})[rest[len("qrels/") : -len(".tsv")]] = counts["queries"]
    manifest = {
        "build_command": BUILD_COMMAND,
        "eval_corpus_version": EVAL_VERSION,
        "evalsets": evalsets,
        "files": files,
        "pools": {
            relative.split("/")[-1].removesuffix(".jsonl"): c["facts"] for relative, c in pool_files.items()
        },
        "sections": section_counts,
        "sources": sources,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (root / MANIFEST_NAME).write_bytes(text.encode("utf-8"))  # no newline translation: same bytes everywhere
    _log(f"wrote {len(files)} files and {MANIFEST_NAME} to {root} in {time.perf_counter() - started:.1f} s")
    return manifest
