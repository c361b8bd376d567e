"""Freed memory goes back to the system between steps (``finflow_assets.memory``)."""

import gc
import sys

import numpy as np
import psutil
import pytest

from finflow_assets.memory import release_freed_memory

MIB = 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_memory_a_step_freed_is_returned_to_the_system():
    process = psutil.Process()
    first = np.ones(8 * MIB // 8)
    del first  # freeing an mmapped block raises glibc's mmap threshold: the arrays below come from the heap
    columns = [np.ones(2 * MIB // 8) for _ in range(150)]  # 300 MiB, like a large frame's columns
    still_used = np.ones(MIB // 8)  # allocated after them, at the top of the heap: it pins the freed pages below
    held = process.memory_info().rss
    del columns
    gc.collect()
    kept = process.memory_info().rss
    assert release_freed_memory()
    released = kept - process.memory_info().rss
    assert released > 200 * MIB, f"only {released / MIB:.0f} MiB returned ({(held - kept) / MIB:.0f} MiB before)"
    assert still_used.sum() == MIB // 8


def test_garbage_made_after_a_release_is_still_collected():
    import weakref

    class Node:
        def __init__(self) -> None:
            self.payload = bytearray(MIB)
            self.me = self  # a cycle: only the garbage collector frees it

    release_freed_memory()
    frozen = gc.get_freeze_count()
    assert frozen > 0  # what was alive at the release is left out of later collections
    node = Node()
    alive = weakref.ref(node)
    del node
    assert alive() is not None
    release_freed_memory()
    assert alive() is None
