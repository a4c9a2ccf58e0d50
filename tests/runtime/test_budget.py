import pytest

from ragft.runtime import budget


def test_within_budget_reports_figures(capsys):
    budget.start_clock()
    report = budget.check_budget(max_seconds=60, max_mb=100_000)
    assert report["seconds"] < 60 and report["peak_mb"] > 10
    assert "runtime" in capsys.readouterr().out


def test_over_budget_raises_under_the_test_command(monkeypatch):
    monkeypatch.setenv(budget.STRICT_ENV, "1")
    budget.start_clock()
    with pytest.raises(budget.BudgetExceeded, match="peak MB"):
        budget.check_budget(max_seconds=60, max_mb=1)  # any Python process peaks above 1 MB


def test_over_budget_in_a_learners_session_prints_a_note(monkeypatch, capsys):
    monkeypatch.delenv(budget.STRICT_ENV, raising=False)
    budget.start_clock()
    report = budget.check_budget(max_seconds=60, max_mb=1)
    out = capsys.readouterr().out
    assert report["over_budget"] and "Note: this run went over the notebook's budget (peak MB" in out
    with pytest.raises(budget.BudgetExceeded):
        budget.check_budget(max_seconds=60, max_mb=1, strict=True)  # strict can be asked for


def test_within_budget_prints_no_note(monkeypatch, capsys):
    monkeypatch.delenv(budget.STRICT_ENV, raising=False)
    budget.start_clock()
    assert not budget.check_budget(max_seconds=60, max_mb=100_000)["over_budget"]
    assert "Note:" not in capsys.readouterr().out


def test_bad_limits_are_rejected():
    budget.start_clock()
    with pytest.raises(ValueError, match="max_seconds"):
        budget.check_budget(max_seconds=0, max_mb=10)


def test_a_child_does_not_inherit_its_parents_peak():
    """A kernel started by a big parent (pytest after loading models) must report its own peak."""
    import subprocess
    import sys

    ballast = bytearray(400 * 2**20)  # the parent now peaks 400 MB higher
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page so it is resident
    child = subprocess.run(
        [sys.executable, "-c", "from ragft.runtime.budget import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert budget.peak_rss_mb() > 400
    assert float(child.stdout) < 300, child.stdout
    del ballast


def test_cpu_time_counts_work_not_waiting():
    import time

    budget.start_clock()
    time.sleep(0.3)
    assert budget.cpu_seconds() < 0.2 <= budget.elapsed_seconds()
    before = budget.cpu_seconds()
    sum(i * i for i in range(2_000_000))
    assert budget.cpu_seconds() > before
    assert budget.check_budget(max_seconds=60, max_mb=100_000)["wall_seconds"] >= 0.3
