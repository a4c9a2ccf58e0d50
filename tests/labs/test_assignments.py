"""The graded labs: student notebooks in step with their masters, solutions at full marks, untouched
notebooks at zero, and feedback that names the misconception. Plus the helpers of
ragft.labs.assignments on tiny inputs.
"""

import copy
import shutil

import nbformat
import pytest
from nbformat import v4

from ragft.labs import assignments as labs

LABS = labs.lab_names()
AUDIT = "lab_decision_audit"


# ------------------------------------------------------------------------------------ helpers, tiny inputs


def _write_master(root, folder, name):
    path = root / "solutions" / folder / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(v4.new_notebook(), path)


def test_lab_names_are_the_folders_with_a_master_of_the_same_name(tmp_path):
    _write_master(tmp_path, "lab_b", "lab_b")
    _write_master(tmp_path, "lab_a", "lab_a")
    _write_master(tmp_path, "lab_c", "other_name")
    (tmp_path / "solutions" / "README.md").write_text("not a lab")
    assert labs.lab_names(tmp_path) == ["lab_a", "lab_b"]


def test_lab_names_without_a_solutions_folder_is_empty(tmp_path):
    assert labs.lab_names(tmp_path) == []


def test_master_path_names_the_lab_argument_when_unknown(tmp_path):
    _write_master(tmp_path, "lab_a", "lab_a")
    assert labs.master_path("lab_a", tmp_path).name == "lab_a.ipynb"
    with pytest.raises(ValueError, match=r"lab must be one of \['lab_a'\], got 'lab_z'"):
        labs.master_path("lab_z", tmp_path)


def _otter_like_notebook(random_ids):
    """What otter assign writes: its init cell first (random id), master cells, a check cell (random id)."""
    init_source = '# Initialize Otter\nimport otter\ngrader = otter.Notebook("x.ipynb")'
    init = v4.new_code_cell(init_source, id=random_ids[0])
    title = v4.new_markdown_cell("# Title", id="title")
    answer = v4.new_code_cell("x = ...", id="answer")
    answer.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    check = v4.new_code_cell('grader.check("q1")', id=random_ids[1])
    return v4.new_notebook(cells=[init, title, answer, check])


def test_normalize_gives_the_same_notebook_whatever_ids_otter_drew():
    master_ids = {"title", "answer"}
    first = labs.normalize_student_notebook(_otter_like_notebook(["a1b2c3d4", "e5f6a7b8"]), master_ids)
    second = labs.normalize_student_notebook(_otter_like_notebook(["99999999", "00000000"]), master_ids)
    assert nbformat.writes(first) == nbformat.writes(second)
    ids = [c.id for c in first.cells]
    assert (ids[0], ids[2]) == ("title", "answer")  # master ids kept
    assert first.cells[1].source.startswith("# Initialize Otter")  # below the title
    assert all(c.id.startswith("otter-") for c in (first.cells[1], first.cells[3]))
    assert "execution" not in first.cells[2].metadata


def test_normalize_keeps_ids_unique_for_identical_generated_cells():
    nb = v4.new_notebook(cells=[v4.new_code_cell('grader.check("q1")', id=f"r{i}") for i in range(3)])
    ids = [c.id for c in labs.normalize_student_notebook(copy.deepcopy(nb), set()).cells]
    assert len(set(ids)) == 3


def test_student_files_differ_reports_changed_missing_and_stale_files_but_not_dotfiles(tmp_path):
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    for folder in (fresh, committed):
        (folder / "tests").mkdir(parents=True)
        (folder / "same.ipynb").write_text("{}")
    (fresh / "changed.ipynb").write_text("new")
    (committed / "changed.ipynb").write_text("old")
    (fresh / "tests" / "q1.py").write_text("public test")
    (committed / "stale.py").write_text("no longer generated")
    (committed / ".OTTER_LOG").write_text("a learner's log")
    (committed / ".ipynb_checkpoints").mkdir()
    (committed / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    assert labs.student_files_differ(fresh, committed) == ["changed.ipynb", "stale.py", "tests/q1.py"]
    assert labs.student_files_differ(fresh, fresh) == []


def test_parse_results_sums_points_and_skips_the_public_summary():
    results = {
        "tests": [
            {"name": "Public Tests", "output": "q1 results: All test cases passed!", "status": "passed"},
            {"name": "q1", "score": 2, "max_score": 2, "output": "ok"},
            {"name": "q2", "score": 0.5, "max_score": 3, "output": "q2: tuning for knowledge"},
        ]
    }
    parsed = labs.parse_results(results)
    assert (parsed["total"], parsed["earned"]) == (5.0, 2.5)
    assert parsed["questions"]["q1"]["passed"] and not parsed["questions"]["q2"]["passed"]
    assert parsed["questions"]["q2"]["feedback"] == "q2: tuning for knowledge"
    assert parsed["public_feedback"].startswith("q1 results")


def test_parse_results_without_questions_raises_with_otters_message():
    with pytest.raises(RuntimeError, match="Autograder failed"):
        labs.parse_results({"tests": [{"name": "Autograder Failed", "output": "Autograder failed"}]})


def test_grade_names_the_notebook_argument_when_it_is_not_a_notebook(tmp_path):
    with pytest.raises(ValueError, match="notebook must be an existing .ipynb file"):
        labs.grade(AUDIT, tmp_path / "missing.ipynb")


# ------------------------------------------------------------------------------------ every lab, end to end


def test_every_master_has_a_committed_student_notebook(repo_root):
    assert LABS, "no lab masters found under solutions/"
    for lab in LABS:
        assert (repo_root / "labs" / lab / f"{lab}.ipynb").is_file(), f"run the lab build for {lab}"


@pytest.mark.slow
def test_committed_student_notebooks_match_a_fresh_otter_assign():
    drifted = labs.build_student_notebooks(check=True)
    assert drifted == [], (
        f"{drifted}: labs/ is out of step with solutions/; regenerate with `python -m ragft labs build`"
    )


@pytest.mark.parametrize("lab", LABS)
def test_student_notebook_carries_public_tests_only_and_no_solutions(repo_root, lab):
    nb = nbformat.read(repo_root / "labs" / lab / f"{lab}.ipynb", as_version=4)
    tests = nb.metadata["otter"]["tests"]
    assert tests and all("hidden=False" in src and "hidden=True" not in src for src in tests.values())
    sources = "\n".join(c.source for c in nb.cells)
    for marker in ("BEGIN SOLUTION", "# SOLUTION", "BEGIN TESTS", "ASSIGNMENT CONFIG", "BEGIN QUESTION"):
        assert marker not in sources
    assert all(c.get("outputs", []) == [] for c in nb.cells)


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_solution_scores_full_marks(lab):
    result = labs.grade(lab, labs.autograder(lab)["autograder_notebook"])
    failed = {q: r["feedback"] for q, r in result["questions"].items() if not r["passed"]}
    assert not failed, failed
    assert result["earned"] == result["total"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_untouched_student_notebook_scores_zero_without_crashing(repo_root, lab):
    result = labs.grade(lab, repo_root / "labs" / lab / f"{lab}.ipynb")
    assert result["total"] > 0 and result["earned"] == 0
    assert all(not r["passed"] for r in result["questions"].values())
    assert "still to fill in" in result["public_feedback"]


# ------------------------------------------------------------------------------------ the decision audit


def _replace_in_cell(nb, cell_id, old, new):
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    assert old in cell.source, f"{old!r} not in cell {cell_id}"
    cell.source = cell.source.replace(old, new)


@pytest.mark.slow
@pytest.mark.skipif(AUDIT not in LABS, reason="the decision audit lab is not in this checkout")
def test_wrong_answers_cost_their_points_and_name_the_misconception(tmp_path):
    nb = nbformat.read(labs.autograder(AUDIT)["autograder_notebook"], as_version=4)
    _replace_in_cell(nb, "q1-answer", '"knowledge_change": "monthly"', '"knowledge_change": "stable"')
    _replace_in_cell(nb, "q2-answer", '"npc_dialogue": "hybrid"', '"npc_dialogue": "fine-tuning"')
    _replace_in_cell(nb, "q2-answer", '"memo_formatter": "fine-tuning"', '"memo_formatter": "prompting"')
    _replace_in_cell(nb, "q6-answer", 'interpretation = "B"', 'interpretation = "A"')
    _replace_in_cell(nb, "q4-answer", 'P["retrieved_chunks"] * P["chunk_tokens"]', "0")
    submission = tmp_path / f"{AUDIT}.ipynb"
    nbformat.write(nb, submission)
    result = labs.grade(AUDIT, submission)
    q = result["questions"]
    assert (q["q1"]["earned"], q["q2"]["earned"], q["q4"]["earned"], q["q6"]["earned"]) == (7, 1, 1, 0)
    assert q["q3"]["passed"] and q["q5"]["passed"]
    assert "ignoring update frequency" in q["q1"]["feedback"]
    assert "tuning for knowledge: the tuned model will confabulate details" in q["q2"]["feedback"]
    assert "forgetting context tokens" in q["q4"]["feedback"]
    assert "applying the rule of thumb for tasks" in q["q2"]["feedback"]
    assert "Generalizing from a format to a style" in q["q6"]["feedback"]


@pytest.mark.slow
@pytest.mark.skipif(AUDIT not in LABS, reason="the decision audit lab is not in this checkout")
def test_grader_check_in_the_student_notebook_names_the_misconception(repo_root, tmp_path):
    from nbclient import NotebookClient

    shutil.copy(repo_root / "labs" / AUDIT / f"{AUDIT}.ipynb", tmp_path)  # the learner's .OTTER_LOG goes here
    nb = nbformat.read(tmp_path / f"{AUDIT}.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.get("id") == "q1-answer")
    answer.source = (
        'hr_answers = {"needs_documents": False, "behavior_change": "none", "knowledge_change": "stable", '
        '"labeled_examples": 40, "needs_citations": True, "queries_per_day": 300, '
        '"latency_critical": False, "ml_experience": False}'
    )
    check = nb.cells.index(answer) + 1
    nb.cells = nb.cells[: check + 1]  # run up to grader.check("q1"), as a learner would
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert nb.cells[check].source == 'grader.check("q1")'
    text = "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[check].outputs)
    assert "treating knowledge as behavior" in text
    assert "ignoring update frequency" in text


# ------------------------------------------------------------------------------------ the hybrid lab

HYBRID = "lab_hybrid"


@pytest.mark.slow
@pytest.mark.skipif(HYBRID not in LABS, reason="the hybrid lab is not in this checkout")
def test_hybrid_lab_names_each_misconception_of_a_wrong_submission(tmp_path):
    """Facts put into tuning, no no-answer records, evaluating on trained facts, no re-index: each question
    fails with its misconception named (one training step keeps it short; it does not change the verdicts)."""
    nb = nbformat.read(labs.autograder(HYBRID)["autograder_notebook"], as_version=4)
    _replace_in_cell(nb, "q1-answer", '"upload_default": "index"', '"upload_default": "tuning"')
    _replace_in_cell(nb, "q2-answer", "rng.random() >= 0.2", "True")
    _replace_in_cell(nb, "q3-answer", 'steps = lab.rules()["step_budget"]', "steps = 1")
    _replace_in_cell(nb, "q4-answer", 'eval_facts = facts["dev"]', 'eval_facts = facts["train"][:12]')
    _replace_in_cell(nb, "q5-answer", 'update_version = "5.2"', 'update_version = "4.2"')
    submission = tmp_path / f"{HYBRID}.ipynb"
    nbformat.write(nb, submission)
    result = labs.grade(HYBRID, submission)
    q = result["questions"]
    assert q["q3"]["passed"] and not any(q[name]["passed"] for name in ("q1", "q2", "q4", "q5"))
    assert "Facts in the tuning data (upload_default)" in q["q1"]["feedback"]
    assert "No no-answer examples" in q["q2"]["feedback"]
    assert "evaluating on tuned facts" in q["q4"]["feedback"]
    assert "Likely cause: no no-answer examples in the training data" in q["q4"]["feedback"]
    assert "Not re-indexing after an update" in q["q5"]["feedback"]
