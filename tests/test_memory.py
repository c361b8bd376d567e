"""Freed memory goes back to the system between steps (``finflow_assets.memory``)."""

import gc
import json
import os
import subprocess
import sys

import pytest

from finflow_assets.memory import release_freed_memory

MIB = 2**20


# Run in a fresh interpreter: the heap of a process that has run other tests has holes, and arrays
# placed in them (with the pinning array below them) leave a free top that glibc trims by itself.
SCENARIO = """
import gc, json, numpy as np, psutil
from finflow_assets.memory import release_freed_memory
MIB = 2**20
process = psutil.Process()
first = np.ones(8 * MIB // 8)
del first  # freeing an mmapped block raises glibc's mmap threshold: the arrays below come from the heap
columns = [np.ones(2 * MIB // 8) for _ in range(150)]  # 300 MiB, like a large frame's columns
still_used = np.ones(MIB // 8)  # allocated after them, at the top of the heap: it pins the freed pages below
held = process.memory_info().rss
del columns
gc.collect()
kept = process.memory_info().rss
released = release_freed_memory()
after = process.memory_info().rss
figures = {"released": released, "by_free": held - kept, "by_trim": kept - after, "pin": float(still_used.sum())}
print(json.dumps(figures))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_memory_a_step_freed_is_returned_to_the_system():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    done = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, env=env, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["released"] is True
    assert figures["pin"] == MIB // 8
    # Without the trim the pages stay with the process: freeing alone returns little of the 300 MiB.
    assert figures["by_free"] < 100 * MIB, figures
    assert figures["by_trim"] > 200 * MIB, f"only {figures['by_trim'] / MIB:.0f} MiB returned: {figures}"


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
