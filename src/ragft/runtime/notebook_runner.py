"""Run a notebook top to bottom in a fresh kernel on one thread, and write its measured budget
into the notebook's header, between the markers <!-- measured --> and <!-- /measured -->.

This is how the committed notebooks (with outputs) are produced: `python -m ragft notebook run PATH`.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

MARKER = re.compile(r"<!-- measured -->.*?<!-- /measured -->", re.S)
BUDGET_LINE = re.compile(
    r"runtime ([\d.]+) s CPU \(budget ([\d.]+) s\), ([\d.]+) s wall-clock, "
    r"peak memory (\d+) MB \(budget (\d+) MB\)(?:, (\d+) thread\(s\))?"
)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def budget_from_outputs(nb) -> dict | None:
    """The figures printed by ragft.runtime.budget.check_budget in the notebook's outputs, if any."""
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            match = BUDGET_LINE.search(output.get("text", ""))
            if match:
                seconds, max_seconds, wall, peak, max_mb, threads = match.groups()
                measured = {
                    "seconds": float(seconds),
                    "wall_seconds": float(wall),
                    "max_seconds": float(max_seconds),
                    "peak_mb": int(peak),
                    "max_mb": int(max_mb),
                }
                return measured | ({"threads": int(threads)} if threads else {})
    return None


def header_text(measured: dict, total_seconds: float) -> str:
    """The sentence that goes between the markers (1 thread unless measured says otherwise)."""
    threads = measured.get("threads", 1)
    return (
        "<!-- measured -->"
        f"**Measured** on {threads} CPU thread{'' if threads == 1 else 's'} ({_cpu_name()}), "
        "with `python -m ragft notebook run`: "
        f"{measured['seconds']:.0f} s of CPU time top to bottom (budget {measured['max_seconds']:g} s; "
        f"{total_seconds:.0f} s wall-clock including kernel start), "
        f"peak memory {measured['peak_mb']} MB in the kernel process (budget {measured['max_mb']} MB)."
        "<!-- /measured -->"
    )


def run_notebook(
    path: Path, threads: int | None = 1, timeout: int = 600, write_header: bool = True, save: bool = True
) -> dict:
    """Execute with a fresh kernel; returns the measured runtime, peak memory and threads.

    threads=None lets the kernel size its pools from the CPU quota it finds (a run inside a Binder-sized
    cgroup); save=False leaves the file as it was (a check, not a committed run).
    """
    import nbformat
    from nbclient import NotebookClient

    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 or None (follow the CPU quota), got {threads}")
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    # The kernel gets its own environment; the caller's (often a pytest process) stays as it was.
    # BLAS reads its variables when it loads: they follow the kernel's thread count, not this process's.
    env = {k: v for k, v in os.environ.items() if k not in ("RAGFT_THREADS", *THREAD_VARS)}
    if threads is not None:
        env |= {name: str(threads) for name in ("RAGFT_THREADS", *THREAD_VARS)}
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.setdefault("RAGFT_STRICT_BUDGET", "1")  # a committed run never carries an over-budget note
    started = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute(env=env)
    total = time.perf_counter() - started
    measured = budget_from_outputs(nb)
    if measured is None:
        raise ValueError(f"{path.name}: no check_budget(...) output (ragft.runtime.budget) in its last cells")
    if write_header:
        first = nb.cells[0]
        if first.cell_type != "markdown" or not MARKER.search(first.source):
            raise ValueError(
                f"{path.name}: the first cell must be markdown with <!-- measured --><!-- /measured -->"
            )
        first.source = MARKER.sub(lambda _: header_text(measured, total), first.source)
    if save:
        nbformat.write(nb, path)
    return {"notebook": str(path), "total_seconds": round(total, 1), **measured}
