"""Binder's limits as a test: notebooks run inside a real cgroup with 1 CPU and 2 GiB, on a cold cache.

The runner makes a child cgroup (v2: one folder under the unified root; v1: one under the cpu, cpuacct
and memory hierarchies), sets a CPU quota of one CPU and a 2 GiB memory limit without swap, runs a command
in it and reports the cgroup's peak memory, the command's CPU time and how often the quota throttled it.
Making a cgroup needs root (or a delegated subtree); where that is not possible the tests skip and say why.

By default one cheap notebook (08) runs, and the thread count it measured must follow the quota. With
RAGFT_BINDER_ALL=1 every notebook and lab solution (the masters in solutions/) runs, about 20 CPU-minutes,
after the cache steps of postBuild, each in a fresh cgroup (RAGFT_BINDER_ONLY=03_embeddings,... runs only
those, after the same cache steps). As a script it runs any command under the limits:

    sudo .venv/bin/python tests/test_binder_limits.py -- python -m ragft eval-retrieval data/eval/facts-mini
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CGROUP_ROOT = Path("/sys/fs/cgroup")
CPUS = 1.0
MEMORY_BYTES = 2 * 2**30
PERIOD_US = 100_000
THREAD_VARS = (
    "RAGFT_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# The steps of postBuild that fill the cache a learner would otherwise wait for (test_postbuild_... checks).
WARM_STEPS = (
    ("-m", "ragft", "models", "prepare"),
    (
        *("-m", "ragft", "eval-retrieval", "data/eval/facts-mini", "--method", "dense"),
        *("--scoring", "maxp", "--embedding", "fp32", "--json"),
    ),
    ("-m", "ragft", "eval-retrieval", "data/eval/facts-mini", "--method", "dense", "--json"),
)
CHEAP_NOTEBOOK = REPO / "notebooks" / "08_decision_framework.ipynb"
RUN_NOTEBOOK = (
    "import json, sys\n"
    "from ragft.runtime.notebook_runner import run_notebook\n"
    "print(json.dumps(run_notebook(sys.argv[1], threads=None, timeout=1800, save=False)))\n"
)


def cgroup_layout(root: Path = CGROUP_ROOT) -> str:
    """'v2' (unified, with the cpu and memory controllers) or 'v1' (cpu and memory hierarchies).

    Raises OSError naming what is missing when neither is there or this user cannot write to it.
    """
    controllers = root / "cgroup.controllers"
    if controllers.is_file():
        missing = {"cpu", "memory"} - set(controllers.read_text().split())
        if missing:
            raise OSError(f"cgroup v2 at {root} lacks the controllers {sorted(missing)}")
        parent = root
    elif (root / "cpu" / "cpu.cfs_quota_us").is_file() and (
        root / "memory" / "memory.limit_in_bytes"
    ).is_file():
        parent = root / "cpu"
    else:
        raise OSError(f"no cgroup v2 (cgroup.controllers) nor v1 cpu and memory hierarchies under {root}")
    if not os.access(parent, os.W_OK):
        raise OSError(
            f"cannot create cgroups under {parent} as uid {os.geteuid()} (root or delegation needed)"
        )
    return "v2" if parent == root else "v1"


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def make_cgroup(
    name: str, cpus: float = CPUS, memory_bytes: int = MEMORY_BYTES, root: Path = CGROUP_ROOT
) -> dict:
    """Create the limited cgroup 'name'; returns {'layout', 'dirs'} (the folders, one per hierarchy)."""
    if cpus <= 0 or memory_bytes <= 0:
        raise ValueError(f"cpus and memory_bytes must be > 0, got {cpus} and {memory_bytes}")
    layout = cgroup_layout(root)
    quota_us = str(round(cpus * PERIOD_US))
    if layout == "v2":
        _write(root / "cgroup.subtree_control", "+cpu +memory")
        folder = root / name
        folder.mkdir()
        _write(folder / "cpu.max", f"{quota_us} {PERIOD_US}")
        _write(folder / "memory.max", str(memory_bytes))
        if (folder / "memory.swap.max").is_file():
            _write(folder / "memory.swap.max", "0")
        return {"layout": layout, "dirs": [folder]}
    dirs = [root / "cpu" / name, root / "memory" / name]
    if (root / "cpuacct").is_dir() and not (root / "cpuacct" / "cpu.cfs_quota_us").exists():
        dirs.append(root / "cpuacct" / name)  # a separate hierarchy: CPU time is counted there
    cgroup = {"layout": layout, "dirs": dirs}
    try:
        for folder in dirs:
            folder.mkdir()
        _write(dirs[0] / "cpu.cfs_period_us", str(PERIOD_US))
        _write(dirs[0] / "cpu.cfs_quota_us", quota_us)
        _write(dirs[1] / "memory.limit_in_bytes", str(memory_bytes))
        if (dirs[1] / "memory.memsw.limit_in_bytes").is_file():  # no swap, as on Binder
            _write(dirs[1] / "memory.memsw.limit_in_bytes", str(memory_bytes))
    except OSError:
        remove_cgroup(cgroup)  # no half-made cgroup is left behind
        raise
    return cgroup


def _number(path: Path, key: str | None = None) -> int | None:
    """An integer from a cgroup file: its whole content, or the value after 'key' in a flat-keyed file."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        return int(text.strip()) if text.strip().isdigit() else None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


def cgroup_figures(cgroup: dict) -> dict:
    """Peak memory (MiB), CPU seconds, throttled periods and OOM kills the cgroup counted."""
    if cgroup["layout"] == "v2":
        folder = cgroup["dirs"][0]
        peak, usage_us = _number(folder / "memory.peak"), _number(folder / "cpu.stat", "usage_usec")
        throttled, oom = (
            _number(folder / "cpu.stat", "nr_throttled"),
            _number(folder / "memory.events", "oom_kill"),
        )
        cpu = None if usage_us is None else usage_us / 1e6
    else:
        cpu_dir, memory_dir = cgroup["dirs"][:2]
        peak = _number(memory_dir / "memory.max_usage_in_bytes")
        throttled, oom = (
            _number(cpu_dir / "cpu.stat", "nr_throttled"),
            _number(memory_dir / "memory.oom_control", "oom_kill"),
        )
        usage_ns = next(
            (_number(d / "cpuacct.usage") for d in cgroup["dirs"] if (d / "cpuacct.usage").is_file()), None
        )
        cpu = None if usage_ns is None else usage_ns / 1e9
    return {
        "cgroup_peak_mb": None if peak is None else round(peak / 2**20),
        "cgroup_cpu_seconds": None if cpu is None else round(cpu, 1),
        "throttled_periods": throttled,
        "oom_kills": oom,
    }


def remove_cgroup(cgroup: dict) -> None:
    """Kill what is left in the cgroup (only processes this runner started), then remove its folders."""
    for folder in cgroup["dirs"]:
        procs = folder / "cgroup.procs"
        pids = procs.read_text().split() if procs.is_file() else []
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    for folder in cgroup["dirs"]:
        for _ in range(50):  # a killed process leaves its cgroup a moment later
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def run_in_cgroup(command: list[str], cgroup: dict, env: dict[str, str], timeout: float = 1800) -> dict:
    """Run command inside the cgroup: its exit code, output tails, CPU time and the cgroup's figures."""
    procs = [folder / "cgroup.procs" for folder in cgroup["dirs"]]

    def enter() -> None:  # runs in the child between fork and exec: everything it starts stays inside
        for path in procs:
            path.write_text(str(os.getpid()))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err, preexec_fn=enter)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.kill(child.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.2)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return {
        "returncode": child.returncode,
        "stdout": stdout[-20000:],
        "stderr": stderr[-20000:],
        "wall_seconds": round(time.perf_counter() - started, 1),
        # the child and every descendant it waited for (the kernel, once nbclient shut it down)
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        **cgroup_figures(cgroup),
    }


def binder_env(cache: Path) -> dict[str, str]:
    """This environment without thread settings (the quota must decide them), on an empty cache folder."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    return env | {"RAGFT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"cgroups are Linux only (this is {sys.platform})"
    try:
        cgroup_layout()
    except OSError as error:
        return f"cannot make a Binder-sized cgroup here: {error}"
    return None


@pytest.fixture
def limited_cgroup():
    """A fresh cgroup with 1 CPU and 2 GiB; each use gets its own, removed afterwards."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    made: list[dict] = []

    def make() -> dict:
        try:
            cgroup = make_cgroup(f"ragft-binder-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        except OSError as error:
            pytest.skip(f"cannot make a Binder-sized cgroup here: {error}")
        made.append(cgroup)
        return cgroup

    yield make
    for cgroup in made:
        remove_cgroup(cgroup)


def _report(name: str, result: dict) -> str:
    figures = {k: v for k, v in result.items() if k not in ("stdout", "stderr")}
    return f"{name}: {json.dumps(figures)}"


def run_notebook_limited(path: Path, make, cache: Path) -> dict:
    """Run a notebook with run_notebook(threads=None) in a fresh limited cgroup: figures and measured."""
    result = run_in_cgroup([sys.executable, "-c", RUN_NOTEBOOK, str(path)], make(), binder_env(cache))
    assert result["returncode"] == 0, f"{path.name} failed under Binder's limits:\n{result['stderr'][-5000:]}"
    measured = json.loads(result["stdout"].strip().splitlines()[-1])
    print(_report(path.name, result), "| kernel:", json.dumps(measured))
    return result | {"measured": measured}


def test_postbuild_runs_the_cache_steps_the_limited_runs_assume():
    text = (REPO / "postBuild").read_text()
    for step in WARM_STEPS:
        assert "python " + " ".join(step) in text, step


def test_a_cgroup_that_cannot_be_made_is_a_clear_reason(tmp_path):
    with pytest.raises(OSError, match="no cgroup v2"):
        cgroup_layout(tmp_path)
    with pytest.raises(ValueError, match="cpus and memory_bytes must be > 0"):
        make_cgroup("x", cpus=0, root=tmp_path)


def test_figures_are_read_from_fake_v1_and_v2_cgroups(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.peak").write_text(f"{300 * 2**20}\n")
    (v2 / "cpu.stat").write_text("usage_usec 2500000\nnr_throttled 7\n")
    (v2 / "memory.events").write_text("oom 0\noom_kill 0\n")
    assert cgroup_figures({"layout": "v2", "dirs": [v2]}) == {
        "cgroup_peak_mb": 300,
        "cgroup_cpu_seconds": 2.5,
        "throttled_periods": 7,
        "oom_kills": 0,
    }
    cpu, memory, acct = (tmp_path / "v1" / name for name in ("cpu", "memory", "cpuacct"))
    for folder in (cpu, memory, acct):
        folder.mkdir(parents=True)
    (cpu / "cpu.stat").write_text("nr_periods 9\nnr_throttled 3\n")
    (memory / "memory.max_usage_in_bytes").write_text(f"{2**30}\n")
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    (acct / "cpuacct.usage").write_text("1500000000\n")
    assert cgroup_figures({"layout": "v1", "dirs": [cpu, memory, acct]}) == {
        "cgroup_peak_mb": 1024,
        "cgroup_cpu_seconds": 1.5,
        "throttled_periods": 3,
        "oom_kills": 1,
    }


@pytest.mark.slow
def test_the_limits_are_seen_from_inside_and_torch_follows_them(limited_cgroup, tmp_path):
    code = (
        "import json, os, torch\nimport ragft\nfrom ragft.runtime import threads\n"
        "print(json.dumps({'quota': threads.cgroup_cpu_quota(), 'memory': threads.cgroup_memory_limit(),"
        " 'budget': threads.cpu_budget(), 'torch': torch.get_num_threads(),"
        " 'omp': os.environ['OMP_NUM_THREADS']}))"
    )
    result = run_in_cgroup(
        [sys.executable, "-c", code], limited_cgroup(), binder_env(tmp_path / "cache"), 300
    )
    assert result["returncode"] == 0, result["stderr"]
    seen = json.loads(result["stdout"].strip().splitlines()[-1])
    assert seen == {"quota": CPUS, "memory": MEMORY_BYTES, "budget": 1, "torch": 1, "omp": "1"}


@pytest.mark.slow
def test_notebook_08_under_binder_limits_on_one_thread(limited_cgroup, tmp_path):
    from ragft.runtime.notebook_runner import header_text

    result = run_notebook_limited(CHEAP_NOTEBOOK, limited_cgroup, tmp_path / "cache")
    measured = result["measured"]
    assert measured["threads"] == 1
    assert "**Measured** on 1 CPU thread (" in header_text(measured, result["wall_seconds"])
    assert result["oom_kills"] in (0, None) and result["cgroup_peak_mb"] < MEMORY_BYTES / 2**20
    assert measured["peak_mb"] <= measured["max_mb"]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # every notebook on one CPU: longer than the suite's 15-minute default
@pytest.mark.skipif(
    os.environ.get("RAGFT_BINDER_ALL") != "1", reason="set RAGFT_BINDER_ALL=1 (~20 CPU-minutes)"
)
def test_every_notebook_and_lab_solution_under_binder_limits(limited_cgroup, tmp_path):
    cache = tmp_path / "cache"
    for step in WARM_STEPS:  # what postBuild leaves in the cache, made under the same limits
        result = run_in_cgroup([sys.executable, *step], limited_cgroup(), binder_env(cache))
        print(_report(" ".join(step), result))
        assert result["returncode"] == 0, f"{' '.join(step)} failed:\n{result['stderr'][-5000:]}"
    paths = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
        (REPO / "solutions").glob("lab_*/lab_*.ipynb")
    )
    only = [name for name in os.environ.get("RAGFT_BINDER_ONLY", "").split(",") if name]
    if only:  # e.g. RAGFT_BINDER_ONLY=03_embeddings,04_hybrid_retrieval: re-check what a change touched
        paths = [p for p in paths if p.stem in only]
        assert len(paths) == len(only), f"RAGFT_BINDER_ONLY names {only}; found {[p.stem for p in paths]}"
    failures = []
    for path in paths:
        try:
            result = run_notebook_limited(path, limited_cgroup, cache)
            assert result["measured"]["threads"] == 1, result["measured"]
        except AssertionError as error:
            failures.append(f"{path.relative_to(REPO)}: {error}")
    assert not failures, "\n".join(failures)


def main(argv: list[str]) -> int:
    """Run the command after '--' under Binder's limits and print the figures as JSON."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: test_binder_limits.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    cgroup = make_cgroup(f"ragft-binder-{os.getpid()}")
    try:
        result = run_in_cgroup(command, cgroup, binder_env(Path(tempfile.mkdtemp(prefix="ragft-cache-"))))
    finally:
        remove_cgroup(cgroup)
    sys.stdout.write(result.pop("stdout"))
    sys.stderr.write(result.pop("stderr"))
    print(json.dumps(result))
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
