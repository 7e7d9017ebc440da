"""The reader recorder: counts document requests in memory, flushes them to the store.

`Recorder.observe` is the web app's observer, called on the event loop once per
document answered (200 or 304): it only bumps a counter and remembers the
(path, agent, address) triple in a bounded dict, under a lock held for a few
dictionary operations. Everything else happens on the recorder's thread every
few seconds (and at stop): telling aggregators from direct readers
(`core.agents`), hashing each direct reader with the day's salt, and adding the
whole batch to the store in one transaction. Addresses and agent strings live
only in that memory, never longer than one flush interval; what reaches the
database is counts, truncated salted hashes, and aggregators' names, feed ids
and figures.

Bounds: at most `max_paths` paths and `max_readers` (path, agent, address)
triples are kept between two flushes; what does not fit is counted as dropped
and logged once. Agent strings are cut to `AGENT_BYTES`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from syndicator.core.agents import aggregator
from syndicator.errors import StoreError
from syndicator.store.readers import ReaderBatch, Readers

__all__ = ["AGENT_BYTES", "FLUSH_SECONDS", "Recorder", "reader_hash"]

log = logging.getLogger(__name__)

#: Seconds between two flushes to the store.
FLUSH_SECONDS = 5.0
#: Bytes of a User-Agent kept: enough for every aggregator's figure and feed id.
AGENT_BYTES = 512
#: Hex digits kept of a reader's salted hash (64 bits: collisions among a
#: feed's readers of one day are negligible, and the hash says little more).
HASH_HEX = 16

_Key = tuple[str, bytes, str]


def reader_hash(salt: bytes, address: str, agent: bytes) -> str:
    """A direct reader of one day: keyed BLAKE2b of address and agent, truncated."""
    digest = hashlib.blake2b(key=salt[:64], digest_size=HASH_HEX // 2)
    digest.update(address.encode("utf-8", "replace"))
    digest.update(b"\0")
    digest.update(agent)
    return digest.hexdigest()


class Recorder:
    """Counts requests for documents and flushes them to `store.readers` in batches."""

    def __init__(
        self,
        readers: Readers,
        *,
        clock: Callable[[], datetime],
        interval: float = FLUSH_SECONDS,
        max_paths: int = 10_000,
        max_readers: int = 20_000,
    ) -> None:
        self.readers = readers
        self.clock = clock
        self.interval = interval
        self.max_paths = max_paths
        self.max_readers = max_readers
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}
        self._seen: dict[_Key, None] = {}
        #: Requests not counted at all, and readers not told apart, since start.
        self.dropped_requests = 0
        self.dropped_readers = 0
        self._warned = False
        self._salt: tuple[date, bytes] | None = None
        #: A batch a failed flush could not write, tried again with the next one.
        self._pending: ReaderBatch | None = None
        self._flush_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the event loop's side: O(1), no I/O, no hashing beyond dict keys ----------

    def observe(self, path: str, status: int, agent: bytes, address: str) -> None:
        """Count one answered request for the document at `path`."""
        if status != 200 and status != 304:
            return
        if len(agent) > AGENT_BYTES:
            agent = agent[:AGENT_BYTES]
        with self._lock:
            counts = self._counts.get(path)
            if counts is None:
                if len(self._counts) >= self.max_paths:
                    self.dropped_requests += 1
                    return
                counts = self._counts[path] = [0, 0]
            counts[0] += 1
            if status == 304:
                counts[1] += 1
            key = (path, agent, address)
            if key not in self._seen:
                if len(self._seen) >= self.max_readers:
                    self.dropped_readers += 1
                else:
                    self._seen[key] = None

    # -- the recorder thread's side ------------------------------------------------

    def start(self) -> None:
        """Flush every `interval` seconds on a thread of its own."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="reader-analytics", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and flush what was counted since the last flush."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.flush()

    def flush(self) -> bool:
        """Write what was counted since the last flush (one transaction); never
        raises. False when the store could not take it (kept for the next one)."""
        with self._flush_lock:
            with self._lock:
                counts, self._counts = self._counts, {}
                seen, self._seen = self._seen, {}
                dropped = self.dropped_requests + self.dropped_readers
            self._warn_dropped(dropped)
            if not counts and self._pending is None:
                return True
            batch: ReaderBatch | None = None
            try:
                batch = self._with_pending(self._batch(counts, seen))
                self.readers.record(batch)
            except StoreError as exc:
                # Without a salt (the database was unreachable) nothing of this
                # interval can be kept: its readers cannot be told apart later.
                log.warning("reader analytics not written (kept for the next flush): %s", exc)
                self._pending = batch
                return False
            except Exception:
                log.exception("reader analytics flush crashed")
                return False
            return True

    def _with_pending(self, batch: ReaderBatch) -> ReaderBatch:
        """`batch` with the one a failed flush left, when it is of the same day."""
        pending, self._pending = self._pending, None
        if pending is None:
            return batch
        if pending.day != batch.day:
            log.warning("reader analytics of %s could not be written; dropped", pending.day)
            return batch
        pending.merge(batch)
        return pending

    def _batch(self, counts: dict[str, list[int]], seen: dict[_Key, None]) -> ReaderBatch:
        now = self.clock().astimezone(UTC)
        batch = ReaderBatch(now.date(), traffic=counts)
        salt: bytes | None = None
        for path, agent, address in seen:
            fetcher = aggregator(agent.decode("latin-1"))
            if fetcher is not None:
                if fetcher.subscribers is not None:
                    key = (path, fetcher.source, fetcher.feed_id)
                    batch.subscribers[key] = (fetcher.subscribers, now)
                continue
            if salt is None:
                salt = self._day_salt(batch.day)
            batch.visits.add((path, reader_hash(salt, address, agent)))
        return batch

    def _day_salt(self, day: date) -> bytes:
        cached = self._salt
        if cached is None or cached[0] != day:
            cached = self._salt = (day, self.readers.salt(day))
        return cached[1]

    def _warn_dropped(self, dropped: int) -> None:
        if dropped and not self._warned:
            self._warned = True
            log.warning(
                "reader analytics: more paths or readers between two flushes than kept "
                "(%d paths, %d readers); the excess is counted as dropped",
                self.max_paths,
                self.max_readers,
            )
