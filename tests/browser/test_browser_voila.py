"""The Voila page of the decision tool in a real browser, served as `make decide-app` serves it
(apps/serve.sh with apps/voila.json): it renders, follows a control, logs no console error, requests
nothing beyond the server, fits a projector's width, and its kernel goes when the page does."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from browser_helpers import REPO, free_port, new_token, start_server, stop_server

pytestmark = pytest.mark.slow

CULL_IDLE_S, CULL_INTERVAL_S = 10, 2  # the room's config culls after 600 s; the test cannot wait that long


@pytest.fixture(scope="module")
def voila(artifacts_dir):
    """The decision tool under Voila, started by apps/serve.sh, with culling shortened for the test."""
    port, token = free_port(), new_token()
    argv = [
        "bash",
        str(REPO / "apps" / "serve.sh"),
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        f"--Voila.token={token}",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}",
    ]
    os.environ.setdefault("VOILA", str(Path(sys.executable).with_name("voila")))  # the test's own venv
    server = start_server(argv, port, token, artifacts_dir / "voila-server.log", cwd=REPO)
    yield server
    stop_server(server)


def _open(page, voila) -> str:
    """Load the page, wait for the first recommendation; returns the page's kernel id."""
    page.page.goto(f"{voila.url}/?token={voila.token}", timeout=120_000)
    heading = page.page.locator(".ragft-method")
    heading.wait_for(timeout=120_000)
    assert heading.inner_text() == "Recommendation: PROMPTING"  # every answer at its default
    channels = [url for url in page.websockets if "/api/kernels/" in url]
    assert channels, f"no kernel websocket opened; websockets: {page.websockets}"
    return channels[0].split("/api/kernels/")[1].split("/")[0]


def _wait_gone(voila, kernel_id: str, seconds: float) -> float:
    """Seconds until GET /api/kernels/<id> answers 404; fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if voila.api(f"/api/kernels/{kernel_id}")[0] == 404:
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"kernel {kernel_id} still running {seconds:.0f} s after its page closed")


def test_the_page_renders_reacts_and_stays_local(page, voila):
    _open(page, voila)
    p = page.page
    labels = p.locator(".ragft-question")
    assert labels.count() == 8
    q2 = json.loads((REPO / "src/ragft/decision/rules/decision.json").read_text())["questions"][1]
    assert labels.nth(3).inner_text() == f"Q2. {q2['text']}"  # grouped: Q1 Q3 Q5 | Q2 Q4 | Q6 Q7 Q8
    cut = p.evaluate(
        "() => [...document.querySelectorAll('.ragft-question')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.slice(0, 3))"
    )
    assert cut == [], f"labels cut off: {cut}"
    assert [h.split(":")[0] for h in p.locator(".ragft-group").all_inner_texts()] == [
        "Knowledge",
        "Behavior",
        "Limits",
    ]

    p.locator(".ragft-answer-Q1 input[type=checkbox]").check()  # the documents question: yes
    p.locator(".ragft-method", has_text="Recommendation: RAG").wait_for(timeout=30_000)
    assert p.locator(".ragft-reasons li").first.inner_text().startswith("Q1: The answers depend")
    p.locator(".ragft-answer-Q2 select").select_option("task")
    p.locator(".ragft-reasons li", has_text="Q2: The output must behave differently").wait_for(timeout=30_000)

    overflow = p.evaluate(
        """() => {
            const out = [];
            for (const app of document.querySelectorAll('.ragft-decision-app, .ragft-cost-app')) {
                const right = app.getBoundingClientRect().right + 1;
                for (const e of app.querySelectorAll('table, img, .ragft-recommendation'))
                    if (e.getBoundingClientRect().right > right) out.push(e.tagName);
            }
            if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
                out.push('page scrolls sideways');
            return out;
        }"""
    )
    assert overflow == [], f"wider than the output area: {overflow}"
    readout = p.locator(".ragft-volume .widget-readout")
    assert readout.inner_text() == "1,000"  # the log slider's readout
    assert page.errors == [], f"console errors: {page.errors}"
    assert page.external_requests() == [], f"requests beyond the server: {page.external_requests()}"
    voila.notes["console warnings"] = len(page.warnings)


def test_the_kernel_is_shut_down_when_the_page_closes(page, voila):
    kernel_id = _open(page, voila)
    assert voila.api(f"/api/kernels/{kernel_id}")[0] == 200
    page.page.close(run_before_unload=True)  # as a tab closing: Voila's unload handler shuts it down
    seconds = _wait_gone(voila, kernel_id, seconds=20)
    log = voila.log.read_text()
    assert f"Kernel shutdown: {kernel_id}" in log
    assert f"({kernel_id}) with 0 connections" not in log, "the culler took it: the unload shutdown failed"
    print(f"kernel {kernel_id} shut down {seconds:.1f} s after its page closed")


def test_the_kernel_of_an_abandoned_page_is_culled_when_idle(page, voila):
    kernel_id = _open(page, voila)
    assert voila.api(f"/api/kernels/{kernel_id}")[0] == 200
    page.page.close(run_before_unload=False)  # no unload handler: a crashed tab or a dropped network
    seconds = _wait_gone(voila, kernel_id, seconds=CULL_IDLE_S + 6 * CULL_INTERVAL_S + 10)
    print(f"kernel {kernel_id} culled {seconds:.1f} s after its page went (idle timeout {CULL_IDLE_S} s)")
