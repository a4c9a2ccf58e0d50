"""The child side of grading: run a submission's cells, then hand its answers back as plain data.

Run as `python -m ragft.labs.sandbox NOTEBOOK` by ragft.labs.grading, in a fresh temporary folder and
its own process group. It executes the code cells one by one in an IPython shell (no kernel: nothing
outlives the group), appending each cell's index and id to progress.jsonl before running it. Then it
reads the test list on stdin, writes every answer the tests need as plain data (encode) and runs only
the tests that need something else (a function, a model) itself; all this goes to result.json, and the
executed notebook to executed.ipynb. Nothing here decides a score: the parent does.
"""

from __future__ import annotations

import json
import math
import re
import sys
import traceback
from pathlib import Path

# Cells otter generates, skipped when untouched: they run the public tests, which grading runs anyway.
_OTTER_CELL = re.compile(
    r'# Initialize Otter\nimport otter\ngrader = otter\.Notebook\("\w+\.ipynb"\)'
    r'|grader\.check(_all\(\)|\("\w+"\))'
)
_MAX_NODES = 200_000
_MAX_TEXT = 4000


class Opaque(Exception):
    """Raised by encode for a value that is not plain data."""


def encode(value: object, budget: list[int] | None = None) -> object:
    """A plain-data value -> JSON with tags for what JSON lacks (tuple, set, ..., non-str keys, nan).

    Opaque for anything else (functions, objects) or past 200,000 nodes."""
    budget = budget if budget is not None else [_MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise Opaque("too large")
    if value is None or value is Ellipsis:
        return None if value is None else {"...": True}
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if type(value) in (list, tuple, set, frozenset):
        items = [encode(v, budget) for v in value]
        return items if type(value) is list else {type(value).__name__: items}
    if type(value) is dict:
        return {"dict": [[encode(k, budget), encode(v, budget)] for k, v in value.items()]}
    raise Opaque(type(value).__name__)


def decode(data: object) -> object:
    """The inverse of encode: plain builtins only, whatever the JSON holds."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    ((tag, body),) = data.items()
    if tag == "...":
        return ...
    if tag == "float":
        return float(body)
    if tag == "dict":
        return {_hashable(decode(k)): decode(v) for k, v in body}
    items = [decode(v) for v in body]
    makers = {"tuple": tuple, "set": set, "frozenset": frozenset}
    return makers[tag](_hashable(v) for v in items) if tag != "tuple" else tuple(items)


def _hashable(value: object) -> object:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def run_test(test: dict, args: dict) -> dict:
    """Run one hidden test (its source, function and arguments); {"passed", "message"}."""
    namespace: dict = {"__name__": "ragft_hidden_test"}
    try:
        exec(compile(test["source"], f"<test {test['name']}>", "exec"), namespace)
        namespace[test["function"]](*[args[a] for a in test["args"]])
    except Exception as exc:  # noqa: BLE001  (any error fails the test, with its message)
        text = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
        return {"passed": False, "message": text[:_MAX_TEXT]}
    return {"passed": True, "message": ""}


def _execute(nb, progress: Path) -> tuple[list[dict], dict]:
    """Run the code cells in order; their errors ({index, id, ename, evalue, traceback}) and globals."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from nbformat import v4

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):  # `%matplotlib inline` asks for it; there is no GUI here
            pass

    shell = Shell.instance()
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _OTTER_CELL.fullmatch(cell.source.strip()):
            continue
        with progress.open("a") as log:
            log.write(json.dumps({"index": index, "id": cell.get("id")}) + "\n")
        with capture_output() as captured:
            result = shell.run_cell(cell.source, store_history=False)
        cell.outputs = [v4.new_output("stream", name="stdout", text=captured.stdout[-_MAX_TEXT:])]
        exc = result.error_before_exec or result.error_in_exec
        if exc is not None:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            error = {
                "index": index,
                "id": cell.get("id"),
                "ename": type(exc).__name__,
                "evalue": str(exc)[:_MAX_TEXT],
                "traceback": text[-_MAX_TEXT:],
            }
            errors.append(error)
            cell.outputs.append(
                v4.new_output(
                    "error", ename=error["ename"], evalue=error["evalue"], traceback=text.splitlines()
                )
            )
    return errors, shell.user_ns


def _answers(tests: list[dict], user_ns: dict) -> tuple[dict, dict]:
    """Encoded values of the names the tests take ({"missing"} / {"opaque": type}), and the verdicts
    of the tests that take an opaque value, run here."""
    values: dict = {}
    for name in {a for t in tests for a in t["args"]}:
        if name == "env":  # otter's convention: the notebook's globals, here those that are plain data
            plain = []
            for key, value in list(user_ns.items()):
                try:
                    plain.append([key, encode(value)]) if not key.startswith("_") else None
                except Opaque:
                    continue
            values[name] = {"value": {"dict": plain}}
        elif name not in user_ns:
            values[name] = {"missing": True}
        else:
            try:
                values[name] = {"value": encode(user_ns[name])}
            except Opaque as exc:
                values[name] = {"opaque": str(exc)}
    verdicts = {}
    for test in tests:
        if any("opaque" in values[a] for a in test["args"]):
            if not any("missing" in values[a] for a in test["args"]):
                verdicts[test["name"]] = run_test(test, {a: user_ns[a] for a in test["args"]})
    return values, verdicts


def main(argv: list[str]) -> int:
    """Execute argv[0], read the tests on stdin, write result.json and executed.ipynb here."""
    import nbformat

    nb = nbformat.read(argv[0], as_version=4)
    errors, user_ns = _execute(nb, Path("progress.jsonl"))
    nbformat.write(nb, "executed.ipynb")
    tests = json.loads(sys.stdin.read() or "[]")
    values, verdicts = _answers(tests, user_ns)
    Path("result.json").write_text(json.dumps({"errors": errors, "values": values, "verdicts": verdicts}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
