"""The environment check: one [OK]/[FAIL] line per component, shared by notebook 00 and the CLI."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata

EXPECTED_PYTHON = (3, 11)
EXPECTED_TORCH = "2.13.0"
LIBRARIES = ("transformers", "peft", "faiss-cpu", "bm25s", "pandas", "matplotlib", "ipywidgets", "jupyterlab")


@dataclass
class Check:
    """The outcome of one check: what was checked, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _run(name: str, fn: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail, ok = fn(), True
    except Exception as exc:  # a check reports failures, it never crashes the report
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(name, ok, detail, round(time.perf_counter() - started, 2))


def check_python() -> str:
    found = sys.version_info[:2]
    if found != EXPECTED_PYTHON:
        raise RuntimeError(f"Python {found[0]}.{found[1]} found, the course is tested on 3.11")
    return sys.version.split()[0]


def check_torch() -> str:
    import torch

    from ragft.runtime.threads import affinity_cpus, cgroup_cpu_quota, configure_torch_threads, cpu_budget

    version = torch.__version__.split("+")[0]
    if version != EXPECTED_TORCH:
        raise RuntimeError(f"torch {torch.__version__} found, expected {EXPECTED_TORCH} (CPU build)")
    if torch.cuda.is_available() and torch.version.cuda:
        raise RuntimeError("a CUDA build of torch is installed; the course pins the CPU build")
    configure_torch_threads()
    quota = cgroup_cpu_quota()
    quota_text = "none" if quota is None else f"{quota:g}"
    threads = torch.get_num_threads()
    if threads != cpu_budget():
        raise RuntimeError(f"torch uses {threads} threads, expected {cpu_budget()}")
    where = f"cgroup CPU quota: {quota_text}, affinity: {affinity_cpus()}"
    return f"{torch.__version__}, {threads} thread(s) ({where})"


def check_libraries() -> str:
    missing, found = [], []
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)}; run `make setup`")
    return ", ".join(found)


def check_offline() -> str:
    import os

    flags = {v: os.environ.get(v) for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    if any(value != "1" for value in flags.values()):
        raise RuntimeError(f"hub access is not disabled: {flags}")
    return "HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1"


def check_embedder() -> str:
    import numpy as np

    from ragft.runtime.models import load_embedder, release_models

    started = time.perf_counter()
    embedder = load_embedder()
    loaded = time.perf_counter() - started
    query, related, unrelated = embedder.encode(
        [
            "How do I change the default primary key type?",
            "DEFAULT_AUTO_FIELD sets the type of automatically created primary keys.",
            "The tutorial explains how to write your first view.",
        ]
    )
    good, bad = float(np.dot(query, related)), float(np.dot(query, unrelated))
    release_models()  # hold one model at a time: both together come close to Binder's memory
    if not good > bad:
        raise RuntimeError(f"related pair scored {good:.2f}, below the unrelated pair's {bad:.2f}")
    similarity = f"cos related {good:.2f} > unrelated {bad:.2f}"
    return f"all-MiniLM-L6-v2, dim {embedder.dimension}, loaded in {loaded:.1f} s; {similarity}"


def check_generator() -> str:
    from ragft.runtime.models import generate, load_generator, release_models

    started = time.perf_counter()
    load_generator()
    loaded = time.perf_counter() - started
    # A made-up fact: the model cannot know it, so a right answer shows it read the context.
    prompt = (
        "Context: The Zorblat festival is held every year in the town of Miravel.\n"
        "Question: In which town is the Zorblat festival held?\nAnswer:"
    )
    answer = generate(prompt, max_new_tokens=24)
    release_models()
    if "Miravel" not in answer:
        raise RuntimeError(f"the answer did not use the context: {answer!r}")
    return f"SmolLM2-135M-Instruct (bf16), loaded in {loaded:.1f} s; answered {answer[:60]!r}"


def check_data() -> str:
    from ragft.corpus.data import verify_data

    report = verify_data()
    bad = [f["path"] for f in report["files"] if not f["ok"]]
    if bad:
        raise RuntimeError(f"checksum mismatch: {', '.join(bad)}; run `git checkout -- data/`")
    return f"{len(report['files'])} files match data/manifest.json"


def check_widgets() -> str:
    import ipywidgets

    major = int(ipywidgets.__version__.split(".")[0])
    if major < 8:
        raise RuntimeError(f"ipywidgets {ipywidgets.__version__} found, the course needs 8.x")
    metadata.version("jupyterlab_widgets")  # the JupyterLab side; raises if missing
    return f"ipywidgets {ipywidgets.__version__}, jupyterlab_widgets {metadata.version('jupyterlab_widgets')}"


def run_checks(include_generation: bool = True) -> list[Check]:
    """Run every check in order; generation (a few seconds) can be skipped. Models are released after."""
    plan: list[tuple[str, Callable[[], str]]] = [
        ("Python", check_python),
        ("torch", check_torch),
        ("libraries", check_libraries),
        ("offline", check_offline),
    ]
    if include_generation:  # before the embedder: it leaves allocator scraps that would add to the peak
        plan.append(("generator", check_generator))
    plan += [("embedder", check_embedder), ("data", check_data), ("widgets", check_widgets)]
    from ragft.runtime.models import release_models

    try:
        return [_run(name, fn) for name, fn in plan]
    finally:
        release_models()


def format_report(checks: list[Check]) -> str:
    """Plain-text report, one line per check, then a one-line verdict."""
    lines = [f"[{'OK' if c.ok else 'FAIL':>4}] {c.name:<10} {c.detail}" for c in checks]
    failed = [c.name for c in checks if not c.ok]
    lines.append(
        "All checks passed." if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}"
    )
    return "\n".join(lines)
