"""The coordination seam: how a `syndicator run` process shares its work with others.

A strategy decides who polls and builds (the builder), carries the builder's
documents to the processes that only serve them, and tells other processes
that events were committed. `Solo` (SQLite) and `Cluster` (PostgreSQL) are
chosen once at wiring time; the daemon only schedules and reports health.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson

from syndicator.core.times import format_time
from syndicator.models import Published
from syndicator.store.store import Store

__all__ = [
    "Coordination",
    "Hooks",
    "process_identity",
    "register_builder",
]


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the daemon does when coordination has news; called from background threads."""

    #: Serve these documents (they replace those at the same paths).
    serve: Callable[[Sequence[Published]], None]
    #: Another process committed events: look for deliveries now.
    wake_delivery: Callable[[], None]
    #: This process just took the builder role: poll now rather than at the next interval.
    elected: Callable[[], None]
    #: The Last-Modified of what is served at a published path (None: nothing).
    served: Callable[[str], datetime | None] = lambda _path: None
    #: Whether this process is polling and building right now.
    busy: Callable[[], bool] = lambda: False
    #: Documents another process built (`syndicator once`, a takedown) that
    #: this builder did not: announce them as its own builds are (WebSub), then
    #: serve them. None: serve them alone.
    adopt: Callable[[Sequence[Published]], None] | None = None


class Coordination(Protocol):
    """One process's part among those sharing a database."""

    #: Who this process is, as `status` and `/healthz` show it.
    identity: str
    #: Whether `share` needs the documents a build rendered (a one-shot build
    #: keeps them in memory only then).
    shares_documents: bool

    @property
    def is_builder(self) -> bool:
        """Whether this process polls and builds at the moment."""

    def start(self, hooks: Hooks) -> None:
        """Take part: serve what is already published, elect, listen to the others."""

    def take_turn(self) -> bool:
        """A scheduled run begins: True when this process should poll and build now.

        A process that does not build serves what the builder shared meanwhile.
        """

    def share(self, published: Sequence[Published]) -> None:
        """Make documents this process built available to the other processes."""

    def events_committed(self) -> None:
        """A poll committed events: wake the delivery workers of the other processes."""

    def stop(self) -> None:
        """Stop listening and electing (the role is kept until `release`)."""

    def release(self) -> None:
        """Give the builder role up; call only when no poll is in flight."""


def process_identity() -> str:
    """This process among others: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def register_builder(store: Store, identity: str, now: datetime) -> None:
    """Record which process builds, for `syndicator status` (SPEC §8)."""
    value = orjson.dumps({"id": identity, "since": format_time(now)}).decode()
    store.polls.set_meta("builder", value, now)
