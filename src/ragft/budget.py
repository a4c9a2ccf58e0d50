"""Measure a notebook's own runtime and peak memory, and fail loudly when it breaks its budget.

A notebook calls start_clock() in its first cell and check_budget() in its last; under nbval
that turns the Binder budget (1 CPU thread, 2 GB RAM) into a test that runs every time.
"""

from __future__ import annotations

import resource
import sys
import time

_started: float | None = None


class BudgetExceeded(AssertionError):
    """A notebook ran longer, or peaked higher in memory, than its stated budget."""


def start_clock() -> None:
    """Remember when the notebook started (its first cell)."""
    global _started
    _started = time.perf_counter()


def elapsed_seconds() -> float:
    """Seconds since start_clock()."""
    if _started is None:
        raise RuntimeError("start_clock() was not called in the notebook's first cell")
    return time.perf_counter() - _started


def peak_rss_mb() -> float:
    """Peak resident memory of this process (the kernel) in MiB: what a cgroup limit sees first.

    On Linux this is VmHWM, the high-water mark of this process's own address space. ru_maxrss is
    not used there: it survives fork and exec, so a kernel started by a big parent (pytest after
    loading models) would report the parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def check_budget(max_seconds: float, max_mb: float) -> dict:
    """Print this run's runtime, peak memory and threads; raise BudgetExceeded if over either limit."""
    from ragft.threads import cpu_budget

    if max_seconds <= 0 or max_mb <= 0:
        raise ValueError(f"max_seconds and max_mb must be > 0, got {max_seconds} and {max_mb}")
    report = {
        "seconds": round(elapsed_seconds(), 1),
        "peak_mb": round(peak_rss_mb()),
        "threads": cpu_budget(),
        "max_seconds": max_seconds,
        "max_mb": max_mb,
    }
    print(
        f"runtime {report['seconds']} s (budget {max_seconds:g} s), peak memory {report['peak_mb']} MB "
        f"(budget {max_mb:g} MB), {report['threads']} thread(s)"
    )
    if report["seconds"] > max_seconds or report["peak_mb"] > max_mb:
        raise BudgetExceeded(f"over budget: {report}")
    return report
