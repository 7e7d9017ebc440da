"""The durable side of the WebSub hub: verified subscriptions and requests awaiting verification.

Two tables (migration 3). ``websub_verifications`` holds at most one request per
(topic, callback) pair; a newer request replaces an older one and gets a new token,
so the answer to a superseded verification is never applied. ``websub_subscriptions``
holds what a subscriber confirmed: a request changes it only once verified (W3C
WebSub §5.3: each verified request overrides the previous state), so a failed
renewal leaves the running subscription alone. A lease that has ended makes a
subscription inactive at once (every read compares ``expires_at`` with ``now``);
``expire()`` merely records the state for listings.

Secrets are stored, since every push must be signed with them, and are never part of
what :meth:`Subscription.public` returns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from syndicator.core.times import db_time, format_time
from syndicator.store import schema as t
from syndicator.store.db import Database, parse_time

__all__ = ["MODES", "Intent", "Subscription", "Subscriptions", "TooManyPending"]

MODES = ("subscribe", "unsubscribe")
_S = t.websub_subscriptions
_V = t.websub_verifications


class TooManyPending(Exception):
    """The hub already waits on as many verifications as it allows."""


@dataclass(frozen=True, slots=True)
class Intent:
    """A subscribe or unsubscribe request waiting for its verification of intent."""

    id: int
    topic: str
    callback: str
    mode: str
    secret: str | None = field(repr=False)
    lease_seconds: int | None
    token: str
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class Subscription:
    """A verified subscription of one callback to one topic."""

    id: int
    topic: str
    callback: str
    secret: str | None = field(repr=False)
    lease_seconds: int
    state: str
    expires_at: datetime
    created_at: datetime
    verified_at: datetime
    last_push_at: datetime | None
    last_status_code: int | None

    def active(self, now: datetime) -> bool:
        """Whether pushes may go out: verified and the lease not yet over."""
        return self.state == "active" and now < self.expires_at

    def public(self, now: datetime) -> dict[str, Any]:
        """JSON-ready fields for listings; says whether there is a secret, never what it is."""
        return {
            "id": self.id,
            "topic": self.topic,
            "callback": self.callback,
            "state": "active" if self.active(now) else "expired",
            "has_secret": self.secret is not None,
            "lease_seconds": self.lease_seconds,
            "expires_at": format_time(self.expires_at),
            "created_at": format_time(self.created_at),
            "verified_at": format_time(self.verified_at),
            "last_push_at": None if self.last_push_at is None else format_time(self.last_push_at),
            "last_status_code": self.last_status_code,
        }


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        topic=row.topic,
        callback=row.callback,
        secret=row.secret,
        lease_seconds=row.lease_seconds,
        state=row.state,
        expires_at=datetime.fromisoformat(row.expires_at),
        created_at=datetime.fromisoformat(row.created_at),
        verified_at=datetime.fromisoformat(row.verified_at),
        last_push_at=parse_time(row.last_push_at),
        last_status_code=row.last_status_code,
    )


def _intent(row: Any) -> Intent:
    return Intent(
        id=row.id,
        topic=row.topic,
        callback=row.callback,
        mode=row.mode,
        secret=row.secret,
        lease_seconds=row.lease_seconds,
        token=row.token,
        requested_at=datetime.fromisoformat(row.requested_at),
    )


class Subscriptions:
    """Reads and writes WebSub state in the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- requests awaiting verification ------------------------------------------

    def request(
        self,
        *,
        topic: str,
        callback: str,
        mode: str,
        secret: str | None,
        lease_seconds: int | None,
        token: str,
        now: datetime,
        max_pending: int,
    ) -> Intent:
        """Record a request (replacing an older one for the same pair) and return it."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        values = {
            "mode": mode,
            "secret": secret,
            "lease_seconds": lease_seconds,
            "token": token,
            "requested_at": db_time(now),
        }
        pair = (_V.c.topic == topic) & (_V.c.callback == callback)
        with self.db.write() as conn:
            existing = conn.execute(select(_V.c.id).where(pair)).scalar()
            if existing is not None:
                conn.execute(update(_V).where(_V.c.id == existing).values(**values))
            else:
                pending = conn.execute(select(func.count()).select_from(_V)).scalar_one()
                if pending >= max_pending:
                    raise TooManyPending(f"{pending} verifications pending")
                conn.execute(insert(_V).values(topic=topic, callback=callback, **values))
            row = conn.execute(select(_V).where(pair)).one()
        return _intent(row)

    def confirm(self, intent: Intent, now: datetime) -> bool:
        """Apply a verified request, if it is still the current one; True when applied."""
        with self.db.write() as conn:
            gone = conn.execute(
                delete(_V).where((_V.c.id == intent.id) & (_V.c.token == intent.token))
            ).rowcount
            if not gone:
                return False  # superseded by a newer request, which will be verified itself
            pair = (_S.c.topic == intent.topic) & (_S.c.callback == intent.callback)
            if intent.mode == "unsubscribe":
                conn.execute(delete(_S).where(pair))
                return True
            lease = int(intent.lease_seconds or 0)
            values = {
                "secret": intent.secret,
                "lease_seconds": lease,
                "state": "active",
                "expires_at": db_time(now + timedelta(seconds=lease)),
                "verified_at": db_time(now),
            }
            if conn.execute(update(_S).where(pair).values(**values)).rowcount == 0:
                conn.execute(
                    insert(_S).values(
                        topic=intent.topic,
                        callback=intent.callback,
                        created_at=db_time(now),
                        **values,
                    )
                )
        return True

    def discard(self, intent: Intent, now: datetime) -> None:
        """Forget a request whose verification failed (unless a newer one replaced it)."""
        with self.db.write() as conn:
            conn.execute(delete(_V).where((_V.c.id == intent.id) & (_V.c.token == intent.token)))

    def take_stale(self, older_than: datetime, now: datetime) -> list[Intent]:
        """Requests nobody finished verifying (their process died); they are re-stamped."""
        with self.db.write() as conn:
            rows = conn.execute(
                select(_V).where(_V.c.requested_at < db_time(older_than)).limit(100)
            ).all()
            if rows:
                conn.execute(
                    update(_V)
                    .where(_V.c.id.in_([row.id for row in rows]))
                    .values(requested_at=db_time(now))
                )
        return [_intent(row) for row in rows]

    # -- subscriptions -------------------------------------------------------------

    def active_for(self, topics: list[str], now: datetime) -> list[Subscription]:
        """Active subscriptions to any of ``topics``."""
        if not topics:
            return []
        query = select(_S).where(
            _S.c.topic.in_(topics), _S.c.state == "active", _S.c.expires_at > db_time(now)
        )
        with self.db.read() as conn:
            return [_subscription(row) for row in conn.execute(query.order_by(_S.c.id))]

    def get(self, subscription_id: int) -> Subscription | None:
        """One subscription by id."""
        with self.db.read() as conn:
            row = conn.execute(select(_S).where(_S.c.id == subscription_id)).first()
        return None if row is None else _subscription(row)

    def all(self) -> list[Subscription]:
        """Every stored subscription, active or expired, oldest first."""
        with self.db.read() as conn:
            return [_subscription(row) for row in conn.execute(select(_S).order_by(_S.c.id))]

    def pending(self) -> list[Intent]:
        """Requests awaiting verification."""
        with self.db.read() as conn:
            return [_intent(row) for row in conn.execute(select(_V).order_by(_V.c.id))]

    def record_push(self, subscription_id: int, status_code: int | None, now: datetime) -> None:
        """Note the answer to the latest push."""
        with self.db.write() as conn:
            conn.execute(
                update(_S)
                .where(_S.c.id == subscription_id)
                .values(last_push_at=db_time(now), last_status_code=status_code)
            )

    def remove(self, subscription_id: int, now: datetime) -> bool:
        """Delete one subscription (a ``410 Gone``, a failed schedule, or an operator)."""
        with self.db.write() as conn:
            return bool(conn.execute(delete(_S).where(_S.c.id == subscription_id)).rowcount)

    def remove_callback(self, callback: str, now: datetime) -> int:
        """Delete every subscription of one callback URL; return how many."""
        with self.db.write() as conn:
            return int(conn.execute(delete(_S).where(_S.c.callback == callback)).rowcount)

    def expire(self, now: datetime) -> int:
        """Record the end of leases that are over; return how many ended now."""
        with self.db.write() as conn:
            query = (
                update(_S)
                .where(_S.c.state == "active", _S.c.expires_at <= db_time(now))
                .values(state="expired")
            )
            return int(conn.execute(query).rowcount)

    def counts(self, now: datetime) -> dict[str, Any]:
        """Active subscriptions per topic, expired ones, and pending verifications."""
        per_topic: Counter[str] = Counter()
        expired = 0
        for sub in self.all():
            if sub.active(now):
                per_topic[sub.topic] += 1
            else:
                expired += 1
        return {
            "active": sum(per_topic.values()),
            "topics": dict(sorted(per_topic.items())),
            "expired": expired,
            "pending_verifications": len(self.pending()),
        }
