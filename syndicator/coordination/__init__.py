"""How `syndicator run` processes share a database: one strategy per deployment.

`Solo` for SQLite (one process per file), `Cluster` for PostgreSQL (any number
of processes, in `coordination.cluster`); `for_store` chooses once, at wiring
time, and loads psycopg only for the cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from syndicator.coordination.base import (
    Coordination,
    Hooks,
    process_identity,
)
from syndicator.coordination.solo import Solo
from syndicator.models import Published
from syndicator.store.feeds import PublishedState
from syndicator.store.store import Store

__all__ = [
    "Coordination",
    "Hooks",
    "Solo",
    "for_store",
    "process_identity",
]


def for_store(
    store: Store,
    identity: str,
    *,
    clock: Callable[[], datetime],
    load_published: Callable[[], Sequence[Published]],
    read_published: Callable[[PublishedState], Published | None] | None = None,
) -> Coordination:
    """The strategy for `store`: a cluster on PostgreSQL, a single process on SQLite."""
    if store.dialect == "postgresql":
        # Imported here: psycopg (and the cluster's threads) only on PostgreSQL.
        from syndicator.coordination.cluster import Cluster

        return Cluster(store, identity, clock=clock)
    return Solo(
        store,
        identity,
        clock=clock,
        load_published=load_published,
        read_published=read_published,
    )
