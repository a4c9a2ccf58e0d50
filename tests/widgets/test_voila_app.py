"""The decision tool as a standalone Voilà page: started as `make decide-app` starts it (apps/serve.sh with
apps/voila.json), fetched, checked; and the room's configuration itself."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"


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


def test_the_room_config_culls_kernels_and_leaves_out_lab_only_extensions():
    config = json.loads((APPS / "voila.json").read_text())
    culling = config["MappingKernelManager"]
    assert culling["cull_idle_timeout"] > 0 and 0 < culling["cull_interval"] <= culling["cull_idle_timeout"]
    assert culling["cull_connected"] is False  # a page still open (projected) keeps its kernel
    voila = config["VoilaConfiguration"]
    assert {"jupyterlab-jupytext", "ipylab"} <= set(voila["extension_denylist"])
    template = APPS / "jupyter" / "voila" / "templates" / voila["template"]
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"
    page = (template / "index.html.j2").read_text()
    assert "cdn.jsdelivr" not in page.split("-#}", 1)[1] and "_xsrf=" in page
    serve = (APPS / "serve.sh").read_text()
    assert "JUPYTER_PATH=" in serve and 'cd "$here"' in serve  # voila.json is read from the working dir
    assert "apps/serve.sh" in (APPS.parent / "Makefile").read_text()


@pytest.mark.slow
def test_voila_serves_the_decision_tool():
    port = _free_port()
    server = subprocess.Popen(
        ["bash", str(APPS / "serve.sh"), f"--port={port}", "--Voila.ip=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RAGFT_THREADS": "1", "VOILA": str(Path(sys.executable).with_name("voila"))},
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
        assert "cdn.jsdelivr.net" not in page  # the room template: nothing fetched from a CDN
    finally:
        server.terminate()
        server.wait(timeout=30)
