"""Several processes over one PostgreSQL database (SPEC §9).

One process, the holder of an advisory lock, polls and builds; the others
retry the lock every `ELECTION_SECONDS`, so one takes over within seconds
when the holder dies. The builder stores its rendered documents in the
`documents` table and NOTIFYs; every process LISTENs, loads what changed and
serves it, and wakes its delivery worker when events were committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from syndicator.coordination.base import (
    Hooks,
    register_builder,
)
from syndicator.coordination.postgres import (
    DOCUMENTS_CHANNEL,
    EVENTS_CHANNEL,
    BuilderLock,
    Signals,
)
from syndicator.errors import StoreError
from syndicator.models import Published
from syndicator.store.store import Store

__all__ = ["ELECTION_SECONDS", "Cluster"]

log = logging.getLogger(__name__)

#: How often a process that does not build checks whether the role is free.
ELECTION_SECONDS = 2.0


class Cluster:
    """The `Coordination` of processes sharing a PostgreSQL database."""

    #: The other processes may run elsewhere: documents travel in the database.
    shares_documents = True

    def __init__(self, store: Store, identity: str, *, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock
        self.lock = BuilderLock(store)
        self.signals = Signals(
            store, {EVENTS_CHANNEL: self._wake_delivery, DOCUMENTS_CHANNEL: self._sync}
        )
        self._builder = False
        self._hooks: Hooks | None = None
        self._documents_version = 0
        # Elections run on the election thread and before each scheduled run;
        # documents are synced from the listener thread and the job thread.
        self._elect_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._stopping = threading.Event()
        self._elector: threading.Thread | None = None

    @property
    def is_builder(self) -> bool:
        """Whether this process holds the builder lock (as of the last election)."""
        return self._builder

    def start(self, hooks: Hooks) -> None:
        """Serve what the builder already shared, try for the role, then listen and retry."""
        self._hooks = hooks
        self._sync()
        self._elect()
        self.signals.start()
        self._elector = threading.Thread(
            target=self._keep_electing, name="builder-election", daemon=True
        )
        self._elector.start()

    def take_turn(self) -> bool:
        """Check the lock before each run; a standby serves what it may have missed."""
        self._elect()
        if self._builder:
            return True
        self._sync()  # in case a NOTIFY was missed
        return False

    def share(self, published: Sequence[Published]) -> None:
        """Store documents whose bytes changed and tell the other processes."""
        changed = [(doc.path, doc.body, doc.content_type, doc.last_modified) for doc in published]
        try:
            self.store.feeds.save_documents(changed, self.clock())
        except StoreError as exc:
            log.error("cannot share documents: %s", exc)
            return
        self.signals.notify(DOCUMENTS_CHANNEL)

    def events_committed(self) -> None:
        """NOTIFY the delivery workers of every process."""
        self.signals.notify(EVENTS_CHANNEL)

    def stop(self) -> None:
        """Stop retrying the lock and listening."""
        self._stopping.set()
        if self._elector is not None:
            # Short: an election stuck on an unreachable database must not
            # hold up a SIGTERM; the thread is a daemon and ends with the process.
            self._elector.join(timeout=1.0)
        self.signals.stop()

    def release(self) -> None:
        """Give the role up (closing the lock's connection releases it)."""
        self.lock.release()

    def _keep_electing(self) -> None:
        while not self._stopping.wait(ELECTION_SECONDS):
            try:
                self._elect()
            except Exception:  # the next try may succeed; the thread must live on
                log.exception("builder election failed")

    def _elect(self) -> None:
        """Take the builder role when it is free; notice when it was lost."""
        with self._elect_lock:
            try:
                held = self.lock.held()
            except Exception:
                log.exception("builder election failed")
                held = False
            if held and not self._builder:
                log.info("this process (%s) now polls and builds", self.identity)
                register_builder(self.store, self.identity, self.clock())
                self._builder = True
                if self._hooks is not None:
                    self._hooks.elected()
            elif not held and self._builder:
                log.warning("this process (%s) lost the builder role", self.identity)
                self._builder = False

    def _sync(self) -> None:
        """Serve the documents the builder stored since the last sync."""
        with self._sync_lock:
            try:
                version, rows = self.store.feeds.load_documents(self._documents_version)
            except StoreError as exc:
                log.warning("cannot load published documents: %s", exc)
                return
            if rows and self._hooks is not None:
                # The builder announces builds made beside it (a `once`); its
                # own come back here already served, so nothing is sent twice.
                hooks = self._hooks
                serve = hooks.adopt if self._builder and hooks.adopt else hooks.serve
                serve([Published(*row) for row in rows])
            self._documents_version = version

    def _wake_delivery(self) -> None:
        if self._hooks is not None:
            self._hooks.wake_delivery()
