"""A delivery's life: inserted with its event, claimed by a worker, its attempts recorded.

Events and their deliveries are inserted in the poll's transaction (`add_events`,
called by `Tx.apply`), so an article change and its announcements commit together
(SPEC §3). A claim is a lease (`claimed_by`, `claim_until`): a process that dies
leaves claims that expire, so nothing is lost. On PostgreSQL the claim uses ``FOR
UPDATE SKIP LOCKED`` so that several processes never take the same row.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    insert,
    or_,
    select,
    update,
)

from syndicator.core.events import event_json, event_timestamp
from syndicator.core.retry import AttemptOutcome
from syndicator.core.routing import Route, Subject, entity_keys, event_entities
from syndicator.core.signing import new_message_id
from syndicator.core.times import db_time
from syndicator.core.urls import split_feed_name
from syndicator.models import DELIVERY_STATUSES, ChangeKind
from syndicator.store import schema as t
from syndicator.store.articles import Change
from syndicator.store.db import Bulk, chunked
from syndicator.store.facets import known_entities
from syndicator.store.outbox.endpoints import apply_outcomes

__all__ = [
    "OPEN",
    "STATUSES",
    "Announcement",
    "Claimed",
    "Outcome",
    "add_announcements",
    "add_events",
    "claim",
    "hold_deliveries",
    "is_purged",
    "purge_events",
    "withdraw_held",
    "new_delivery",
    "new_event_id",
    "never_sent",
    "new_event_ids",
    "record",
]

STATUSES = DELIVERY_STATUSES
OPEN = ("pending", "failed")  # statuses still to send
_MAX_RESPONSE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken by this worker, with the exact body to send."""

    id: int
    webhook_id: str
    endpoint: str
    attempts: int
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did to its delivery."""

    delivery_id: int
    endpoint: str
    attempted_at: datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    response_excerpt: str
    duration_seconds: float
    next_attempt_at: datetime | None  # None: no further attempt (delivered or dead)


@dataclass(frozen=True, slots=True)
class Announcement:
    """An event to insert with its deliveries: type, slug, its time, `data` as JSON,
    and the article's topics (all that routes without entity or language filters need)."""

    type: str
    slug: str
    at: datetime
    data_json: str
    topics: tuple[str, ...]


def new_delivery(
    event_id: str, endpoint: str, event_type: str, slug: str | None, now: str
) -> dict[str, Any]:
    """A pending delivery row; its webhook-id is fixed here for every attempt and re-send."""
    return {
        "event_id": event_id,
        "endpoint": endpoint,
        "webhook_id": new_message_id(),
        "type": event_type,
        "slug": slug,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def new_event_id() -> str:
    """A unique event id that sorts by creation time.

    Time first: each insert lands at the end of the unique index instead of
    at a random page, which at a million events is the difference between
    appending and rewriting index pages all over the WAL.
    """
    return new_event_ids(1)[0]


def new_event_ids(count: int) -> list[str]:
    """`count` ids as `new_event_id` makes them, in creation order, from one
    read of the system's randomness instead of one per event."""
    start = time.time_ns()
    noise = secrets.token_hex(8 * count)
    return [f"evt_{start + i:016x}{noise[16 * i : 16 * i + 16]}" for i in range(count)]


_EVENT_COLUMNS = ("event_id", "type", "slug", "timestamp", "payload", "created_at")
# What `new_delivery` fills in.
_DELIVERY_COLUMNS = (
    "event_id",
    "endpoint",
    "webhook_id",
    "type",
    "slug",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)
_INSERT_EVENT = Bulk(
    insert(t.events).values(
        {name: bindparam(name) for name in _EVENT_COLUMNS},
    )
)
_INSERT_DELIVERY = Bulk(
    insert(t.deliveries).values({name: bindparam(name) for name in _DELIVERY_COLUMNS})
)


def add_events(
    conn: Connection, changes: Sequence[Change], routes: Sequence[Route], now: datetime
) -> None:
    """Insert one event per change and its deliveries to the routes that want it."""
    add_announcements(
        conn,
        [
            Announcement(
                str(c.kind),
                c.version.slug,
                c.version.updated_at,
                c.version.event_data,
                c.version.topics,
            )
            for c in changes
        ],
        routes,
        now,
    )


def add_announcements(
    conn: Connection, items: Sequence[Announcement], routes: Sequence[Route], now: datetime
) -> None:
    """Insert one event per item and its deliveries to the routes that want it."""
    created_at = db_time(now)
    event_rows = [
        {
            "event_id": event_id,
            "type": item.type,
            "slug": item.slug,
            "timestamp": db_time(item.at),
            "payload": event_json(item.type, event_timestamp(item.at), item.data_json),
            "created_at": created_at,
        }
        for item, event_id in zip(items, new_event_ids(len(items)), strict=True)
    ]
    _INSERT_EVENT.run(conn, event_rows)
    # Fan-out in the same transaction: an event and its deliveries exist together.
    delivery_rows = [
        new_delivery(row["event_id"], route.endpoint, row["type"], row["slug"], created_at)
        for row, subject in zip(event_rows, _subjects(conn, items, routes), strict=True)
        for route in routes
        if route.matches(row["type"], subject)
    ]
    _INSERT_DELIVERY.run(conn, delivery_rows)


def _subjects(
    conn: Connection, items: Sequence[Announcement], routes: Sequence[Route]
) -> list[Subject]:
    """What each item is about, as far as the routes look.

    Entities and language are read back from the event's `data` (every event
    type carries them, an `article.deleted` too) only when some route filters
    on them: a large import to topic-only endpoints decodes nothing.
    """
    if not any(route.filters_facets for route in routes):
        return [Subject(item.topics) for item in items]
    data = [orjson.loads(item.data_json) for item in items]
    slugs = assigned_slugs(conn, data) if any(route.entities for route in routes) else None
    return [Subject.from_data(one, slugs) for one in data]


def assigned_slugs(conn: Connection, data: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Merge key → the slug its entity feed was given, for the entities of these
    events' `data` (a filter naming a slug means that feed's entity)."""
    keys = entity_keys(name for one in data for name in event_entities(one))
    names = known_entities(conn, keys)
    return {key: split_feed_name(name)[1] for key, name in names.items()}


_HOLD = (
    update(t.deliveries)
    .where(
        t.deliveries.c.event_id.in_(
            select(t.events.c.event_id).where(t.events.c.slug == bindparam("b_slug"))
        ),
        t.deliveries.c.status == "pending",
        t.deliveries.c.attempts == 0,
    )
    .values(next_attempt_at=bindparam("b_at"))
)


def hold_deliveries(conn: Connection, until: Mapping[str, str]) -> None:
    """Date the never-attempted deliveries of these slugs' events to the given instants.

    Called in the poll's transaction for embargoed articles, after their new
    events are added: none of their announcements is due before the article
    is published (by the events_slug index, then the (event_id, endpoint) one).
    """
    if until:
        conn.execute(_HOLD, [{"b_slug": s, "b_at": at} for s, at in sorted(until.items())])


_WITHDRAW = (
    update(t.deliveries)
    .where(
        t.deliveries.c.event_id.in_(
            select(t.events.c.event_id).where(t.events.c.slug == bindparam("b_slug"))
        ),
        t.deliveries.c.status == "pending",
        t.deliveries.c.attempts == 0,
        t.deliveries.c.next_attempt_at > bindparam("b_now", type_=Text),
    )
    .values(status="dead", last_error="withdrawn: the article was deleted before it was published")
)


def withdraw_held(conn: Connection, slugs: Sequence[str], now: datetime) -> None:
    """Never send the held announcements of articles deleted before their embargo
    ended: they would publish what was taken down (`article.deleted` still goes)."""
    if slugs:
        stamp = db_time(now)
        conn.execute(_WITHDRAW, [{"b_slug": slug, "b_now": stamp} for slug in sorted(set(slugs))])


#: Why the open deliveries of a deleted article's earlier events are never sent.
PURGED_ERROR = "withdrawn: the article was deleted and its content purged"


def purge_events(conn: Connection, slugs: Sequence[str]) -> None:
    """Purge the content of these deleted articles' earlier events (SPEC §3b:
    summary, body and rendered HTML are purged): each payload keeps its type,
    time and the slug alone, and deliveries not yet made are withdrawn, so no
    retry or replay can send the content again. A later restore announces the
    article afresh; these events stay as they are."""
    e, d = t.events, t.deliveries
    found: list[tuple[str, str, str, str]] = []
    for chunk in chunked(sorted(set(slugs))):
        rows = conn.execute(
            select(e.c.event_id, e.c.type, e.c.slug, e.c.timestamp).where(
                e.c.slug.in_(chunk), e.c.type != str(ChangeKind.DELETED)
            )
        )
        found += [(row[0], row[1], row[2], row[3]) for row in rows]
    if not found:
        return
    conn.execute(
        update(e)
        .where(e.c.event_id == bindparam("b_event"))
        .values(payload=bindparam("b_payload")),
        [
            {"b_event": event, "b_payload": purged_payload(kind, slug, stamp)}
            for event, kind, slug, stamp in found
        ],
    )
    for events in chunked([row[0] for row in found]):
        conn.execute(
            update(d)
            .where(d.c.event_id.in_(events), d.c.status.in_(OPEN))
            .values(status="dead", last_error=PURGED_ERROR)
        )


def never_sent(conn: Connection, slugs: Sequence[str]) -> set[str]:
    """Those of `slugs` no delivery of any event was ever attempted for (an
    embargoed article's announcements wait, unattempted, for its release)."""
    e, d = t.events, t.deliveries
    sent: set[str] = set()
    for chunk in chunked(sorted(set(slugs))):
        sent.update(
            conn.execute(
                select(e.c.slug)
                .join(d, d.c.event_id == e.c.event_id)
                .where(e.c.slug.in_(chunk), d.c.attempts > 0)
                .distinct()
            ).scalars()
        )
    return set(slugs) - sent


def purged_payload(kind: str, slug: str, timestamp: str) -> str:
    """The stored payload of an event whose article's content was purged."""
    data = orjson.dumps({"slug": slug, "purged": True}).decode()
    # The column holds the fixed-width store text; the payload, its seconds.
    return event_json(kind, f"{timestamp[:19]}Z", data)


def is_purged(payload: str) -> bool:
    """Whether a stored payload is one `purge_events` left (never to be sent)."""
    data = orjson.loads(payload).get("data")
    return isinstance(data, dict) and data.get("purged") is True


# Built once, so SQLAlchemy compiles each once; executed with one parameter set per
# row (executemany). Bind names differ from column names, which UPDATE reserves.
_RECORD_DELIVERY = (
    update(t.deliveries)
    .where(t.deliveries.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=t.deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        last_response=bindparam("b_response"),
        delivered_at=bindparam("b_delivered"),
        claimed_by=None,
        claim_until=None,
    )
)


def _due(status: str, *, lock: bool) -> Select[tuple[int, str, str]]:
    # One status at a time: `status = ?` lets the deliveries_due index (status,
    # next_attempt_at, id) yield rows already in claim order, so the scan stops after
    # `limit` matches; `status IN (...)` made SQLite sort the whole due backlog on
    # every claim (≈8 ms at 10k due rows).
    d, ep = t.deliveries, t.endpoints
    now = bindparam("b_now", type_=Text)
    query = (
        select(d.c.id, d.c.endpoint, d.c.next_attempt_at)
        .where(
            d.c.status == status,
            d.c.next_attempt_at <= now,
            d.c.endpoint.in_(bindparam("b_endpoints", expanding=True)),
            d.c.endpoint.not_in(select(ep.c.name).where(ep.c.state == "paused")),
            or_(d.c.claim_until.is_(None), d.c.claim_until < now),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(bindparam("b_limit", type_=Integer))
    )
    if lock:
        # PostgreSQL: several processes claim at once; never the same row twice.
        query = query.with_for_update(skip_locked=True, of=d)
    return query


_DUE = tuple(_due(status, lock=False) for status in OPEN)
_DUE_LOCKED = tuple(_due(status, lock=True) for status in OPEN)
_TAKE = (
    update(t.deliveries)
    .where(t.deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(claimed_by=bindparam("b_owner"), claim_until=bindparam("b_until"))
)
_CLAIMED = (
    select(
        t.deliveries.c.id,
        t.deliveries.c.webhook_id,
        t.deliveries.c.endpoint,
        t.deliveries.c.attempts,
        t.deliveries.c.created_at,
        t.events.c.payload,
    )
    .join(t.events, t.events.c.event_id == t.deliveries.c.event_id)
    .where(t.deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(t.deliveries.c.next_attempt_at, t.deliveries.c.id)
)


def _status(o: Outcome) -> str:
    if o.outcome is AttemptOutcome.DELIVERED:
        return "delivered"
    return "dead" if o.next_attempt_at is None else "failed"


def _within_budget(
    candidates: Sequence[Row[tuple[int, str, str]]],
    limit: int,
    per_endpoint: Mapping[str, int] | None,
) -> list[int]:
    """Ids of the first `limit` candidates, skipping those over their endpoint's budget."""
    if per_endpoint is None:
        return [row.id for row in candidates[:limit]]
    room = dict(per_endpoint)
    ids: list[int] = []
    for row in candidates:
        if room.get(row.endpoint, 0) > 0:
            room[row.endpoint] -= 1
            ids.append(row.id)
            if len(ids) >= limit:
                break
    return ids


def claim(
    conn: Connection,
    dialect: str,
    owner: str,
    now: datetime,
    endpoints: Sequence[str],
    limit: int,
    lease: timedelta,
    per_endpoint: Mapping[str, int] | None,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries of active `endpoints`, oldest first.

    With `per_endpoint`, at most that many for each endpoint.
    """
    stamp = db_time(now)
    due = _DUE_LOCKED if dialect == "postgresql" else _DUE
    params = {"b_now": stamp, "b_endpoints": list(endpoints), "b_limit": limit}
    candidates = [row for query in due for row in conn.execute(query, params)]
    candidates.sort(key=lambda row: (row.next_attempt_at, row.id))
    ids = _within_budget(candidates, limit, per_endpoint)
    if not ids:
        return []
    conn.execute(_TAKE, {"b_ids": ids, "b_owner": owner, "b_until": db_time(now + lease)})
    return [
        Claimed(
            r.id,
            r.webhook_id,
            r.endpoint,
            r.attempts,
            r.payload.encode(),
            datetime.fromisoformat(r.created_at),
        )
        for r in conn.execute(_CLAIMED, {"b_ids": ids})
    ]


def record(
    conn: Connection, dialect: str, outcomes: Sequence[Outcome], pause_after: int
) -> list[str]:
    """Store attempts and their effect on deliveries and endpoints; return those paused.

    A fixed number of statements whatever the batch size: the delivery updates and
    attempt rows go as executemany, and each endpoint touched gets one update with
    the effect of all its outcomes, in batch order.
    """
    conn.execute(
        _RECORD_DELIVERY,
        [
            {
                "b_id": o.delivery_id,
                "b_status": _status(o),
                "b_next": db_time(o.next_attempt_at or o.attempted_at),
                "b_code": o.status_code,
                "b_error": o.error,
                "b_response": o.response_excerpt[:_MAX_RESPONSE_CHARS],
                "b_delivered": (
                    db_time(o.attempted_at) if o.outcome is AttemptOutcome.DELIVERED else None
                ),
            }
            for o in outcomes
        ],
    )
    conn.execute(
        insert(t.attempts),
        [
            {
                "delivery_id": o.delivery_id,
                "attempted_at": db_time(o.attempted_at),
                "outcome": str(o.outcome),
                "status_code": o.status_code,
                "error": o.error,
                "response_excerpt": o.response_excerpt[:_MAX_RESPONSE_CHARS],
                "duration_ms": int(o.duration_seconds * 1000),
            }
            for o in outcomes
        ],
    )
    return apply_outcomes(conn, dialect, outcomes, pause_after)
