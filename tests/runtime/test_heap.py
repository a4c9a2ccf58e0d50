"""ragft.runtime.heap: freed heap memory handed back where glibc allows it, a no-op elsewhere."""

import sys

import numpy as np
import pytest

from ragft.runtime import heap


@pytest.fixture(autouse=True)
def fresh_lookup():
    heap._malloc_trim.cache_clear()
    yield
    heap._malloc_trim.cache_clear()


def _resident_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim exists only on Linux")
def test_hands_freed_heap_memory_back_on_linux():
    blocks = [np.ones(12_000) for _ in range(2000)]  # 96 KB each: under the mmap threshold, on the heap
    del blocks[:-1]  # the last block stays: the heap cannot shrink from its top by itself
    before = _resident_mb()
    assert heap.return_freed_memory() is True
    assert _resident_mb() < before - 100  # about 190 MB were freed but still resident
    assert blocks[0].sum() == 12_000


def test_is_a_no_op_where_the_c_library_has_no_malloc_trim(monkeypatch):
    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap.return_freed_memory() is False
    heap._malloc_trim.cache_clear()
    monkeypatch.setattr(heap.sys, "platform", "linux")
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    assert heap.return_freed_memory() is False  # musl, or no libc.so.6
