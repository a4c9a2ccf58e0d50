"""Graded labs with otter-grader: student notebooks built from the masters, a drift check, and grading.

One master notebook per lab, solutions/<lab>/<lab>.ipynb, is the only source. `otter assign` turns it
into the student notebook (committed to labs/<lab>/) and the autograder zip with the hidden tests
(never committed: built into the cache, keyed by the master's content, checked against its sha256).
Grading itself does not use otter: ragft.labs.grading reads the hidden tests from the master and runs
the submission in an isolated, time-limited process (see docs/instructor_guide.md).

Where the public tests live: in the student notebook's metadata (otter 7's default, `tests: files:
false`), not in a tests/ folder. Otter 7 writes only the public tests there (hidden ones go to the
autograder zip alone), and `otter.Notebook("<lab>.ipynb")` reads them from the notebook file itself,
so the notebook is self-contained: it works wherever a learner opens, copies or uploads it (JupyterLab,
Binder, JupyterLite), there is no second folder to keep in step, and the drift check covers one file.

Otter runs in a subprocess (`python -m otter`): its logging and global state stay out of this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from ragft.runtime.paths import cache_dir, repo_root

if TYPE_CHECKING:
    from nbformat import NotebookNode

# Bump when the normalization below changes: it is part of the autograder cache key.
_FORMAT_VERSION = "1"
_INIT_MARKER = "# Initialize Otter"
_VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")


def _solutions_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / "solutions"


def lab_names(root: Path | None = None) -> list[str]:
    """The labs that have a master notebook: every solutions/<lab>/<lab>.ipynb, sorted."""
    solutions = _solutions_dir(root)
    if not solutions.is_dir():
        return []
    return sorted(d.name for d in solutions.iterdir() if (d / f"{d.name}.ipynb").is_file())


def master_path(lab: str, root: Path | None = None) -> Path:
    """The master notebook of a lab; ValueError naming `lab` if there is none."""
    names = lab_names(root)
    if lab not in names:
        raise ValueError(f"lab must be one of {names}, got {lab!r}")
    return _solutions_dir(root) / lab / f"{lab}.ipynb"


def _run_otter(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m otter ARGS` with this interpreter; RuntimeError with otter's output if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "otter", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise RuntimeError(f"otter {args[0]} failed (exit {proc.returncode}):\n{tail}")
    return proc


def _cell_id(source: str, taken: set[str]) -> str:
    """A cell id derived from the cell's source (unique within `taken`), instead of a random one."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    base = f"otter-{digest[:8]}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def normalize_student_notebook(nb: NotebookNode, master_ids: set[str]) -> NotebookNode:
    """Make otter's student notebook reproducible, in place, and return it.

    What otter assign leaves non-deterministic, and what is done about it:
    - cells otter creates (the init cell, each `grader.check` cell) get random ids from nbformat on every
      run: they get ids derived from their source instead; cells copied from the master keep its ids;
    - cells copied from the master carry the master's execution timestamps (`metadata.execution`,
      written by nbclient whenever the master is re-run): removed, a learner's notebook has not run.
    One presentation change, also deterministic: otter puts its init cell above everything; it is moved
    below the lab's title cell so that the notebook opens with its title, objectives and budget.
    """
    taken = set(master_ids)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if "id" in cell and cell.id not in master_ids:
            cell.id = _cell_id(cell.source, taken)
            taken.add(cell.id)
    cells = nb.cells
    if (
        len(cells) > 1
        and cells[0].cell_type == "code"
        and cells[0].source.startswith(_INIT_MARKER)
        and cells[1].cell_type == "markdown"
    ):
        cells[0], cells[1] = cells[1], cells[0]
    return nb


def assign(lab: str, out_dir: str | Path) -> dict[str, Path]:
    """Run `otter assign` on the lab's master into out_dir; returns the paths it produced.

    Keys: student_notebook (normalized, see normalize_student_notebook), student_dir, autograder_notebook
    (the master with solutions, as otter formats it), autograder_zip (with the hidden tests), and
    public_tests only if otter wrote a tests/ folder (it does not with tests in the notebook metadata).
    Tests against the solutions are not run here (--no-run-tests): tests/labs/test_assignments.py grades them.
    """
    import nbformat

    master = master_path(lab)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _run_otter(["assign", "--no-run-tests", "--no-pdfs", str(master), str(out)], cwd=master.parent)
    student_dir, ag_dir = out / "student", out / "autograder"
    student_nb = student_dir / f"{lab}.ipynb"
    zips = sorted(ag_dir.glob(f"{lab}-autograder_*.zip"))
    if not student_nb.is_file() or len(zips) != 1:
        raise RuntimeError(f"otter assign did not write {student_nb} and one autograder zip in {ag_dir}")
    master_ids = {c.get("id") for c in nbformat.read(master, as_version=4).cells if c.get("id")}
    nb = normalize_student_notebook(nbformat.read(student_nb, as_version=4), master_ids)
    nbformat.write(nb, student_nb)
    paths = {
        "student_notebook": student_nb,
        "student_dir": student_dir,
        "autograder_notebook": ag_dir / f"{lab}.ipynb",
        "autograder_zip": zips[0],
    }
    if (student_dir / "tests").is_dir():
        paths["public_tests"] = student_dir / "tests"
    return paths


def _generated_files(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of the files under folder, leaving out dotfiles (a learner's .OTTER_LOG,
    .ipynb_checkpoints) and __pycache__, which are never generated."""
    if not folder.is_dir():
        return {}
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return files


def student_files_differ(fresh_dir: Path, committed_dir: Path) -> list[str]:
    """The relative paths that differ between a fresh generation and the committed folder (missing,
    changed, or stale files that otter no longer writes), sorted; empty when they match."""
    fresh, committed = _generated_files(Path(fresh_dir)), _generated_files(Path(committed_dir))
    return sorted(p for p in set(fresh) | set(committed) if fresh.get(p) != committed.get(p))


def build_student_notebooks(check: bool = False) -> list[str]:
    """Regenerate labs/<lab>/ from every master; returns the labs whose student files changed.

    With check=True nothing is written: the returned labs are those whose committed student files
    differ from a fresh `otter assign` (the drift check; an empty list means all is in step).
    """
    labs_dir = repo_root() / "labs"
    changed = []
    for lab in lab_names():
        with tempfile.TemporaryDirectory(prefix=f"ragft-{lab}-") as tmp:
            fresh_dir = assign(lab, tmp)["student_dir"]
            target = labs_dir / lab
            differing = student_files_differ(fresh_dir, target)
            if not differing:
                continue
            changed.append(lab)
            if check:
                continue
            fresh = _generated_files(fresh_dir)
            for rel in differing:
                dest = target / rel
                if rel in fresh:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(fresh[rel])
                else:
                    dest.unlink()  # stale: otter no longer generates it
    return changed


def _autograder_key(master: Path) -> str:
    digest = hashlib.sha256(master.read_bytes())
    digest.update(f"otter-grader {version('otter-grader')} format {_FORMAT_VERSION}".encode())
    return digest.hexdigest()[:16]


def _digests(paths: dict[str, Path]) -> dict[str, str]:
    return {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in sorted(paths.items())}


def autograder(lab: str) -> dict[str, Path]:
    """The lab's autograder zip and solution notebook, built once per master content into the cache
    (`<cache>/labs/<lab>-<key>/`, with their sha256 in digest.json); never written into the checkout.

    Rebuilt when a file no longer matches its digest. Grading does not use them (see grading.grade);
    tests take the solution notebook from here."""
    master = master_path(lab)
    folder = cache_dir() / "labs" / f"{lab}-{_autograder_key(master)}"
    paths = {"autograder_zip": folder / "autograder.zip", "autograder_notebook": folder / f"{lab}.ipynb"}
    digest_file = folder / "digest.json"
    if all(p.is_file() for p in paths.values()) and digest_file.is_file():
        if json.loads(digest_file.read_text()) == _digests(paths):
            return paths
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{lab}-", dir=folder.parent) as tmp:
        built = assign(lab, Path(tmp) / "assign")
        staging = Path(tmp) / "staging"
        staging.mkdir()
        shutil.copy2(built["autograder_zip"], staging / "autograder.zip")
        shutil.copy2(built["autograder_notebook"], staging / f"{lab}.ipynb")
        staged = {k: staging / p.name for k, p in paths.items()}
        (staging / "digest.json").write_text(json.dumps(_digests(staged)))
        try:
            os.replace(staging, folder)  # atomic: a concurrent build either wins or finds it done
        except OSError:
            if not all(p.is_file() for p in paths.values()):
                raise
    return paths


def parse_results(results: dict) -> dict:
    """Otter's results.json (Gradescope format) -> total, earned and per-question results."""
    questions = {}
    for test in results.get("tests", []):
        if "max_score" not in test:  # the public-tests summary and error entries carry no points
            continue
        earned, total = float(test.get("score") or 0.0), float(test["max_score"])
        questions[test["name"]] = {
            "earned": earned,
            "total": total,
            "passed": earned >= total,
            "feedback": test.get("output", ""),
        }
    if not questions:
        messages = "\n".join(t.get("output", "") for t in results.get("tests", []))
        raise RuntimeError(f"otter produced no graded questions:\n{messages[-4000:]}")
    public = next((t for t in results.get("tests", []) if t.get("name") == "Public Tests"), None)
    return {
        "total": sum(q["total"] for q in questions.values()),
        "earned": sum(q["earned"] for q in questions.values()),
        "questions": questions,
        "public_feedback": public.get("output", "") if public else "",
    }


def grade(lab: str, notebook: str | Path, timeout: float = 300, keep: Path | None = None) -> dict:
    """Grade a notebook against the hidden tests of the lab's committed master, isolated and bounded.

    See ragft.labs.grading.grade: {"lab", "notebook", "status", "total", "earned", "questions": {name:
    {earned, total, passed, feedback}}, "public_feedback", ...}. Errors in cells cost points; they do not
    stop grading. Otter itself is not involved: the tests run in a process the submission cannot reach.
    """
    from ragft.labs import grading

    return grading.grade(lab, notebook, timeout=timeout, keep=keep)
