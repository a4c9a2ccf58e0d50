import os

import nbformat
import pytest

from ragft.runtime.notebook_runner import MARKER, budget_from_outputs, header_text, run_notebook


def _notebook(code_cells, header="# T\n<!-- measured --><!-- /measured -->"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(header)] + [nbformat.v4.new_code_cell(c) for c in code_cells]
    return nb


def test_budget_is_read_from_the_printed_line():
    nb = _notebook([""])
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="runtime 12.3 s CPU (budget 120 s), 30.5 s wall-clock, peak memory 456 MB (budget 1024 MB), "
            "1 thread(s)\n",
        )
    ]
    assert budget_from_outputs(nb) == {
        "seconds": 12.3,
        "wall_seconds": 30.5,
        "max_seconds": 120.0,
        "peak_mb": 456,
        "max_mb": 1024,
        "threads": 1,
    }
    assert budget_from_outputs(_notebook(["print(1)"])) is None


def test_header_text_keeps_the_markers():
    text = header_text({"seconds": 1.0, "max_seconds": 120.0, "peak_mb": 456, "max_mb": 1024}, 3.2)
    assert MARKER.fullmatch(text) and "456 MB" in text and "1 CPU thread" in text
    assert "1 s of CPU time" in text and "3 s wall-clock" in text
    two = header_text({"seconds": 1.0, "max_seconds": 9.0, "peak_mb": 1, "max_mb": 9, "threads": 2}, 1.0)
    assert "**Measured** on 2 CPU threads (" in two


def test_threads_must_be_positive_or_none(tmp_path):
    with pytest.raises(ValueError, match=r"threads must be >= 1 or None"):
        run_notebook(tmp_path / "any.ipynb", threads=0)


@pytest.mark.slow
def test_threads_none_follows_the_kernels_own_budget_and_save_false_keeps_the_file(tmp_path, monkeypatch):
    from ragft.runtime.threads import cpu_budget

    monkeypatch.delenv("RAGFT_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # this process's setting must not leak into the kernel
    path = tmp_path / "tiny.ipynb"
    nbformat.write(
        _notebook(
            [
                "import ragft, os\nfrom ragft.runtime.budget import start_clock, check_budget\nstart_clock()",
                "from ragft.runtime.threads import cpu_budget\n"
                "assert 'RAGFT_THREADS' not in os.environ\n"
                "assert os.environ['OMP_NUM_THREADS'] == str(cpu_budget()), os.environ['OMP_NUM_THREADS']",
                "check_budget(max_seconds=60, max_mb=4096)",
            ]
        ),
        path,
    )
    before = path.read_text()
    result = run_notebook(path, threads=None, write_header=True, save=False)
    assert result["threads"] == cpu_budget()
    assert path.read_text() == before


@pytest.mark.slow
def test_runs_a_notebook_on_one_thread_and_writes_the_header(tmp_path, monkeypatch):
    monkeypatch.delenv("RAGFT_THREADS", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    path = tmp_path / "tiny.ipynb"
    nbformat.write(
        _notebook(
            [
                "from ragft.runtime.budget import start_clock, check_budget\nstart_clock()",
                "import os\nprint(os.environ['RAGFT_THREADS'])",
                "check_budget(max_seconds=60, max_mb=4096)",
            ]
        ),
        path,
    )
    result = run_notebook(path)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[2].outputs[0]["text"].strip() == "1"
    assert "**Measured** on 1 CPU thread" in nb.cells[0].source
    assert result["peak_mb"] > 0 and [c.execution_count for c in nb.cells[1:]] == [1, 2, 3]
    assert "RAGFT_THREADS" not in os.environ and "MPLBACKEND" not in os.environ  # caller untouched


def test_a_notebook_without_a_budget_check_is_refused(tmp_path):
    path = tmp_path / "nobudget.ipynb"
    nbformat.write(_notebook(["1 + 1"]), path)
    with pytest.raises(ValueError, match="check_budget"):
        run_notebook(path)
