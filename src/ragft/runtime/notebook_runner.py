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
    r"peak memory (\d+) MB \(budget (\d+) MB\)"
)


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
                seconds, max_seconds, wall, peak, max_mb = match.groups()
                return {
                    "seconds": float(seconds),
                    "wall_seconds": float(wall),
                    "max_seconds": float(max_seconds),
                    "peak_mb": int(peak),
                    "max_mb": int(max_mb),
                }
    return None


def header_text(measured: dict, total_seconds: float) -> str:
    """The sentence that goes between the markers."""
    return (
        "<!-- measured -->"
        f"**Measured** on 1 CPU thread ({_cpu_name()}), with `python -m ragft notebook run`: "
        f"{measured['seconds']:.0f} s of CPU time top to bottom (budget {measured['max_seconds']:g} s; "
        f"{total_seconds:.0f} s wall-clock including kernel start), "
        f"peak memory {measured['peak_mb']} MB in the kernel process (budget {measured['max_mb']} MB)."
        "<!-- /measured -->"
    )


def run_notebook(path: Path, threads: int = 1, timeout: int = 600, write_header: bool = True) -> dict:
    """Execute in place with a fresh kernel; returns the measured runtime and peak memory."""
    import nbformat
    from nbclient import NotebookClient

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    # The kernel gets its own environment; the caller's (often a pytest process) stays as it was.
    env = {**os.environ, "RAGFT_THREADS": str(threads)}
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
    nbformat.write(nb, path)
    return {"notebook": str(path), "total_seconds": round(total, 1), **measured}
