"""Which `syndicator run` processes are alive: a heartbeat each writes, and how to read it.

Every process records its role in the `processes` table every
`HEARTBEAT_SECONDS` and marks itself stopped when it stops cleanly.
`syndicator status` calls a process gone when it stopped, when its
heartbeat is older than `GONE_AFTER_SECONDS`, or, on the same host, when
its process id no longer exists (a `kill -9` shows at once).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from syndicator.errors import StoreError
from syndicator.store.processes import ProcessRecord
from syndicator.store.store import Store

__all__ = ["GONE_AFTER_SECONDS", "HEARTBEAT_SECONDS", "Heartbeat", "is_running"]

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
#: Three heartbeats missed: the process is gone.
GONE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
#: Processes not heard of for this long are dropped from the table.
_FORGET_AFTER = timedelta(days=7)


class Heartbeat:
    """Records that this process is alive, and in which role, until it stops."""

    def __init__(
        self,
        store: Store,
        identity: str,
        role: Callable[[], str],
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.identity = identity
        self.role = role
        self.clock = clock
        self.started_at = clock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Beat now, then every `HEARTBEAT_SECONDS` on a background thread."""
        now = self.clock()
        try:
            self.store.processes.forget_before(now - _FORGET_AFTER)
        except StoreError as exc:
            log.warning("cannot prune the process list: %s", exc)
        self.beat()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        """Record this process as alive now; a failure is logged, never raised."""
        try:
            self.store.processes.beat(self.identity, self.role(), self.started_at, self.clock())
        except StoreError as exc:
            log.warning("cannot record the heartbeat: %s", exc)

    def stop(self) -> None:
        """Stop beating and record a clean stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        try:
            self.store.processes.stopped(self.identity, self.clock())
        except StoreError as exc:
            log.warning("cannot record the stop: %s", exc)

    def _run(self) -> None:
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            self.beat()


def is_running(record: ProcessRecord, now: datetime, host: str | None = None) -> bool:
    """Whether the process `record` describes still runs, as far as can be told from here."""
    if record.stopped_at is not None:
        return False
    name, _, pid = record.identity.rpartition(":")
    if name == (socket.gethostname() if host is None else host) and pid.isdigit():
        # A long transaction can hold a heartbeat up; the process table cannot lie.
        return _pid_alive(int(pid))
    return (now - record.heartbeat_at).total_seconds() <= GONE_AFTER_SECONDS


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
