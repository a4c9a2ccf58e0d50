from ragft.course import doctor


def test_a_failing_check_is_reported_not_raised():
    check = doctor._run("boom", lambda: 1 / 0)
    assert not check.ok and "ZeroDivisionError" in check.detail


def test_report_lines_and_verdict():
    checks = [doctor.Check("a", True, "fine"), doctor.Check("b", False, "broken")]
    report = doctor.format_report(checks).splitlines()
    assert report[0].startswith("[  OK] a") and report[1].startswith("[FAIL] b")
    assert report[-1] == "1 check(s) failed: b"


def test_python_and_offline_checks_pass_here():
    assert doctor.check_python().startswith("3.11")
    assert "HF_HUB_OFFLINE=1" in doctor.check_offline()


def test_offline_check_fails_when_the_hub_is_enabled(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not doctor._run("offline", doctor.check_offline).ok
