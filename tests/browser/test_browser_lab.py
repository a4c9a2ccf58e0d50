"""JupyterLab runs a small copy of notebook 08's decision tool in a real browser: the widget follows a
dropdown, and the two highlighted comparison tables on the page keep their own highlighted rows."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from browser_helpers import free_port, new_token, start_server, stop_server

from ragft.decision.framework import deciding_questions, recommend
from ragft.decision.tables import comparison_table, comparison_uuid, worked_cases

pytestmark = pytest.mark.slow

# Notebook 08's widget cell and its static comparison table, in a notebook of their own.
CELLS = [
    "from ragft.decision.framework import recommend\n"
    "from ragft.decision.tables import highlighted_comparison, worked_cases\n"
    "from ragft.widgets import decision_views as views\n"
    "cases = worked_cases()\n"
    'app = views.DecisionApp(cases["Legal research assistant"]["answers"])\n'
    "app.widget",
    'highlighted_comparison(recommend(cases["Product-catalog support bot"]["answers"]))',
]
SHADE = "rgb(253, 233, 182)"  # tables.HIGHLIGHT, #fde9b6, as the browser reports it


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": s,
            }
            for i, s in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(artifacts_dir, tmp_path_factory):
    """JupyterLab on a folder holding the small notebook; its settings and workspaces kept there too."""
    root = tmp_path_factory.mktemp("lab")
    (root / "decision.ipynb").write_text(json.dumps(_notebook(CELLS)))
    port, token = free_port(), new_token()
    argv = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={root / '.settings'}",
        f"--LabApp.workspaces_dir={root / '.workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ] + (["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])
    server = start_server(argv, port, token, artifacts_dir / "lab-server.log", cwd=root)
    yield server
    stop_server(server)


def _accept_dialogs(p, tries: int = 5) -> None:
    """Accept what Lab asks before a run (at times which kernel to use: the notebook's own one). Lab may ask
    again right after an answer, or drop a click made while the dialog is still opening, so this accepts until
    no dialog is left."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    dialog = p.locator(".jp-Dialog")
    for _try in range(tries):
        if not dialog.count():
            return
        dialog.first.locator("button.jp-mod-accept").click()
        try:
            dialog.first.wait_for(state="detached", timeout=10_000)
        except PlaywrightTimeout:
            continue
    if dialog.count():
        pytest.fail(f"Lab still shows a dialog after {tries} answers: {dialog.first.inner_text()!r}")


def _run_all(p, attempts: int = 3) -> None:
    """Run > Run All Cells until the widget shows a recommendation: a run-all clicked while the kernel
    connection is still settling (or while Lab asks which kernel to use) is dropped, so it is tried again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _attempt in range(attempts):
        _accept_dialogs(p)
        p.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        p.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        try:
            p.locator(".ragft-method").first.wait_for(timeout=45_000)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail(f"Run All Cells showed no recommendation in {attempts} tries")


def _shaded_rows(page, uuid: str) -> set[str]:
    """The row labels of the table with this CSS id whose cells the browser paints highlighted."""
    return set(
        page.evaluate(
            """([uuid, shade]) => [...document.querySelectorAll(`#T_${uuid} tbody tr`)]
                .filter(tr => getComputedStyle(tr.querySelector('td')).backgroundColor === shade)
                .map(tr => tr.querySelector('th').innerText.trim())""",
            [uuid, SHADE],
        )
    )


def _expected_rows(rec) -> set[str]:
    decided = set(deciding_questions(rec))
    return {d for d, qs in comparison_table()["questions"].items() if decided & set(qs.split(", "))}


def test_lab_runs_the_decision_tool_and_the_widget_follows_a_dropdown(page, lab):
    p = page.page
    p.goto(f"{lab.url}/lab/tree/decision.ipynb?reset&token={lab.token}", timeout=120_000)
    p.locator(".jp-Notebook").wait_for(timeout=120_000)
    p.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
    _run_all(p)
    heading = p.locator(".ragft-method")
    assert heading.count() == 1 and heading.inner_text() == "Recommendation: HYBRID"

    cases = worked_cases()
    legal = recommend(cases["Legal research assistant"]["answers"])
    catalog = recommend(cases["Product-catalog support bot"]["answers"])
    p.locator(f"#T_{comparison_uuid(catalog)}").wait_for(timeout=60_000)
    assert _shaded_rows(p, comparison_uuid(legal)) == _expected_rows(legal)  # the widget's table
    assert _shaded_rows(p, comparison_uuid(catalog)) == _expected_rows(catalog)  # the static table

    p.locator(".ragft-answer-Q2 select").select_option("none")  # Q2: the base model's behavior will do
    p.locator(".ragft-method", has_text="Recommendation: RAG").wait_for(timeout=60_000)
    changed = recommend({**cases["Legal research assistant"]["answers"], "behavior_change": "none"})
    assert changed.method == "rag"
    assert _shaded_rows(p, comparison_uuid(changed)) == _expected_rows(changed)
    assert _shaded_rows(p, comparison_uuid(catalog)) == _expected_rows(catalog)
    assert page.errors == [] or all("ipylab" in e or "jupytext" in e for e in page.errors), page.errors
