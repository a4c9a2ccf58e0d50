"""The student-only release: the course without solutions/, hidden tests or the course's own tests."""

import nbformat
import pytest
from nbformat import v4

from ragft.labs.release import leaked_solutions, release


def test_leaked_solutions_finds_masters_and_solution_cells(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "x.txt").write_text("")
    nbformat.write(v4.new_notebook(cells=[v4.new_raw_cell("# BEGIN SOLUTION")]), tmp_path / "a.ipynb")
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("x = ...")]), tmp_path / "b.ipynb")
    assert leaked_solutions(tmp_path) == ["a.ipynb", "solutions/x.txt"]


def test_release_names_the_out_dir_argument_when_not_empty(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(ValueError, match="out_dir must be a new or empty folder"):
        release(tmp_path)


def test_release_copies_the_course_without_solutions_or_tests(tmp_path, repo_root):
    out = tmp_path / "course"
    report = release(out)
    assert {"solutions", "tests"} <= set(report["left_out"])
    assert not (out / "solutions").exists() and not (out / "tests").exists()
    for needed in ("README.md", "pyproject.toml", "environment.yml", "src/ragft/__init__.py", "notebooks"):
        assert (out / needed).exists(), needed
    labs = sorted(p.name for p in (repo_root / "labs").glob("lab_*/lab_*.ipynb"))
    assert labs and sorted(p.name for p in (out / "labs").glob("lab_*/lab_*.ipynb")) == labs
    assert leaked_solutions(out) == []
