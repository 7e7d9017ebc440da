"""Retention: the outbox stops growing (`[retention] days`).

`Pruner.run(now)` deletes, in batches of up to 200 rows, each its own short
write transaction: delivered and dead deliveries whose last attempt is older
than the window, with their attempts; then events older than the window that no
delivery refers to any longer. On SQLite it then gives the freed pages back to
the file system (`PRAGMA incremental_vacuum`, up to 128 pages a step).
In each run, each kind of transaction (deliveries, events, vacuum steps) starts
small, as its first ones read pages no cache holds yet, doubles its size after
each quick one, and halves it after one that held the lock longer than 25 ms.

Between two batches it pauses: SQLite's busy handler lets a waiting writer (a
poll, the delivery worker) retry only every few milliseconds, so a pruner that
took the lock again at once could keep it from them. With the pause, a writer
waits at most one batch. Pending and failed deliveries, and the events they
hold, are never touched; a crash between two batches leaves what the next run
finishes.

The reader analytics (`store.readers`) go the same way: the traffic and
distinct readers of days before the window, the aggregators' figures not
announced within it, and the salts of ended days.

Quarantine entries and poll history need no pass of their own: an entry is
deleted when its file is read again or its record sent again (a resolved one is
gone at once), and `polls` keeps its last 1,000 rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from syndicator.store.store import Store

__all__ = ["PruneReport", "Pruner"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(slots=True)
class PruneReport:
    """What one run removed, and how long its longest transaction held the lock."""

    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    pages_released: int = 0
    #: Rows of the reader analytics deleted (the most of one kind per transaction, summed).
    reader_rows: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0
    #: The longest transaction of each kind ("deliveries", "events", "vacuum"): where
    #: the lock hold comes from, for the log and the benchmarks.
    longest_by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows deleted from every table together."""
        return self.deliveries + self.attempts + self.events + self.reader_rows


class _Size:
    """How much one transaction of a kind takes on: it starts at the smallest (the
    first transactions read cold pages), doubles after each quick one up to the
    largest, and halves after one that held the lock longer than the target. A slow
    disk or a busy machine thus gets smaller transactions, not longer waits for
    writers."""

    def __init__(self, largest: int, target: float, smallest: int = 10) -> None:
        self.largest, self.target, self.smallest = largest, target, min(smallest, largest)
        self.now = self.smallest

    def took(self, seconds: float) -> None:
        if seconds > self.target:
            self.now = max(self.smallest, self.now // 2)
        elif seconds < self.target / 2:
            self.now = min(self.largest, self.now * 2)


class Pruner:
    """Deletes what the retention window no longer keeps, in short transactions."""

    #: Most deliveries (with their attempts) or events per transaction.
    BATCH = 200
    #: Most pages one `incremental_vacuum` step gives back (512 KiB of 4 KiB pages):
    #: moving a page costs about 0.2 ms of CPU, so 256 held the lock some 45 ms.
    VACUUM_PAGES = 128
    #: Seconds a transaction should hold the write lock at most; larger ones shrink.
    TARGET = 0.025
    #: Seconds between two transactions, for writers waiting on the lock.
    PAUSE = 0.05

    def __init__(
        self,
        store: Store,
        days: float,
        *,
        batch: int = BATCH,
        pause: float = PAUSE,
        vacuum_pages: int = VACUUM_PAGES,
        target: float = TARGET,
    ) -> None:
        self.store = store
        self.window = timedelta(days=days)
        self.pause = pause
        self._limits = (batch, vacuum_pages, target)
        self._deliveries, self._events, self._pages, self._readers = self._sizes()
        self._stopping = threading.Event()

    def _sizes(self) -> tuple[_Size, _Size, _Size, _Size]:
        """Fresh sizes for a run (each starts small again: a minute later the pages
        it needs may have left every cache); one per kind, as a delivery, an event
        and a page cost different times."""
        batch, vacuum_pages, target = self._limits
        return (
            _Size(batch, target),
            _Size(batch, target),
            _Size(vacuum_pages, target, 16),
            _Size(batch, target),
        )

    def stop(self) -> None:
        """End the run in progress after its current transaction (and any later run)."""
        self._stopping.set()

    def run(self, now: datetime) -> PruneReport:
        """Prune everything older than the window before `now`, batch after batch."""
        report = PruneReport()
        self._deliveries, self._events, self._pages, self._readers = self._sizes()
        before = now - self.window
        outbox = self.store.outbox
        while self._go_on(report):
            size = self._deliveries.now
            deliveries, attempts = self._timed(
                report, "deliveries", self._deliveries, outbox.prune_deliveries, before, size
            )
            report.deliveries += deliveries
            report.attempts += attempts
            if deliveries < size:
                break
        after = 0
        while self._go_on(report):
            size = self._events.now
            step = self._timed(
                report, "events", self._events, outbox.prune_events, before, after, size
            )
            report.events += step.deleted
            after = step.last_id
            if step.finished:
                break
        self._prune_readers(report, before, now)
        self._release_pages(report)
        if report.rows:
            kinds = ", ".join(f"{k} {v * 1000:.1f}" for k, v in report.longest_by_kind.items())
            log.info(
                "retention: pruned %d deliveries, %d attempts, %d events, %d reader rows "
                "in %d transactions (longest %.1f ms: %s); %d free pages released",
                report.deliveries,
                report.attempts,
                report.events,
                report.reader_rows,
                report.batches,
                report.longest_batch_seconds * 1000,
                kinds,
                report.pages_released,
            )
        return report

    def _prune_readers(self, report: PruneReport, before: datetime, now: datetime) -> None:
        first_kept, today = before.astimezone(UTC).date(), now.astimezone(UTC).date()
        while self._go_on(report):
            size = self._readers.now
            deleted = self._timed(
                report, "readers", self._readers, self.store.readers.prune, first_kept, today, size
            )
            report.reader_rows += deleted
            if deleted < size:
                break

    def _release_pages(self, report: PruneReport) -> None:
        free = start = self.store.free_pages(0)
        # Bounded: pages freed meanwhile by other writers wait for the next run.
        while 0 < free and report.pages_released < start and self._go_on(report):
            left = self._timed(
                report, "vacuum", self._pages, self.store.free_pages, self._pages.now
            )
            if left >= free:
                return  # nothing moved: leave it to the next run
            report.pages_released += free - left
            free = left

    def _go_on(self, report: PruneReport) -> bool:
        """Pause after a transaction (not before the first); False once stopping."""
        if report.batches and self.pause > 0:
            self._stopping.wait(self.pause)
        return not self._stopping.is_set()

    @staticmethod
    def _timed(
        report: PruneReport, kind: str, size: _Size, step: Callable[..., _T], *args: Any
    ) -> _T:
        started = time.perf_counter()
        try:
            return step(*args)
        finally:
            elapsed = time.perf_counter() - started
            size.took(elapsed)
            report.batches += 1
            report.longest_batch_seconds = max(report.longest_batch_seconds, elapsed)
            longest = report.longest_by_kind
            longest[kind] = max(longest.get(kind, 0.0), elapsed)
