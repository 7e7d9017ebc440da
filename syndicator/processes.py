"""Worker processes and memory for large polls and builds.

Validation and rendering are CPU-bound Python, so large work is spread over
processes rather than threads; both use cases start them the same way.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

__all__ = ["default_processes", "process_pool", "return_freed_memory"]


def default_processes(configured: int | None) -> int:
    """The processes to use: as configured, else one per core up to 4."""
    return configured or min(os.cpu_count() or 1, 4)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` fresh interpreters."""
    # `spawn`: a fresh interpreter never inherits the daemon's threads and locks.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def return_freed_memory() -> None:
    """Hand heap memory freed by a large poll or build back to the OS.

    glibc keeps freed pages for reuse, so a process that once imported 100k
    records would keep that peak for good (measured: 210 MB after such a
    poll, 90 MB after trimming). A no-op where `malloc_trim` does not exist.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
