"""Grading a class: every notebook of a folder, one CSV row and one feedback file each, and the
misconceptions the class shares most."""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from pathlib import Path

from ragft.labs.assignments import master_path
from ragft.labs.grading import DEFAULT_TIMEOUT, grade, hidden_tests

# "name=value, expected X: the misconception. More text" -> "the misconception"
_EXPECTED = re.compile(r"^[^\n:]*\bexpected\b[^:\n]*:\s*")
_NOT_MISCONCEPTIONS = ("still to fill in", "not defined:", "must be", "timed out", "not run")


def submissions(folder: Path) -> list[Path]:
    """The notebooks under folder, sorted, leaving out .ipynb_checkpoints and other dot folders."""
    found = sorted(Path(folder).rglob("*.ipynb"))
    return [p for p in found if not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def misconception(message: str) -> str | None:
    """The misconception a failing test's message names (its first sentence after "expected ...:"),
    or None for messages that name none (unanswered, undefined, a timeout)."""
    lines = [line for line in message.splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else ""
    if not detail or any(marker in detail.lower() for marker in _NOT_MISCONCEPTIONS):
        return None
    sentence = re.split(r"[.;]\s+(?=[A-Z])", _EXPECTED.sub("", detail), maxsplit=1)[0]
    return sentence.rstrip(".;") or None


def _feedback_text(result: dict) -> str:
    lines = [f"{result['notebook']}: {result['earned']:g} / {result['total']:g} ({result['status']})"]
    lines += [result["message"]] if result.get("message") else []
    for name, q in result.get("questions", {}).items():
        lines += ["", f"{name}: {q['earned']:g} / {q['total']:g}"]
        lines += [q["feedback"]] if q["feedback"] else []
    for error in result.get("cell_errors", []):
        lines += ["", f"cell {error['index']} (id {error['id']}) raised {error['ename']}: {error['evalue']}"]
    return "\n".join(lines) + "\n"


def _row(rel: str, result: dict, questions: list[str]) -> dict:
    row = {"file": rel, "total": result.get("earned", 0), "possible": result.get("total", 0)}
    row.update({q: result.get("questions", {}).get(q, {}).get("earned", 0) for q in questions})
    in_process = result.get("in_process_points", 0)
    return {**row, "in_process": in_process, "status": result["status"], "message": result.get("message", "")}


def grade_folder(lab: str, folder: str | Path, out: str | Path, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Grade every notebook under folder into the CSV `out` and out's sibling feedback/ folder.

    Returns {"rows", "misconceptions": [(text, question, count)], "csv", "feedback"}. A submission
    that is not this lab's (or crashes the grader) gets status "error" and 0 points; grading goes on.
    """
    from tqdm import tqdm

    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing folder of notebooks, got {str(folder)!r}")
    if out.suffix != ".csv":
        raise ValueError(f"out must be a .csv file, got {str(out)!r}")
    paths = submissions(folder)
    if not paths:
        raise ValueError(f"folder {str(folder)!r} holds no .ipynb file")
    questions = list(hidden_tests(master_path(lab).read_text()))
    feedback_dir = out.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    rows, counts = [], Counter()
    for path in tqdm(paths, desc=f"grading {lab}", unit="notebook", file=sys.stderr):
        rel = path.relative_to(folder).as_posix()
        stem = rel.removesuffix(".ipynb").replace("/", "__")
        try:
            result = grade(lab, path, timeout=timeout, keep=feedback_dir / f"{stem}.executed.ipynb")
        except (ValueError, RuntimeError) as exc:
            result = {"notebook": str(path), "status": "error", "message": str(exc), "earned": 0, "total": 0}
        for name, q in result.get("questions", {}).items():
            for message in q.get("failed_tests", {}).values():
                found = misconception(message)
                counts.update([(found, name)] if found else [])
        (feedback_dir / f"{stem}.txt").write_text(_feedback_text(result))
        rows.append(_row(rel, result, questions))
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    common = [(text, q, n) for (text, q), n in counts.most_common(10)]
    return {"rows": rows, "misconceptions": common, "csv": str(out), "feedback": str(feedback_dir)}


def format_summary(report: dict) -> str:
    """The class in a few lines: how many graded, timed out or failed, and the common misconceptions."""
    statuses = Counter(row["status"] for row in report["rows"])
    lines = [", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) + f" -> {report['csv']}"]
    lines += ["most common misconceptions:"] if report["misconceptions"] else ["no misconception named"]
    lines += [f"  {n:3d} x {q}: {text}" for text, q, n in report["misconceptions"]]
    return "\n".join(lines)
