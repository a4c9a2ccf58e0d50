"""Grading a submission: isolated, bounded, and scored where the submission cannot write.

Per submission: the hidden tests are read from the committed master into this process's memory (no
zip, no cache); the notebook is copied into a fresh temporary folder and executed there by
ragft.labs.sandbox in its own process group, killed as a whole after `timeout` seconds; the tests reach
the child on stdin only after its cells have run. Tests whose arguments are plain data (dicts, lists,
strings, numbers) run here, in the parent, on the decoded answers; only tests that take a function or
an object run in the child, and their points are reported apart (in_process). The grader's own files
(src/ragft and the master) are hashed before and after: changed_files lists those that changed while
the submission ran (scoring does not read them: the tests and the modules they import are loaded first).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ragft.labs.assignments import lab_names, master_path
from ragft.labs.sandbox import decode, run_test
from ragft.runtime.paths import repo_root

DEFAULT_TIMEOUT = 300
_CONFIG_START, _CONFIG_END = '""" # BEGIN TEST CONFIG', '""" # END TEST CONFIG'
_MASTER_MARKERS = ("# ASSIGNMENT CONFIG", "# BEGIN SOLUTION", "# BEGIN TESTS")
_MAX_RESULT_BYTES = 50 * 2**20


def _raw_config(source: str) -> dict:
    return yaml.safe_load(source.split("\n", 1)[1]) or {}


def _test_from_cell(source: str, question: str) -> dict:
    """One test cell of the master -> {name, question, function, args, source, points, hidden, failure}."""
    config_text, code = source.split(_CONFIG_END, 1)
    config = yaml.safe_load(config_text.replace(_CONFIG_START, "", 1)) or {}
    tree = ast.parse(code)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test"))
    tree.body = [n for n in tree.body if not isinstance(n, ast.Expr)]  # the call the master runs
    return {
        "name": function.name,
        "question": question,
        "function": function.name,
        "args": [a.arg for a in function.args.args],
        "source": ast.unparse(tree),
        "points": config.get("points"),
        "hidden": bool(config.get("hidden", False)),
        "failure": str(config.get("failure_message", "")).strip(),
    }


def hidden_tests(master_source: str) -> dict[str, dict]:
    """The master notebook's JSON text -> {question: {"points", "tests": [test, ...]}}, in order.

    A test without points gets an equal share of what its question's points leave."""
    import nbformat

    questions: dict[str, dict] = {}
    current, in_tests = None, False
    for cell in nbformat.reads(master_source, as_version=4).cells:
        text = cell.source.strip()
        if cell.cell_type == "raw" and text.startswith("# BEGIN QUESTION"):
            config = _raw_config(text)
            current = str(config["name"])
            questions[current] = {"points": config.get("points"), "tests": []}
        elif cell.cell_type == "raw" and text.startswith(("# BEGIN TESTS", "# END TESTS")):
            in_tests = text.startswith("# BEGIN")
        elif in_tests and current and cell.cell_type == "code" and text.startswith(_CONFIG_START):
            questions[current]["tests"].append(_test_from_cell(text, current))
    for q in questions.values():
        unset = [t for t in q["tests"] if t["points"] is None]
        left = float(q["points"] or 0) - sum(float(t["points"] or 0) for t in q["tests"])
        for t in q["tests"]:
            t["points"] = float(t["points"]) if t["points"] is not None else max(left, 0) / len(unset)
    return questions


def object_names(master_source: str) -> set[str]:
    """Names the master binds to something other than plain data: functions, classes, imports, lambdas
    and call results. Any other answer must reach the grader as plain data."""
    import nbformat

    names: set[str] = set()
    for cell in nbformat.reads(master_source, as_version=4).cells:
        try:
            tree = ast.parse(cell.source) if cell.cell_type == "code" else ast.Module(body=[])
        except SyntaxError:  # magics
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.Lambda)):
                names.update(n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _check_submission(lab: str, path: Path) -> None:
    """ValueError, one line, for a file that is not a student notebook of this lab."""
    import nbformat

    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"notebook must be an existing .ipynb file, got {str(path)!r}")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001  (nbformat raises many kinds)
        raise ValueError(f"notebook {str(path)!r} is not a readable notebook: {type(exc).__name__}") from None
    if any(c.cell_type == "raw" and c.source.strip().startswith(_MASTER_MARKERS) for c in nb.cells):
        raise ValueError(
            f"notebook {str(path)!r} is the master of a lab (solutions/), not a submission: "
            f"grade a copy of labs/{lab}/{lab}.ipynb"
        )
    name = nb.metadata.get("otter", {}).get("assignment_name")
    if name != lab:
        raise ValueError(
            f"notebook {str(path)!r} is a submission for {name or 'no lab'}, not for lab {lab!r}; "
            f"lab must be one of {lab_names()}"
        )


def grader_files(lab: str) -> dict[str, str]:
    """sha256 of the grader's own files: every .py file of src/ragft and the lab's master."""
    package = repo_root() / "src" / "ragft"
    paths = [p for p in package.rglob("*.py") if "__pycache__" not in p.parts] + [master_path(lab)]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(paths)}


def _preimport(tests: list[dict]) -> None:
    """Import here, before any submission runs, every module the tests import: scoring then never
    reads code from disk that a submission could have rewritten."""
    import importlib

    for test in tests:
        for node in ast.walk(ast.parse(test["source"])):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                importlib.import_module(name)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _last_cell(progress: Path) -> str:
    lines = progress.read_text(errors="replace").splitlines() if progress.is_file() else []
    if not lines:
        return "before its first cell"
    try:
        where = json.loads(lines[-1])
        return f"while running cell {int(where['index'])} (id {where['id']})"
    except (ValueError, KeyError, TypeError):  # the submission wrote into the progress file
        return "(the cell is unknown)"


def _run_child(lab: str, path: Path, tests: list[dict], timeout: float, keep: Path | None) -> dict:
    """Execute the submission in a fresh folder and process group; the child's result, or
    {"timeout": message}; the executed notebook is copied to `keep` if given."""
    with tempfile.TemporaryDirectory(prefix=f"ragft-grade-{lab}-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        shutil.copy(path, work / f"{lab}.ipynb")
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        with (work / "output.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ragft.labs.sandbox", f"{lab}.ipynb"],
                cwd=work,
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                proc.communicate(json.dumps(tests).encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return {"timeout": f"timed out after {timeout:g} s {_last_cell(work / 'progress.jsonl')}"}
            finally:
                _kill_group(proc)  # and whatever the submission started in its group
        if keep is not None and (work / "executed.ipynb").is_file():
            shutil.copy(work / "executed.ipynb", keep)
        result = work / "result.json"
        if not result.is_file() or result.stat().st_size > _MAX_RESULT_BYTES:
            log_tail = (work / "output.log").read_bytes()[-2000:].decode(errors="replace")
            return {"crash": f"the notebook's process ended without a result ({proc.returncode}): {log_tail}"}
        try:
            return _sanitize(json.loads(result.read_text()))
        except (ValueError, TypeError, KeyError):
            return {"crash": "the notebook's process wrote an unreadable result"}


def _sanitize(child: dict) -> dict:
    """The child's result with the shape scoring expects (the submission could have written it)."""
    keys = ("index", "id", "ename", "evalue")
    errors = [{k: str(e[k]) for k in keys} for e in child.get("errors", [])]
    values = {str(k): dict(v) for k, v in dict(child.get("values", {})).items()}
    verdicts = {str(k): dict(v) for k, v in dict(child.get("verdicts", {})).items()}
    return {"errors": errors, "values": values, "verdicts": verdicts}


def _cell_errors_for(test: dict, values: dict, errors: list[dict], cells: dict[str, str]) -> list[str]:
    """The errors of the cells behind a test's arguments: cells that mention them, else the first error."""
    related = [e for e in errors if any(a in cells.get(str(e["index"]), "") for a in test["args"])]
    if not related and any("missing" in values.get(a, {}) for a in test["args"]):
        related = errors[:1]
    return [f"cell {e['index']} (id {e['id']}) raised {e['ename']}: {e['evalue']}" for e in related]


def _score_test(test: dict, child: dict, cells: dict[str, str], objects: set[str]) -> dict:
    """One test's verdict: run here on the decoded answers, or the child's verdict for opaque ones."""
    values, errors = child.get("values", {}), child.get("errors", [])
    entries = [values.get(a, {"missing": True}) for a in test["args"]]
    missing = [a for a, e in zip(test["args"], entries, strict=True) if "missing" in e]
    in_process = False
    opaque = [a for a, e in zip(test["args"], entries, strict=True) if "opaque" in e and a not in objects]
    if missing:
        verdict = {"passed": False, "message": f"not defined: {', '.join(missing)}"}
    elif opaque:
        kinds = ", ".join(f"{a} ({values[a]['opaque']})" for a in opaque)
        verdict = {"passed": False, "message": f"must be plain data (dict, list, str, number...): {kinds}"}
    elif all("value" in e for e in entries):
        try:
            args = {a: decode(e["value"]) for a, e in zip(test["args"], entries, strict=True)}
        except Exception:  # noqa: BLE001  (a forged result: no points)
            args = None
        verdict = run_test(test, args) if args is not None else {"passed": False, "message": "unreadable"}
    else:
        verdict = child.get("verdicts", {}).get(test["name"])
        verdict = verdict if isinstance(verdict, dict) else {"passed": False, "message": "not run"}
        in_process = True
    passed = verdict.get("passed") is True
    message = (
        ""
        if passed
        else "\n".join(
            [test["failure"], str(verdict.get("message", "")), *_cell_errors_for(test, values, errors, cells)]
        ).strip()
    )
    return {"passed": passed, "message": message, "in_process": in_process}


def _score(questions: dict, child: dict, cells: dict[str, str], objects: set[str]) -> dict:
    out, public, in_process = {}, [], 0.0
    for name, q in questions.items():
        verdicts = [(t, _score_test(t, child, cells, objects)) for t in q["tests"]]
        earned = sum(t["points"] for t, v in verdicts if v["passed"])
        in_process += sum(t["points"] for t, v in verdicts if v["passed"] and v["in_process"])
        total = sum(t["points"] for t in q["tests"])
        failing = [(t, v) for t, v in verdicts if not v["passed"]]
        out[name] = {
            "earned": earned,
            "total": total,
            "passed": not failing,
            "feedback": "\n\n".join(f"{t['name']}: {v['message']}" for t, v in failing),
            "failed_tests": {t["name"]: v["message"] for t, v in failing if t["points"] > 0},
        }
        public += [f"{name} - {t['name']}: {v['message']}" for t, v in failing if not t["hidden"]]
        if not any(not t["hidden"] for t, _ in failing):
            public.append(f"{name} results: All test cases passed!")
    return {"questions": out, "public_feedback": "\n".join(public), "in_process_points": in_process}


def grade(lab: str, notebook: str | Path, timeout: float = DEFAULT_TIMEOUT, keep: Path | None = None) -> dict:
    """Grade one submission; {"lab", "notebook", "status" (ok/timeout/error), "message", "total",
    "earned", "questions", "public_feedback", "cell_errors", "in_process_points", "seconds"}."""
    import nbformat

    clock = time.perf_counter()
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    path = Path(notebook)
    master = master_path(lab)
    _check_submission(lab, path)
    master_source = master.read_text()
    questions = hidden_tests(master_source)
    tests = [t for q in questions.values() for t in q["tests"]]
    _preimport(tests)
    before = grader_files(lab)
    child = _run_child(lab, path, tests, timeout, keep)
    after = grader_files(lab)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    nb = nbformat.read(path, as_version=4)
    cells = {str(i): c.source for i, c in enumerate(nb.cells)}
    status, message = "ok", ""
    if "timeout" in child or "crash" in child:
        status, message = ("timeout", child["timeout"]) if "timeout" in child else ("error", child["crash"])
        child = {"errors": [], "values": {}, "verdicts": {}}
    scored = _score(questions, child, cells, object_names(master_source))
    if status == "timeout":
        for q in scored["questions"].values():
            q["feedback"] = f"{message}\n{q['feedback']}"
    return {
        "lab": lab,
        "notebook": str(path),
        "status": status,
        "message": message,
        "total": float(sum(q["total"] for q in scored["questions"].values())),
        "earned": float(sum(q["earned"] for q in scored["questions"].values())),
        **scored,
        "cell_errors": child.get("errors", []),
        "changed_files": changed,
        "seconds": round(time.perf_counter() - clock, 1),
    }
