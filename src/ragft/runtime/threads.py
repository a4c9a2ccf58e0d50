"""How many CPU threads the course may use: the cgroup CPU quota (Binder), else the affinity mask.

os.cpu_count() reports the host's cores (dozens on Binder) while the pod may use one; sizing
torch's and BLAS's pools from it oversubscribes that one CPU and makes everything slower.

A limit may sit on any cgroup between the process's own and the root (Kubernetes puts one on the
pod and one on the container; systemd on a slice), so every level is read and the smallest wins.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED_BYTES = 2**60  # cgroup v1 writes "no memory limit" as a huge number (9223372036854771712)

_V1_FOLDERS = {"cpu": ("cpu", "cpu,cpuacct", "cpuacct,cpu"), "memory": ("memory",)}


def _levels(mount: Path, rel: str) -> list[Path]:
    """mount/rel, then each of its parents up to mount itself (the hierarchy's root)."""
    parts = Path(rel).parts
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_mount(root: Path) -> Path:
    """Where the unified hierarchy is mounted: root itself, or root/unified on a hybrid v1+v2 host."""
    if not (root / "cgroup.controllers").is_file() and (root / "unified").is_dir():
        return root / "unified"
    return root


def cgroup_dirs(root: Path, proc_cgroup: Path, controller: str = "cpu") -> list[Path]:
    """Every cgroup folder whose limits apply to the process, for a controller ('cpu' or 'memory').

    Read from /proc/self/cgroup: the process's own folder first, then each parent up to the hierarchy's
    root (cgroup v2's unified folder, or v1's per-controller ones), then root. A path that climbs out of
    a cgroup namespace ('..') cannot be mapped onto the mount and is left out.
    """
    if controller not in _V1_FOLDERS:
        raise ValueError(f"controller must be one of {sorted(_V1_FOLDERS)}, got {controller!r}")
    dirs: list[Path] = []
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or ".." in Path(parts[2]).parts:
            continue
        controllers, rel = parts[1], parts[2].lstrip("/")
        if controllers == "":  # cgroup v2 unified hierarchy
            dirs += _levels(_v2_mount(root), rel)
        elif controller in controllers.split(","):  # cgroup v1: one hierarchy per controller
            for name in _V1_FOLDERS[controller]:
                dirs += _levels(root / name, rel)
    dirs.append(root)
    return list(dict.fromkeys(dirs))  # without repeats, most specific first


def _read(path: Path) -> str | None:
    """A limit file's stripped text, or None where it is missing or unreadable."""
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpu_limit(folder: Path) -> float | None:
    """CPUs allowed by this one folder's cpu.max (v2) or cpu.cfs_quota_us (v1); None for no limit."""
    v2 = _read(folder / "cpu.max")
    try:
        if v2 is not None:
            quota, _, period = v2.partition(" ")
            return None if quota == "max" else int(quota) / int(period or 100000)
        quota_us, period_us = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota_us is not None and period_us is not None and int(quota_us) > 0:
            return int(quota_us) / int(period_us)
    except (ValueError, ZeroDivisionError):  # a file we cannot parse limits nothing we know of
        pass
    return None


def _memory_limit(folder: Path) -> int | None:
    """Bytes allowed by this one folder's memory.max (v2) or memory.limit_in_bytes (v1); None for no limit."""
    for name in ("memory.max", "memory.limit_in_bytes"):
        value = _read(folder / name)
        if value is not None and value.isdigit() and int(value) < UNLIMITED_BYTES:
            return int(value)
    return None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """CPUs allowed by the cgroup quota (e.g. 1.0 on Binder): the smallest on the way to the root, or None."""
    limits = [q for q in map(_cpu_limit, cgroup_dirs(root, proc_cgroup, "cpu")) if q is not None]
    return min(limits) if limits else None


def cgroup_memory_limit(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")
) -> int | None:
    """Bytes allowed by the cgroup memory limit (2 GiB on Binder): the smallest on the way up, or None."""
    limits = [m for m in map(_memory_limit, cgroup_dirs(root, proc_cgroup, "memory")) if m is not None]
    return min(limits) if limits else None


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
    """Set torch's intra-op (and, if still possible, inter-op) pools to cpu_budget(); returns it.

    The intra-op pool can be resized at any time. The inter-op pool can be sized only once, before torch
    has run any parallel work; after that the RuntimeError is caught and a warning says what stays as it was.
    """
    import torch

    n = cpu_budget()
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # can only be set once, before any parallel work has run
        kept = torch.get_num_interop_threads()
        if kept != n:
            warnings.warn(
                f"torch's inter-op pool keeps {kept} threads (the CPU budget is {n}): "
                "torch had already started parallel work. Its intra-op pool, which does the heavy lifting, "
                "was set to the budget; import ragft before running torch code to size both.",
                RuntimeWarning,
                stacklevel=2,
            )
    return n


def configure_imported_torch() -> int | None:
    """If torch was imported before ragft, size its pools now (it read the core count, not the quota).

    Returns the thread count set, or None when torch is not imported yet: then OMP_NUM_THREADS, set on
    importing ragft, sizes it when it loads, and nothing here imports torch (it takes seconds).
    """
    if "torch" not in sys.modules:
        return None
    return configure_torch_threads()
