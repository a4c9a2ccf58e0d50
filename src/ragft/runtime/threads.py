"""How many CPU threads the course may use: the cgroup CPU quota (Binder), else the affinity mask.

os.cpu_count() reports the host's cores (dozens on Binder) while the pod may use one; sizing
torch's and BLAS's pools from it oversubscribes that one CPU and makes everything slower.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


_V1_FOLDERS = {"cpu": ("cpu", "cpu,cpuacct", "cpuacct,cpu"), "memory": ("memory",)}


def cgroup_dirs(root: Path, proc_cgroup: Path, controller: str = "cpu") -> list[Path]:
    """The process's cgroup folder(s) for a controller ('cpu' or 'memory') from /proc/self/cgroup,
    then the root: most specific first (cgroup v2's unified folder, or v1's per-controller ones)."""
    if controller not in _V1_FOLDERS:
        raise ValueError(f"controller must be one of {sorted(_V1_FOLDERS)}, got {controller!r}")
    dirs: list[Path] = []
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, rel = parts[1], parts[2].lstrip("/")
        if controllers == "":  # cgroup v2 unified hierarchy
            dirs.append(root / rel)
        elif controller in controllers.split(","):  # cgroup v1: one hierarchy per controller
            for name in _V1_FOLDERS[controller]:
                dirs.append(root / name / rel)
                dirs.append(root / name)
    dirs.append(root)
    return dirs


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs allowed by the cgroup quota (e.g. 1.0 on Binder), or None when there is no quota."""
    for folder in cgroup_dirs(root, proc_cgroup, "cpu"):
        v2 = folder / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            if quota == "max":
                return None
            return int(quota) / int(period or 100000)
        v1_quota, v1_period = folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us"
        if v1_quota.is_file() and v1_period.is_file():
            quota_us = int(v1_quota.read_text().strip())
            if quota_us <= 0:
                return None
            return quota_us / int(v1_period.read_text().strip())
    return None


def affinity_cpus() -> int:
    """CPUs this process may be scheduled on (the affinity mask), falling back to os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_budget() -> int:
    """Threads to use: RAGFT_THREADS if set, else min(ceil(cgroup quota), affinity), at least 1."""
    override = os.environ.get("RAGFT_THREADS")
    if override:
        try:
            value = int(override)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"RAGFT_THREADS must be a whole number >= 1, got {override!r}")
        return value
    budget = affinity_cpus()
    quota = cgroup_cpu_quota()
    if quota is not None:
        budget = min(budget, max(1, math.ceil(quota)))
    return max(1, budget)


def configure_torch_threads() -> int:
    """Set torch's intra-op (and, if still possible, inter-op) pools to cpu_budget(); returns it."""
    import torch

    n = cpu_budget()
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # can only be set once, before any parallel work has run
        pass
    return n
