"""The layer contract (pyproject.toml, checked by import-linter) holds, and it catches an upward import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ragft

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGE = Path(ragft.__file__).parent


def _lint(repo_root: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=repo_root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def lint_available():
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extras (pip install -e '.[test]')")


def test_the_package_keeps_its_layers(lint_available, repo_root):
    result = _lint(repo_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Layers import downward only KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("runtime/paths.py", "from ragft.rag import answers"),  # the bottom layer reaching up
        ("retrieval/fusion.py", "from ragft.tuning import lora"),  # retrieval reaching into tuning
        ("labs/lab_lora.py", "from ragft.widgets import render"),  # one sibling importing another
    ],
)
def test_an_upward_import_breaks_the_contract(lint_available, repo_root, tmp_path, module, upward):
    copy = tmp_path / "ragft"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / module).open("a", encoding="utf-8") as handle:
        handle.write(f"\n{upward}  # wrong way\n")
    result = _lint(repo_root, pythonpath=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and f"ragft.{module[:-3].replace('/', '.')}" in result.stdout
