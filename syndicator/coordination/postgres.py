"""PostgreSQL primitives of the cluster (SPEC §9): an advisory lock and LISTEN/NOTIFY.

- `BuilderLock`: exactly one process polls and builds. It is a session-level
  advisory lock held on a dedicated connection: when the holder dies its
  connection drops, the server releases the lock, and the next process to
  try takes over.
- `Signals`: ``NOTIFY`` after commits and a listener thread that turns
  ``LISTEN`` notifications into callbacks, so senders and servers in other
  processes react at once instead of at their next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy.engine import make_url

from syndicator.store.store import Store

__all__ = ["DOCUMENTS_CHANNEL", "EVENTS_CHANNEL", "BuilderLock", "Signals", "libpq_url"]

log = logging.getLogger(__name__)

#: Arbitrary, fixed: the advisory lock key of the poll-and-build role.
BUILDER_LOCK_KEY = 7_210_002
EVENTS_CHANNEL = "syndicator_events"
DOCUMENTS_CHANNEL = "syndicator_documents"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class BuilderLock:
    """Who polls and builds: the holder of an advisory lock."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        """Take the role if it is free; True while we hold it."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    log.warning("lost the database connection holding the builder lock")
                    self._close()
            try:
                conn = psycopg.connect(
                    libpq_url(self.store.url), autocommit=True, connect_timeout=5
                )
            except psycopg.Error as exc:
                log.warning("cannot reach the database for the builder lock: %s", exc)
                return False
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (BUILDER_LOCK_KEY,)).fetchone()
            if row is not None and row[0]:
                self._conn = conn
                return True
            conn.close()
            return False

    def release(self) -> None:
        """Give the role up (closing the connection releases the lock)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None


class Signals:
    """NOTIFY/LISTEN between processes."""

    def __init__(self, store: Store, handlers: Mapping[str, Callable[[], None]]) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self, channel: str) -> None:
        """Tell every listening process that `channel` has news."""
        try:
            with psycopg.connect(libpq_url(self.store.url), autocommit=True) as conn:
                conn.execute("SELECT pg_notify(%s, '')", (channel,))
        except psycopg.Error as exc:
            log.warning("cannot notify %s: %s", channel, exc)

    def start(self) -> None:
        """Listen in a background thread."""
        if not self.handlers:
            return
        self._thread = threading.Thread(target=self._listen, name="pg-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(libpq_url(self.store.url), autocommit=True) as conn:
                    for channel in self.handlers:
                        conn.execute(f'LISTEN "{channel}"')
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            handler = self.handlers.get(note.channel)
                            if handler is not None:
                                handler()
            except psycopg.Error as exc:
                log.warning("listen connection lost (%s); reconnecting", exc)
                self._stop.wait(1.0)
