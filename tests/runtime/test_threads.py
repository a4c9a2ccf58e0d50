import os
import subprocess
import sys

import pytest

from ragft.runtime import threads


def _cgroup_v2(tmp_path, cpu_max: str, rel: str = "user.slice/pod1"):
    folder = tmp_path / "cg" / rel
    folder.mkdir(parents=True)
    (folder / "cpu.max").write_text(cpu_max + "\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"0::/{rel}\n")
    return tmp_path / "cg", proc


def test_v2_quota_of_one_cpu_like_binder(tmp_path):
    root, proc = _cgroup_v2(tmp_path, "100000 100000")
    assert threads.cgroup_cpu_quota(root, proc) == 1.0


def test_v2_unlimited_is_none(tmp_path):
    root, proc = _cgroup_v2(tmp_path, "max 100000")
    assert threads.cgroup_cpu_quota(root, proc) is None


def _cgroup_v1(tmp_path, quota_us: int, controllers: str):
    folder = tmp_path / "cg" / "cpu"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text(f"3:{controllers}:/\n")
    return tmp_path / "cg", proc


def test_v1_quota(tmp_path):
    assert threads.cgroup_cpu_quota(*_cgroup_v1(tmp_path, 150000, "cpu,cpuacct")) == 1.5


def test_v1_unlimited_is_none(tmp_path):
    assert threads.cgroup_cpu_quota(*_cgroup_v1(tmp_path, -1, "cpu")) is None


def test_no_cgroup_files_is_none(tmp_path):
    assert threads.cgroup_cpu_quota(tmp_path / "missing", tmp_path / "missing_proc") is None


@pytest.mark.parametrize(
    "quota, affinity, expected", [(1.0, 64, 1), (1.5, 64, 2), (None, 2, 2), (8.0, 2, 2), (0.5, 4, 1)]
)
def test_budget_takes_the_quota_over_the_core_count(monkeypatch, quota, affinity, expected):
    monkeypatch.delenv("RAGFT_THREADS", raising=False)
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: quota)
    monkeypatch.setattr(threads, "affinity_cpus", lambda: affinity)
    assert threads.cpu_budget() == expected


def test_override_and_its_validation(monkeypatch):
    monkeypatch.setenv("RAGFT_THREADS", "3")
    assert threads.cpu_budget() == 3
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv("RAGFT_THREADS", bad)
        with pytest.raises(ValueError, match="RAGFT_THREADS"):
            threads.cpu_budget()


def test_cgroup_dirs_names_the_allowed_controllers(tmp_path):
    from ragft.runtime.threads import cgroup_dirs

    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/user/1\n3:cpu,cpuacct:/user/1\n")
    assert cgroup_dirs(tmp_path, proc, "memory")[0] == tmp_path / "memory" / "user/1"
    assert cgroup_dirs(tmp_path, proc, "cpu")[0] == tmp_path / "cpu" / "user/1"
    with pytest.raises(ValueError, match="controller must be one of"):
        cgroup_dirs(tmp_path, proc, "io")


def _tree(tmp_path, proc_lines: str, files: dict[str, str]):
    """A fake /sys/fs/cgroup under tmp_path/cg with the given limit files, and a fake /proc/self/cgroup."""
    for rel, text in files.items():
        path = tmp_path / "cg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text(proc_lines)
    return tmp_path / "cg", proc


V2_PROC = "0::/kubepods/pod1/container\n"
V1_PROC = "4:memory:/kubepods/pod1/container\n3:cpu,cpuacct:/kubepods/pod1/container\n"


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"kubepods/pod1/container/cpu.max": "100000 100000"}, 1.0),  # at the leaf
        ({"kubepods/pod1/container/cpu.max": "max 100000", "kubepods/pod1/cpu.max": "50000 100000"}, 0.5),
        ({"kubepods/pod1/container/cpu.max": "300000 100000", "kubepods/cpu.max": "200000 100000"}, 2.0),
        ({"kubepods/pod1/container/cpu.max": "100000 100000", "kubepods/pod1/cpu.max": "400000 100000"}, 1.0),
        ({"kubepods/pod1/container/cpu.max": "max 100000", "kubepods/pod1/cpu.max": "max 100000"}, None),
    ],
    ids=["leaf", "parent-under-unlimited-leaf", "grandparent", "both-leaf-smaller", "max-everywhere"],
)
def test_v2_quota_is_the_smallest_on_the_way_to_the_root(tmp_path, files, expected):
    assert threads.cgroup_cpu_quota(*_tree(tmp_path, V2_PROC, files)) == expected


@pytest.mark.parametrize(
    "quotas, expected",
    [
        ({"kubepods/pod1/container": 150000}, 1.5),
        ({"kubepods/pod1/container": -1, "kubepods/pod1": 100000}, 1.0),
        ({"kubepods/pod1/container": 300000, "kubepods": 200000}, 2.0),
        ({"kubepods/pod1/container": 50000, "kubepods/pod1": 200000}, 0.5),
        ({"kubepods/pod1/container": -1, "": -1}, None),
    ],
    ids=["leaf", "parent-under-unlimited-leaf", "grandparent", "both-leaf-smaller", "minus-one-everywhere"],
)
def test_v1_quota_is_the_smallest_on_the_way_to_the_root(tmp_path, quotas, expected):
    files = {}
    for rel, quota in quotas.items():
        folder = f"cpu,cpuacct/{rel}".rstrip("/")
        files |= {f"{folder}/cpu.cfs_quota_us": str(quota), f"{folder}/cpu.cfs_period_us": "100000"}
    assert threads.cgroup_cpu_quota(*_tree(tmp_path, V1_PROC, files)) == expected


def test_memory_limit_is_the_smallest_on_the_way_up_in_v1_and_v2(tmp_path):
    gib = 2**30
    v2 = _tree(
        tmp_path / "v2",
        V2_PROC,
        {"kubepods/pod1/container/memory.max": "max", "kubepods/pod1/memory.max": str(2 * gib)},
    )
    assert threads.cgroup_memory_limit(*v2) == 2 * gib
    v1 = _tree(
        tmp_path / "v1",
        V1_PROC,
        {
            "memory/kubepods/pod1/container/memory.limit_in_bytes": str(3 * gib),
            "memory/kubepods/memory.limit_in_bytes": str(gib),
            "memory/memory.limit_in_bytes": "9223372036854771712",  # v1's "unlimited"
        },
    )
    assert threads.cgroup_memory_limit(*v1) == gib
    unlimited = _tree(tmp_path / "none", V2_PROC, {"kubepods/memory.max": "max"})
    assert threads.cgroup_memory_limit(*unlimited) is None


def test_cgroup_dirs_lists_every_level_once_most_specific_first(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/a/b\n")
    assert threads.cgroup_dirs(tmp_path, proc, "cpu") == [tmp_path / "a/b", tmp_path / "a", tmp_path]


def test_hybrid_host_reads_v2_from_the_unified_mount(tmp_path):
    root, proc = _tree(tmp_path, "1:cpu:/\n0::/job\n", {"unified/job/cpu.max": "200000 100000"})
    (root / "cpu").mkdir()
    assert threads.cgroup_cpu_quota(root, proc) == 2.0


def test_a_path_outside_the_namespace_and_garbage_are_ignored(tmp_path):
    root, proc = _tree(tmp_path, "0::/../elsewhere\n", {"elsewhere/cpu.max": "100000 100000"})
    assert threads.cgroup_cpu_quota(root, proc) is None
    root, proc = _tree(tmp_path / "bad", V2_PROC, {"kubepods/cpu.max": "lots 100000"})
    assert threads.cgroup_cpu_quota(root, proc) is None


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without the thread settings that importing ragft in pytest put there."""
    drop = {
        "RAGFT_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    }
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "HF_HUB_OFFLINE": "1", **extra}


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_torch_imported_before_ragft_is_resized_to_the_quota():
    # torch starts from OMP_NUM_THREADS=1; the faked quota (RAGFT_THREADS) says 3: ragft's import must win.
    code = (
        "import torch\nbefore = torch.get_num_threads()\nimport ragft\n"
        "print(before, torch.get_num_threads(), torch.get_num_interop_threads())"
    )
    result = _run(code, _clean_env(OMP_NUM_THREADS="1", RAGFT_THREADS="3"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "3", "3"]
    assert "RuntimeWarning" not in result.stderr


@pytest.mark.slow
def test_a_started_interop_pool_is_kept_and_said_so():
    code = (
        "import warnings\nwarnings.simplefilter('always')\nimport torch\ntorch.set_num_interop_threads(2)\n"
        "import ragft\nprint(torch.get_num_threads(), torch.get_num_interop_threads())"
    )
    result = _run(code, _clean_env(RAGFT_THREADS="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "2"]
    assert "inter-op pool keeps 2 threads (the CPU budget is 1)" in result.stderr


def test_without_torch_imported_nothing_imports_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert threads.configure_imported_torch() is None
    assert "torch" not in sys.modules
