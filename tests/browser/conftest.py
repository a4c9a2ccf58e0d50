"""Real-browser tests: a system Chromium driven by playwright's sync API (no playwright browser download).

The tests skip, naming what to install, when Chromium or playwright is missing. Servers start once per
module on free ports, bound to 127.0.0.1, with a random token the browser passes in the URL. On a failed
test the page's screenshot and HTML are saved under a temporary folder named in the failure report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from browser_helpers import INSTALL_HINT, Server, Watched, chromium_path, watch


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where failed tests leave their screenshots, pages and server logs ($RAGFT_BROWSER_ARTIFACTS or
    a fresh temporary folder)."""
    root = os.environ.get("RAGFT_BROWSER_ARTIFACTS")
    if root:
        Path(root).mkdir(parents=True, exist_ok=True)
        return Path(root)
    return Path(tempfile.mkdtemp(prefix="ragft-browser-"))


@pytest.fixture(scope="module")
def browser():
    """A headless system Chromium for the module's tests (skips, naming what to install, without one)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is missing: pip install -e '.[test]' installs it"
    )
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"no Chromium found for the browser tests; {INSTALL_HINT}")
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request, artifacts_dir):
    """A fresh page (1280x900, a projector's width) in its own browser context; closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    new_page.set_default_timeout(60_000)
    yield watch(new_page)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, save the page's screenshot and HTML and name them in the report."""
    report = yield
    watched = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and isinstance(watched, Watched):
        folder = item.funcargs["artifacts_dir"] / item.name
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        try:
            if not watched.page.is_closed():
                watched.page.screenshot(path=str(folder / "page.png"), full_page=True)
                (folder / "page.html").write_text(watched.page.content())
                lines.append(f"screenshot and page: {folder}/page.png, {folder}/page.html")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            lines.append(f"no screenshot ({exc})")
        lines.append(f"console errors: {watched.errors}")
        lines += [f"server log: {arg.log}" for arg in item.funcargs.values() if isinstance(arg, Server)]
        report.sections.append(("browser artifacts", "\n".join(lines)))
    return report
