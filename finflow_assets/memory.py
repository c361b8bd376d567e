"""Handing memory a finished step freed back to the operating system.

A pipeline run executes its steps in one process (``finflow demo``, the benches, Dagster's in-process executor).
glibc's allocator keeps what a large step freed (a million-row frame's columns) inside the process's heap for
reuse, so each step would start from the high-water mark of the ones before it and the peak would grow with the
number of steps, not with the largest one. ``malloc_trim`` returns those free pages at once.

A full garbage collection walks every object the process holds, ~600,000 once Dagster, dbt's events, MLflow and
scikit-learn are loaded: 0.3 s per heavy step, twice in a 15-minute tick. What is alive when a step starts (modules,
definitions, caches) lives for the run, so after collecting it is frozen (``gc.freeze``): later collections walk
only what was made since, the steps' own frames and models among it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from functools import cache

log = logging.getLogger(__name__)


@cache
def _malloc_trim():  # noqa: ANN202 - a ctypes function, or None where the C library has none (macOS, musl)
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Collect garbage and return the allocator's free pages to the system; False where that is not possible."""
    gc.collect()
    gc.freeze()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
