"""Worker processes and memory for large polls and builds.

Validation and rendering are CPU-bound Python, so large work is spread over
processes rather than threads; both use cases start them the same way, and a
command or daemon shares one set of them (`Workers`) between its polls and
builds, so a worker's start-up (an interpreter and the imports, ~0.5 s) is
paid once rather than per poll and per build.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

__all__ = [
    "Workers",
    "collect_idle",
    "default_processes",
    "keep_freed_memory",
    "preload",
    "process_pool",
    "return_freed_memory",
]

log = logging.getLogger(__name__)

_PARENT_CHECK_SECONDS = 0.5
# glibc's mallopt parameters (malloc.h), and the values `keep_freed_memory`
# sets: blocks below 4 MB come from the heap, and up to 32 MB of its free
# top is kept.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 4 << 20
_TRIM_THRESHOLD = 32 << 20


def default_processes(configured: int | None) -> int:
    """The processes to use: as configured, else one per core up to 4."""
    return configured or min(os.cpu_count() or 1, 4)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` fresh interpreters, which exit if this process dies."""
    # `spawn`: a fresh interpreter never inherits the daemon's threads and locks.
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def _start_worker(parent: int) -> None:
    """In a worker, before its first task: memory as in its parent, and an
    exit once the parent is gone."""
    keep_freed_memory()
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit once `parent` is gone (a `kill -9`, say).

    An idle worker waits on its task queue, whose pipe it holds both ends
    of, so it would never notice on its own and outlive the daemon.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def keep_freed_memory() -> None:
    """Have glibc keep memory freed during a poll or build for reuse, until
    `return_freed_memory` hands it back at the end.

    A build reads, splits and writes feed files a few hundred KB each. By
    default glibc maps each block that large afresh and unmaps it when freed,
    so every file costs page faults on zeroed memory, and it trims the heap
    whenever its free top passes 128 KB. Measured on a rebuild of 500 topics
    (1,500 files, 600 MB) with the build's trims (`FeedRun`): 330k page
    faults and 1.9 s of system time before, 76k and 1.2 s after, the peak
    340 MB instead of 270. A no-op without glibc.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


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


def collect_idle() -> None:
    """Collect garbage now, between jobs, and hand freed memory back.

    A full collection walks every tracked object: in a daemon holding a
    large store's caches it takes about 55 ms. Left to itself, the
    interpreter runs one when enough objects have survived since the last,
    which is in the middle of the job that made them, rendering feeds
    someone is waiting for. Collected while idle, the count starts afresh
    and a small job runs without one.
    """
    gc.collect()
    return_freed_memory()


def preload(modules: Sequence[str]) -> None:
    """Import `modules` in this (worker) process, ahead of the tasks that need
    them, and hand back what the previous task left freed."""
    for name in modules:
        importlib.import_module(name)
    return_freed_memory()


class Workers:
    """Worker processes kept for a command's or daemon's lifetime.

    Started on first use. `preload` has each worker load the modules its
    tasks will need, ahead of them (a build's rendering stack, say, while a
    poll still runs); until that is done `warm` is False, and callers that
    only split work worth a worker's start-up keep small work in their own
    process. A pool whose worker died is dropped (`discard`) and started
    afresh on the next use.
    """

    def __init__(self, count: int, modules: Sequence[str] = (), *, keep_warm: bool = False) -> None:
        #: Worker processes besides the caller's own.
        self.count = max(count, 0)
        #: What `preload` imports in each worker.
        self.modules = tuple(modules)
        #: Preload every pool as it starts (a daemon's, which renders every build).
        self.keep_warm = keep_warm
        self._pool: ProcessPoolExecutor | None = None
        self._preloads: list[Future[None]] = []
        self._lock = threading.Lock()

    @classmethod
    def configured(
        cls, processes: int | None, modules: Sequence[str] = (), *, keep_warm: bool = False
    ) -> Workers:
        """The workers beside this process for `poll.processes` (`processes`
        in all, by default one per core up to 4)."""
        return cls(default_processes(processes) - 1, modules, keep_warm=keep_warm)

    @property
    def started(self) -> bool:
        """Whether the workers are running."""
        return self._pool is not None

    @property
    def warm(self) -> bool:
        """Whether the workers are running and have loaded `modules`."""
        with self._lock:
            preloads = list(self._preloads)
        return bool(preloads) and all(f.done() and f.exception() is None for f in preloads)

    def pool(self) -> ProcessPoolExecutor:
        """The running pool, started now if needed; raises `OSError` or
        `RuntimeError` when no worker can start (no /dev/shm, say)."""
        if self.count < 1:
            raise RuntimeError("no worker processes configured")
        with self._lock:
            if self._pool is None:
                self._pool = process_pool(self.count)
                if self.keep_warm:
                    self._queue_preloads(self._pool)
            return self._pool

    def preload(self) -> None:
        """Start the workers if needed and have each load `modules`, in the
        background; once per pool."""
        if self.count < 1 or not self.modules:
            return
        try:
            pool = self.pool()
        except (OSError, RuntimeError) as exc:
            log.warning("cannot start worker processes (%s); working in this one", exc)
            return
        with self._lock:
            if pool is self._pool:
                self._queue_preloads(pool)

    def _queue_preloads(self, pool: ProcessPoolExecutor) -> None:
        if self._preloads or not self.modules:
            return
        try:
            # One task per worker: the pool starts a worker for each task that
            # finds none idle, so all of them start and load at once.
            self._preloads = [pool.submit(preload, self.modules) for _ in range(self.count)]
        except RuntimeError:  # broken or shut down: the next use starts afresh
            self._preloads = []

    def discard(self) -> None:
        """Drop a pool whose worker failed; the next use starts a new one."""
        with self._lock:
            pool, self._pool, self._preloads = self._pool, None, []
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (they finish the task in hand)."""
        with self._lock:
            pool, self._pool, self._preloads = self._pool, None, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
