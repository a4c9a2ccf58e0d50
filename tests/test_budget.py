import pytest

from ragft import budget


def test_within_budget_reports_figures(capsys):
    budget.start_clock()
    report = budget.check_budget(max_seconds=60, max_mb=100_000)
    assert report["seconds"] < 60 and report["peak_mb"] > 10
    assert "runtime" in capsys.readouterr().out


def test_over_budget_raises():
    budget.start_clock()
    with pytest.raises(budget.BudgetExceeded):
        budget.check_budget(max_seconds=60, max_mb=1)  # any Python process peaks above 1 MB


def test_bad_limits_are_rejected():
    budget.start_clock()
    with pytest.raises(ValueError, match="max_seconds"):
        budget.check_budget(max_seconds=0, max_mb=10)
