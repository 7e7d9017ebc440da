"""`processes`: each `syndicator run` process, its role and its last heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from syndicator.core.times import db_time
from syndicator.store import schema as t
from syndicator.store.db import Database, parse_time

__all__ = ["ProcessRecord", "Processes"]


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One process as it last reported itself."""

    identity: str
    role: str
    started_at: datetime
    heartbeat_at: datetime
    #: When it stopped cleanly; None while it runs or after it died.
    stopped_at: datetime | None


class Processes:
    """The heartbeats of the `run` processes sharing this database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def beat(self, identity: str, role: str, started_at: datetime, now: datetime) -> None:
        """Record that `identity` is alive in `role` now."""
        p = t.processes
        values = {"role": role, "heartbeat_at": db_time(now), "stopped_at": None}
        with self.db.write() as conn:
            done = conn.execute(update(p).where(p.c.identity == identity).values(**values))
            if done.rowcount == 0:
                conn.execute(
                    insert(p).values(identity=identity, started_at=db_time(started_at), **values)
                )

    def stopped(self, identity: str, now: datetime) -> None:
        """Record that `identity` stopped cleanly."""
        p = t.processes
        with self.db.write() as conn:
            conn.execute(
                update(p)
                .where(p.c.identity == identity)
                .values(stopped_at=db_time(now), heartbeat_at=db_time(now))
            )

    def forget_before(self, cutoff: datetime) -> None:
        """Drop processes not heard of since `cutoff` (old restarts would pile up)."""
        p = t.processes
        with self.db.write() as conn:
            conn.execute(p.delete().where(p.c.heartbeat_at < db_time(cutoff)))

    def all(self) -> list[ProcessRecord]:
        """Every known process, most recently heard of first."""
        p = t.processes
        with self.db.read() as conn:
            rows = conn.execute(select(p).order_by(p.c.heartbeat_at.desc(), p.c.identity)).all()
        return [
            ProcessRecord(
                r.identity,
                r.role,
                datetime.fromisoformat(r.started_at),
                datetime.fromisoformat(r.heartbeat_at),
                parse_time(r.stopped_at),
            )
            for r in rows
        ]
