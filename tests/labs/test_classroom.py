"""Grading a class: misconceptions counted from the feedback, one CSV row and feedback file each."""

import csv

import nbformat
import pytest

from ragft.labs import assignments as labs
from ragft.labs.classroom import format_summary, grade_folder, misconception, submissions

AUDIT = "lab_decision_audit"


def test_misconception_is_the_first_sentence_after_expected():
    message = (
        "Q1 answer needs_documents is wrong: the message below names the misconception.\n"
        "needs_documents=False, expected True: treating knowledge as behavior, i.e. tuning for knowledge. "
        "The answers come from a handbook."
    )
    assert misconception(message) == "treating knowledge as behavior, i.e. tuning for knowledge"
    assert misconception("Shape check.\nStill to fill in (replace the ...): ['a']") is None
    assert misconception("Q1 is wrong.\nnot defined: hr_answers") is None
    assert misconception("only one line") is None


def test_submissions_skip_checkpoints_and_sort(tmp_path):
    for rel in ("b.ipynb", "a/x.ipynb", ".ipynb_checkpoints/b-checkpoint.ipynb", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    assert [p.relative_to(tmp_path).as_posix() for p in submissions(tmp_path)] == ["a/x.ipynb", "b.ipynb"]


def test_grade_folder_names_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="folder must be an existing folder"):
        grade_folder(AUDIT, tmp_path / "missing", tmp_path / "g.csv")
    with pytest.raises(ValueError, match="out must be a .csv file"):
        grade_folder(AUDIT, tmp_path, tmp_path / "g.txt")
    with pytest.raises(ValueError, match="holds no .ipynb file"):
        grade_folder(AUDIT, tmp_path, tmp_path / "g.csv")


WRONG_Q1 = (
    'hr_answers = {"needs_documents": False, "behavior_change": False, "knowledge_change": "monthly", '
    '"labeled_examples": 40, "needs_citations": True, "queries_per_day": 300, '
    '"latency_critical": False, "ml_experience": False}'
)


@pytest.mark.slow
@pytest.mark.skipif(AUDIT not in labs.lab_names(), reason="no decision audit lab here")
def test_grade_folder_writes_rows_feedback_and_counts_misconceptions(tmp_path, repo_root):
    folder = tmp_path / "class"
    folder.mkdir()
    nb = nbformat.read(repo_root / "labs" / AUDIT / f"{AUDIT}.ipynb", as_version=4)
    next(c for c in nb.cells if c.get("id") == "q1-answer").source = WRONG_Q1
    for student in ("ann", "bob"):
        nbformat.write(nb, folder / f"{student}.ipynb")
    other = next(lab for lab in labs.lab_names() if lab != AUDIT)
    (folder / "cid.ipynb").write_text((repo_root / "labs" / other / f"{other}.ipynb").read_text())
    report = grade_folder(AUDIT, folder, tmp_path / "out" / "grades.csv", timeout=120)
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert [(r["file"], r["status"]) for r in rows] == [
        ("ann.ipynb", "ok"),
        ("bob.ipynb", "ok"),
        ("cid.ipynb", "error"),
    ]
    assert list(rows[0])[:4] == ["file", "total", "possible", "q1"]
    assert float(rows[0]["q1"]) == float(rows[1]["q1"]) > 0 and float(rows[0]["total"]) < float(
        rows[0]["possible"]
    )
    assert (
        "for lab_decision_audit" not in rows[2]["message"] and f"submission for {other}" in rows[2]["message"]
    )
    feedback = (tmp_path / "out" / "feedback" / "ann.txt").read_text()
    assert "treating knowledge as behavior" in feedback
    assert (tmp_path / "out" / "feedback" / "ann.executed.ipynb").is_file()
    top = report["misconceptions"][0]
    assert top[1:] == ("q1", 2) and top[0].startswith("treating knowledge as behavior")
    assert "2 ok" in format_summary(report) and "1 error" in format_summary(report)
