"""A student-only copy of the course: what learners need to run the notebooks and the labs, without the
masters (solutions/), the hidden tests that live in them, or the course's own tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ragft.runtime.paths import repo_root

# Top-level entries copied (tracked files only); everything else (solutions/, tests/, .ci/) stays out.
RELEASED = (
    "README.md", "LICENSE", "Makefile", "pyproject.toml", "environment.yml", "postBuild",
    "requirements", "scripts", "notebooks", "labs", "data", "src", "apps",
)  # fmt: skip
_SOLUTION_MARKERS = ("# BEGIN SOLUTION", "# ASSIGNMENT CONFIG", "# BEGIN TESTS", "hidden: true")


def _tracked_files(root: Path) -> list[str]:
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git ls-files failed in {root}: {proc.stderr.strip()}")
    return [p for p in proc.stdout.split("\0") if p]


def leaked_solutions(folder: Path) -> list[str]:
    """Files under folder that hold a master's solutions or hidden tests (relative paths, sorted)."""
    leaks = []
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel.split("/")[0] == "solutions" and path.is_file():
            leaks.append(rel)
        elif path.suffix == ".ipynb" and any(
            m in path.read_text(errors="replace") for m in _SOLUTION_MARKERS
        ):
            leaks.append(rel)
    return leaks


def release(out_dir: str | Path, root: Path | None = None) -> dict:
    """Copy the student-facing files (RELEASED, tracked in git) into out_dir, which must not exist or
    be empty; RuntimeError, with the copy removed, if any solution leaked into it."""
    root, out = root or repo_root(), Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out_dir must be a new or empty folder, got {str(out)!r}")
    files = [f for f in _tracked_files(root) if f.split("/")[0] in RELEASED and (root / f).is_file()]
    for rel in files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, out / rel)
    leaks = leaked_solutions(out)
    if leaks:
        shutil.rmtree(out)
        raise RuntimeError(f"solutions would leak into the release, nothing written: {leaks[:10]}")
    return {
        "out_dir": str(out),
        "files": len(files),
        "left_out": sorted({f.split("/")[0] for f in _tracked_files(root)} - set(RELEASED)),
    }
