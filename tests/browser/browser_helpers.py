"""Helpers of the real-browser tests: finding Chromium, starting and stopping servers, watching a page."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = (
    "install Chromium: `apt-get install -y chromium` (Debian/Ubuntu; scripts/setup.sh does it when it can), "
    "or set RAGFT_CHROMIUM to a Chromium or Chrome executable"
)


def chromium_path() -> str | None:
    """The Chromium to drive: $RAGFT_CHROMIUM, else the first of CHROMIUM_NAMES on PATH."""
    named = os.environ.get("RAGFT_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def free_port() -> int:
    """A TCP port nothing listens on now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server started for a module's tests: its base URL, token, process and log file."""

    url: str
    token: str
    process: subprocess.Popen
    log: Path
    started_s: float = 0.0
    notes: dict = field(default_factory=dict)

    def api(self, path: str) -> tuple[int, bytes]:
        """GET a server API path with the token; returns (status, body)."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def start_server(argv: list[str], port: int, token: str, log: Path, cwd: Path, timeout: float = 90) -> Server:
    """Start a server process (output to `log`) and wait until it accepts connections on `port`."""
    env = {**os.environ, "RAGFT_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    handle = log.open("w")
    process = subprocess.Popen(argv, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    started, deadline = time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}; its log: {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Server(f"http://127.0.0.1:{port}", token, process, log, time.monotonic() - started)
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{argv[0]} did not listen on port {port} within {timeout:.0f} s; its log: {log}")


def stop_server(server: Server) -> None:
    """Terminate the server (and wait for it); kill it if it does not stop in 20 s."""
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def new_token() -> str:
    """A random token for a server the browser reaches with ?token=."""
    return secrets.token_hex(16)


@dataclass
class Watched:
    """A page with what it reported: console errors and warnings, page errors, every request URL."""

    page: object
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)

    def external_requests(self) -> list[str]:
        """Requests that leave the machine (anything but 127.0.0.1 / localhost, data: and blob: URLs)."""
        local = ("http://127.0.0.1:", "ws://127.0.0.1:", "http://localhost:", "data:", "blob:")
        return [url for url in self.requests if not url.startswith(local)]


def watch(page) -> Watched:
    """Record a page's console messages, errors, requests and websockets from now on."""
    watched = Watched(page)

    def on_console(message) -> None:
        if message.type == "error":
            watched.errors.append(message.text)
        elif message.type == "warning":
            watched.warnings.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("websocket", lambda socket_: watched.websockets.append(socket_.url))
    return watched
