"""The suite runs in a random order, but every notebook's cells stay together and in order (conftest.py)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _collected(*args: str, seed: int) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            f"--randomly-seed={seed}",
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "args",
    [
        ("notebooks/08_decision_framework.ipynb",),  # a notebook alone: only the root conftest.py applies
        ("tests/runtime/test_paths.py", "notebooks/08_decision_framework.ipynb", "apps/decision_tool.ipynb"),
    ],
    ids=["notebook alone", "mixed"],
)
def test_notebook_cells_stay_contiguous_and_in_order(args, seed):
    items = _collected(*args, seed=seed)
    cells = {i: line for i, line in enumerate(items) if "::Cell " in line}
    assert cells, items
    for notebook in {line.split("::")[0] for line in cells.values()}:
        mine = [(i, line) for i, line in cells.items() if line.startswith(notebook + "::")]
        positions = [i for i, _ in mine]
        assert positions == list(range(positions[0], positions[0] + len(positions))), notebook
        numbers = [int(re.search(r"Cell (\d+)$", line)[1]) for _, line in mine]
        assert numbers == list(range(len(numbers))), notebook
