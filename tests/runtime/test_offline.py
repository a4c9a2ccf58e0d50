import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("offline_probe.py")


def _run_probe(*args, env=None):
    return subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_the_guard_catches_a_connection_attempt():
    result = _run_probe("selftest")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_conversion_loading_and_generation_open_no_network_socket(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}  # ragft must set them itself
    env["RAGFT_CACHE_DIR"] = str(tmp_path)  # empty cache: the GGUF conversion runs under the guard too
    result = _run_probe(env=env)
    assert result.returncode == 0, f"network attempts: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert (tmp_path / "models").is_dir()


def _can_unplug() -> bool:
    import shutil

    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not _can_unplug(), reason="no network namespace allowed here (the socket guard covers this)"
)
def test_doctor_passes_with_the_network_unplugged(tmp_path):
    """The real thing: an empty network namespace (no interface up), and an empty model cache."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env["RAGFT_CACHE_DIR"] = str(tmp_path)
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "ragft", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "All checks passed." in result.stdout
