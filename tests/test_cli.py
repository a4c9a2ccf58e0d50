import json
import subprocess
import sys

import pytest

from ragft.cli import build_parser, main


def test_every_command_parses():
    parser = build_parser()
    for argv in (
        ["doctor", "--json"],
        ["models", "prepare"],
        ["data", "build", "--out", "x"],
        ["data", "verify"],
        ["data", "fetch"],
        ["notebook", "run", "a.ipynb", "--threads", "1"],
    ):
        assert callable(parser.parse_args(argv).func)


def test_clear_error_instead_of_a_traceback(capsys, tmp_path):
    assert main(["notebook", "run", str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_data_verify_passes_on_the_committed_data():
    result = subprocess.run([sys.executable, "-m", "ragft", "data", "verify"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


@pytest.mark.slow
def test_doctor_passes_and_prints_ok_lines():
    result = subprocess.run(
        [sys.executable, "-m", "ragft", "doctor"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 8 and all(line.startswith("[  OK]") for line in lines)


def test_decide_with_an_answers_file(tmp_path, capsys):
    path = tmp_path / "answers.json"
    path.write_text(
        json.dumps(
            {
                "needs_documents": True,
                "behavior_change": "task",
                "knowledge_change": "weekly",
                "labeled_examples": 2000,
                "needs_citations": True,
                "queries_per_day": 500,
                "latency_critical": False,
                "ml_experience": True,
            }
        )
    )
    assert main(["decide", "--answers", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "hybrid" and out["reasons"] and out["flips"]


def test_decide_reports_bad_answers_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "answers.json"
    path.write_text('{"needs_documents": "maybe"}')
    assert main(["decide", "--answers", str(path)]) == 2
    assert "missing" in capsys.readouterr().err


def test_decide_asks_in_the_terminal():
    replies = "yes\nnone\nweekly\n0\nyes\n3000\nno\nno\n"
    result = subprocess.run(
        [sys.executable, "-m", "ragft", "decide"], input=replies, capture_output=True, text=True
    )
    assert result.returncode == 0 and "Recommendation: RAG." in result.stdout
    cut_short = subprocess.run(
        [sys.executable, "-m", "ragft", "decide"], input="yes\n", capture_output=True, text=True
    )
    assert cut_short.returncode == 2 and "--answers" in cut_short.stderr


@pytest.mark.slow
def test_doctor_fails_loudly_on_a_corrupted_data_file(tmp_path, repo_root):
    import os
    import shutil

    data = tmp_path / "data"
    shutil.copytree(repo_root / "data", data)
    target = data / "eval" / "faq" / "queries.jsonl"
    target.write_bytes(target.read_bytes().replace(b"Django", b"Djang0", 1))
    env = {**os.environ, "RAGFT_DATA_DIR": str(data)}
    result = subprocess.run(
        [sys.executable, "-m", "ragft", "doctor", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 1
    assert "[FAIL] data" in result.stdout and "eval/faq/queries.jsonl" in result.stdout


def test_experiment_rag_eval_passes_only_the_options_given(monkeypatch):
    from ragft.rag import rag_eval

    seen = []
    monkeypatch.setattr(rag_eval, "main", lambda argv: seen.append(argv) or 0)
    assert main(["experiment", "rag-eval", "--n-questions", "4", "--corpus", "mini", "--json"]) == 0
    assert seen == [["--n-questions=4", "--corpus=mini", "--json"]]


# ------------------------------------------------------------------------------------ labs grade / release


def test_labs_grade_and_release_parse():
    parser = build_parser()
    args = parser.parse_args(["labs", "grade", "lab_x", "subs", "--out", "g.csv", "--timeout", "60"])
    assert (args.notebook, args.out, args.timeout) == ("subs", "g.csv", 60)
    assert parser.parse_args(["labs", "grade", "lab_x", "a.ipynb"]).timeout == 300
    assert parser.parse_args(["labs", "release", "out"]).out_dir == "out"


def test_labs_grade_of_a_master_or_another_lab_is_one_line_and_exit_2(capsys, repo_root):
    from ragft.labs.assignments import lab_names

    first, second = lab_names()[:2]
    for argv in (
        ["labs", "grade", second, str(repo_root / "labs" / first / f"{first}.ipynb")],
        ["labs", "grade", first, str(repo_root / "solutions" / first / f"{first}.ipynb")],
        ["labs", "grade", "lab_nope", str(repo_root / "labs" / first / f"{first}.ipynb")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_labs_grade_of_a_folder_needs_out(capsys, tmp_path):
    assert main(["labs", "grade", "lab_decision_audit", str(tmp_path)]) == 2
    assert "--out is required" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ bench


def test_bench_passes_its_command_and_prints_json_or_a_summary(monkeypatch, capsys):
    from ragft.retrieval import retrieval_bench

    seen = []
    report = {"speed": {"int8": {"chunks_per_cpu_s": 30.0, "cosine_to_fp32_mean": 0.98}}}
    monkeypatch.setattr(retrieval_bench, "run", lambda command, save: seen.append((command, save)) or report)
    assert main(["bench", "retrieval", "--json", "--save"]) == 0
    assert json.loads(capsys.readouterr().out) == report
    assert main(["bench", "defaults"]) == 0
    assert "int8: 30.0 chunks per CPU-second" in capsys.readouterr().out
    assert seen == [("retrieval", True), ("defaults", False)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "everything"])
    for command in retrieval_bench.COMMANDS:  # the parser offers what run() accepts
        assert build_parser().parse_args(["bench", command]).bench_command == command
