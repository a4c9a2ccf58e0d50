"""Grading: hidden tests read from the master, answers scored in the parent, and the measured attacks on
the old grader (otter run in the submission's process) scoring nothing. Helpers on tiny inputs first."""

import os
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from ragft.labs import assignments as labs
from ragft.labs import grading
from ragft.labs.sandbox import Opaque, decode, encode, run_test

AUDIT = "lab_decision_audit"
needs_audit = pytest.mark.skipif(AUDIT not in labs.lab_names(), reason="no decision audit lab here")

# ------------------------------------------------------------------------------------ helpers, tiny inputs


def test_encode_decode_round_trips_plain_data_and_only_plain_data():
    value = {"a": [1, 2.5, True, None, ...], (1, "x"): {3, 4}, "f": frozenset({"y"}), "n": float("inf")}
    assert decode(encode(value)) == value
    assert type(decode(encode((1, 2)))) is tuple
    for opaque in (len, object(), type("Sub", (dict,), {})()):
        with pytest.raises(Opaque):
            encode(opaque)


def test_run_test_reports_the_assertion_message_or_the_error():
    source = "def test_x(x):\n    assert x > 1, 'too small'"
    test = {"name": "t", "function": "test_x", "args": ["x"], "source": source}
    assert run_test(test, {"x": 2}) == {"passed": True, "message": ""}
    assert run_test(test, {"x": 0}) == {"passed": False, "message": "too small"}
    assert run_test(test, {"x": "a"})["message"].startswith("TypeError")


def _master(cells):
    return nbformat.writes(v4.new_notebook(cells=cells))


def test_hidden_tests_reads_questions_points_and_strips_the_masters_call():
    test = (
        '""" # BEGIN TEST CONFIG\nhidden: true\nfailure_message: "wrong"\n""" # END TEST CONFIG\n'
        "def test_q1(answer):\n    assert answer == 1\n\n\ntest_q1(answer)"
    )
    public = '""" # BEGIN TEST CONFIG\npoints: 0\n""" # END TEST CONFIG\ndef test_shape(answer):\n    pass'
    cells = [
        v4.new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 4"),
        v4.new_code_cell("answer = 1"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell(public),
        v4.new_code_cell(test),
        v4.new_code_cell(test.replace("test_q1", "test_q1b")),
        v4.new_raw_cell("# END TESTS"),
    ]
    q = grading.hidden_tests(_master(cells))["q1"]["tests"]
    assert [(t["name"], t["points"], t["hidden"], t["args"]) for t in q] == [
        ("test_shape", 0.0, False, ["answer"]),
        ("test_q1", 2.0, True, ["answer"]),
        ("test_q1b", 2.0, True, ["answer"]),
    ]
    assert "\ntest_q1(answer)" not in q[1]["source"] and q[1]["failure"] == "wrong"


def test_grade_names_the_timeout_argument(repo_root):
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds, got 0"):
        grading.grade(AUDIT, repo_root / "labs" / AUDIT / f"{AUDIT}.ipynb", timeout=0)


@needs_audit
def test_grading_a_master_or_another_labs_notebook_is_one_clear_error(repo_root):
    student = repo_root / "labs" / AUDIT / f"{AUDIT}.ipynb"
    other = next(lab for lab in labs.lab_names() if lab != AUDIT)
    with pytest.raises(ValueError, match=rf"is a submission for {AUDIT}, not for lab '{other}'; lab must be"):
        grading.grade(other, student)
    with pytest.raises(ValueError, match="is the master of a lab .solutions/., not a submission"):
        grading.grade(AUDIT, labs.master_path(AUDIT))


# ------------------------------------------------------------------------------------ attacks, end to end


def submission(tmp_path, repo_root, name="sub", **cells):
    """The untouched student notebook with some cells' sources replaced (cell id -> source)."""
    nb = nbformat.read(repo_root / "labs" / AUDIT / f"{AUDIT}.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cells.get(cell.get("id", "").replace("-", "_"), cell.source)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


PATCH_OTTER = """
import otter.test_files.exception_test as et
from otter.test_files.abstract_test import TestCaseResult

def run(self, global_environment):
    self.test_case_results = [TestCaseResult(test_case=t, message="ok", passed=True) for t in self.test_cases]

et.ExceptionTestFile.run = run
"""
REWRITE_TESTS = """
import glob, re
for f in glob.glob("tests/q*.py"):
    text = open(f).read()
    open(f, "w").write(re.sub(r"\\bassert\\b", "assert True or", text))
"""
POISON_CACHE = """
import re, shutil, zipfile
from ragft.runtime.paths import cache_dir
for z in (cache_dir() / "labs").glob("lab_decision_audit-*/autograder.zip"):
    files = {n: zipfile.ZipFile(z).read(n) for n in zipfile.ZipFile(z).namelist()}
    with zipfile.ZipFile(z, "w") as out:
        for n, data in files.items():
            if n.startswith("tests/"):
                data = re.sub(rb"\\bassert\\b", b"assert True or", data)
            out.writestr(n, data)
"""


@pytest.mark.slow
@needs_audit
@pytest.mark.parametrize("attack", [PATCH_OTTER, REWRITE_TESTS], ids=["patch-otter", "rewrite-tests"])
def test_attacks_on_the_test_runner_score_zero(tmp_path, repo_root, attack):
    result = grading.grade(AUDIT, submission(tmp_path, repo_root, q1_answer=attack))
    assert result["status"] == "ok" and result["total"] > 0
    assert result["earned"] == 0 and result["in_process_points"] == 0


@pytest.mark.slow
@needs_audit
def test_poisoning_the_cached_autograder_scores_nothing_for_anyone(tmp_path, repo_root, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    zip_path = labs.autograder(AUDIT)["autograder_zip"]
    clean = zip_path.read_bytes()
    assert grading.grade(AUDIT, submission(tmp_path, repo_root, "a", q1_answer=POISON_CACHE))["earned"] == 0
    assert zip_path.read_bytes() != clean  # the attack did rewrite the cache ...
    assert grading.grade(AUDIT, submission(tmp_path, repo_root, "b"))["earned"] == 0  # ... to no effect
    rebuilt = labs.autograder(AUDIT)["autograder_zip"]  # and the digest check rebuilds it
    assert zipfile.ZipFile(rebuilt).read("tests/q1.py") == zipfile.ZipFile(_saved(tmp_path, clean)).read(
        "tests/q1.py"
    )


def _saved(tmp_path, data):
    path = tmp_path / "clean.zip"
    path.write_bytes(data)
    return path


def _state(pid):
    stat = Path(f"/proc/{pid}/stat")
    return stat.read_text().split(")")[-1].split()[0] if stat.is_file() else "gone"


@pytest.mark.slow
@needs_audit
def test_an_endless_cell_times_out_names_the_cell_and_kills_its_group(tmp_path, repo_root, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    pid_file = tmp_path / "pid"
    start = (
        f"import subprocess\nopen({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '300']).pid))"
    )
    loop = start + "\nwhile True:\n    pass"
    result = grading.grade(AUDIT, submission(tmp_path, repo_root, q1_answer=loop), timeout=10)
    assert result["status"] == "timeout" and result["earned"] == 0 and result["seconds"] < 30
    cells = nbformat.read(tmp_path / "sub.ipynb", 4).cells
    index = next(i for i, c in enumerate(cells) if c.get("id") == "q1-answer")
    assert result["message"] == f"timed out after 10 s while running cell {index} (id q1-answer)"
    assert result["message"] in result["questions"]["q1"]["feedback"]
    assert _state(int(pid_file.read_text())) in ("gone", "Z")  # the sleep it started is dead too
    assert os.listdir(tmp_path / "tmp") == []  # no temporary files left


@pytest.mark.slow
@needs_audit
def test_a_failing_cell_shows_its_own_error_not_downstream_nones(tmp_path, repo_root):
    path = submission(
        tmp_path,
        repo_root,
        q1_answer='raise ValueError("my mistake")\nhr_answers = {}',
        q2_answer='methods = {"hr_policy": "rag",',
    )
    result = grading.grade(AUDIT, path, keep=tmp_path / "executed.ipynb")
    q1, q2 = result["questions"]["q1"]["feedback"], result["questions"]["q2"]["feedback"]
    assert "not defined: hr_answers" in q1 and "(id q1-answer) raised ValueError: my mistake" in q1
    assert "not defined: methods" in q2 and "(id q2-answer) raised SyntaxError" in q2
    assert "None" not in q1 + q2 and result["earned"] == 0
    executed = nbformat.read(tmp_path / "executed.ipynb", 4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ValueError", "SyntaxError"]
    assert "my mistake" in "".join(errors[0].traceback)


LYING_DICT = """
class Answers(dict):
    def get(self, key, default=None):
        return {"needs_documents": True, "knowledge_change": "monthly"}.get(key, False)

hr_answers = Answers()
"""


@pytest.mark.slow
@needs_audit
def test_an_object_posing_as_a_data_answer_scores_nothing(tmp_path, repo_root):
    result = grading.grade(AUDIT, submission(tmp_path, repo_root, q1_answer=LYING_DICT))
    q1 = result["questions"]["q1"]
    assert q1["earned"] == 0 and result["in_process_points"] == 0
    assert "must be plain data (dict, list, str, number...): hr_answers (Answers)" in q1["feedback"]
