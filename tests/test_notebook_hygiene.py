"""What a learner reads on the web: every committed notebook shows figures as images and speaks to learners.

These read the committed JSON (no kernel), so they are quick; nbval separately checks that a fresh run
reproduces the outputs.
"""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    [*REPO.glob("notebooks/*.ipynb"), *REPO.glob("solutions/*/*.ipynb"), *REPO.glob("labs/*/*.ipynb")]
    + [*REPO.glob("apps/*.ipynb")]
)
# Words about how the course was made, which mean nothing to a learner.
INTERNAL = re.compile(
    r"\bthe brief\b|\bbrief's\b|closing note|this checkout|in your checkout|acceptance target"
    r"|\btargets?:.*\b(met|MISSED)\b|an earlier version of|not in this checkout",
    re.IGNORECASE,
)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def figures_as_text(path: Path, root: Path = REPO) -> list[str]:
    """Outputs that show a matplotlib figure as its text repr instead of an image."""
    found = []
    for number, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", output.get("text", "")))
            if "<Figure size" in text and "image/png" not in data and "image/svg+xml" not in data:
                found.append(f"{path.relative_to(root)} cell {number}: {text.strip()[:60]}")
    return found


def internal_words(path: Path, root: Path = REPO) -> list[str]:
    """Learner-facing text (markdown, code, printed output) that talks about how the course was made."""
    found = []
    for number, cell in enumerate(_cells(path)):
        texts = ["".join(cell["source"])]
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.append("".join(output.get("data", {}).get("text/markdown", "")))
        for text in texts:
            for match in INTERNAL.finditer(text):
                found.append(f"{path.relative_to(root)} cell {number}: ...{match.group(0)}...")
    return found


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_figures_are_stored_as_images(path):
    assert not figures_as_text(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_learner_text_has_no_words_about_how_the_course_was_made(path):
    assert not internal_words(path)


LESSONS = sorted(REPO.glob("notebooks/*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_ends_with_a_questionnaire_with_answers(path):
    last = "".join(_cells(path)[-1]["source"])
    assert last.startswith("## Check your understanding"), f"{path.name} must end with its questionnaire"
    questions = re.findall(r"^\d+\. ", last, re.MULTILINE)
    answers = last.count("<details><summary>Answer</summary>")
    assert len(questions) >= 5 and answers == len(questions), (len(questions), answers)


def test_the_checks_catch_a_reintroduced_defect(tmp_path):
    bad = tmp_path / "bad.ipynb"
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["The brief suggests 256 tokens."]},
        {
            "cell_type": "code",
            "metadata": {},
            "source": ["display(fig)"],
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"text/plain": ["<Figure size 1000x400 with 2 Axes>"]},
                },
                {"output_type": "stream", "name": "stdout", "text": ["targets: tuned >= 90%: met (91%)\n"]},
            ],
        },
    ]
    bad.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert len(figures_as_text(bad, root=tmp_path)) == 1
    hits = [hit.split("...")[1] for hit in internal_words(bad, root=tmp_path)]
    assert hits == ["The brief", "targets: tuned >= 90%: met"]
