"""The decision tool as a standalone Voilà page: started on localhost, fetched, checked."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "apps" / "decision_tool.ipynb"


def _fetch(url: str, seconds: float) -> str | None:
    """The page, or None if it is not complete within `seconds` (Voila streams it, with heartbeats)."""
    import concurrent.futures

    def read() -> str:
        with urllib.request.urlopen(url, timeout=seconds) as response:
            assert response.status == 200
            return response.read().decode()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(read).result(timeout=seconds)
    except (OSError, concurrent.futures.TimeoutError):
        return None
    finally:
        pool.shutdown(wait=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_voila_serves_the_decision_tool():
    port = _free_port()
    voila = Path(sys.executable).with_name("voila")
    server = subprocess.Popen(
        [str(voila), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", str(APP)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RAGFT_THREADS": "1"},
    )
    try:
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and page is None:
            page = _fetch(f"http://127.0.0.1:{port}/", seconds=30)  # a page takes ~2 s once Voila listens
            if page is None:
                time.sleep(1)
        assert page is not None, "voila did not serve a complete page within 60 s"
        assert "A decision tool" in page  # the rendered markdown title
        assert page.count("application/vnd.jupyter.widget-view+json") == 2  # both apps rendered as widgets
        assert "Traceback" not in page
    finally:
        server.terminate()
        server.wait(timeout=30)
