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
