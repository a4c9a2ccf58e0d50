"""Measure a notebook's own runtime and peak memory against its budget.

A notebook calls start_clock() in its first cell and check_budget() in its last. Under the test
command (RAGFT_STRICT_BUDGET=1) an overrun raises, so nbval turns the Binder budget (1 CPU thread,
2 GB RAM) into a test that runs every time. In a learner's session it only prints a note: doing the
exercises or retraining a model takes longer than the course's own run, and that is no error.
"""

from __future__ import annotations

import os
import resource
import sys
import time

STRICT_ENV = "RAGFT_STRICT_BUDGET"

_started: float | None = None
_started_cpu: float = 0.0


class BudgetExceeded(AssertionError):
    """A notebook ran longer, or peaked higher in memory, than its stated budget."""


def start_clock() -> None:
    """Remember when the notebook started (its first cell)."""
    global _started, _started_cpu
    _started = time.perf_counter()
    _started_cpu = cpu_seconds_total()


def cpu_seconds_total() -> float:
    """CPU time of this process and its finished children, user + system, all threads."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def elapsed_seconds() -> float:
    """Seconds since start_clock()."""
    if _started is None:
        raise RuntimeError("start_clock() was not called in the notebook's first cell")
    return time.perf_counter() - _started


def cpu_seconds() -> float:
    """CPU seconds used since start_clock().

    On one thread this is what the notebook would take on an idle single CPU (Binder's quota);
    unlike wall-clock time it does not grow when other programs share the machine.
    """
    elapsed_seconds()  # raises if start_clock() was not called
    return cpu_seconds_total() - _started_cpu


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


def strict_budget() -> bool:
    """Whether an overrun raises: under the test command, which sets RAGFT_STRICT_BUDGET=1."""
    return os.environ.get(STRICT_ENV, "") == "1"


def check_budget(max_seconds: float, max_mb: float, strict: bool | None = None) -> dict:
    """Print this run's CPU time, wall-clock time, peak memory and threads, and whether it kept its budget.

    Over budget (CPU time or peak memory; wall-clock time depends on what else runs), it raises
    BudgetExceeded when strict (default: strict_budget()) and otherwise prints a note with the figures.
    """
    from ragft.runtime.threads import cpu_budget

    if max_seconds <= 0 or max_mb <= 0:
        raise ValueError(f"max_seconds and max_mb must be > 0, got {max_seconds} and {max_mb}")
    report = {
        "seconds": round(cpu_seconds(), 1),
        "wall_seconds": round(elapsed_seconds(), 1),
        "peak_mb": round(peak_rss_mb()),
        "threads": cpu_budget(),
        "max_seconds": max_seconds,
        "max_mb": max_mb,
    }
    print(
        f"runtime {report['seconds']} s CPU (budget {max_seconds:g} s), "
        f"{report['wall_seconds']} s wall-clock, "
        f"peak memory {report['peak_mb']} MB (budget {max_mb:g} MB), {report['threads']} thread(s)"
    )
    over = [
        f"{name} {value:g} > {limit:g}"
        for name, value, limit in (
            ("CPU seconds", report["seconds"], max_seconds),
            ("peak MB", report["peak_mb"], max_mb),
        )
        if value > limit
    ]
    report["over_budget"] = bool(over)
    if not over:
        return report
    overrun = "; ".join(over)
    if strict_budget() if strict is None else strict:
        raise BudgetExceeded(f"over budget ({overrun}): {report}")
    print(
        f"Note: this run went over the notebook's budget ({overrun}). That is expected after "
        "exercises, re-runs of single cells or extra training in the same kernel; the header gives "
        "the figures of a clean top-to-bottom run. On Binder (2 GB), restart the kernel if memory "
        "is near the limit."
    )
    return report
