"""`syndicator status`: one report of the deployment's state (SPEC §8)."""

from __future__ import annotations

from typing import Any

import orjson

from syndicator.analytics.report import feeds_report, format_readers
from syndicator.config import Settings
from syndicator.coordination.presence import is_running
from syndicator.core.times import format_time
from syndicator.store.store import Store
from syndicator.websub.commands import websub_status
from syndicator.wiring import utc_now

__all__ = ["collect_status", "format_status"]


def collect_status(settings: Settings, store: Store) -> dict[str, Any]:
    """Gather the status report as plain JSON-ready data."""
    watermark, _ = store.polls.source_state(settings.source.kind)
    counts = store.articles.counts()
    polls = store.polls.recent_polls(1)
    last_poll = None
    if polls:
        poll = polls[0]
        last_poll = {
            "time": format_time(poll.finished_at),
            "started_at": format_time(poll.started_at),
            "outcome": poll.outcome,
            "counts": poll.counts,
            "error": poll.error,
        }
    now = utc_now()
    processes = [
        {
            "id": p.identity,
            "role": p.role,
            "started": format_time(p.started_at),
            "heartbeat": format_time(p.heartbeat_at),
            "stopped": None if p.stopped_at is None else format_time(p.stopped_at),
            "running": is_running(p, now),
        }
        for p in store.processes.all()
    ]
    builder_meta = store.polls.get_meta("builder")
    builder: dict[str, Any] | None = orjson.loads(builder_meta) if builder_meta else None
    if builder is not None:
        # The role is recorded when taken; whether its holder still runs is
        # the process list's to say.
        builder["running"] = any(p["running"] for p in processes if p["id"] == builder.get("id"))
    outbox = store.outbox
    oldest = outbox.oldest_delivery()
    report: dict[str, Any] = {
        "watermark": None if watermark is None else format_time(watermark),
        "articles": counts["articles"],
        "deleted_articles": counts["deleted"],
        "topics": counts["topics"],
        "events": outbox.event_count(),
        "last_poll": last_poll,
        "quarantine": store.polls.quarantined(),
        # Stored with a future published_at: out of feeds and webhooks until then.
        "embargoed": [
            {"slug": h.slug, "publish_at": format_time(h.publish_at), "topics": list(h.topics)}
            for h in store.embargoes.held()
        ],
        "deliveries": outbox.counts(),
        "endpoints": [
            {k: e[k] for k in ("name", "state", "consecutive_failures")}
            for e in outbox.endpoint_states([h.name for h in settings.webhooks])
        ],
        "builder": builder,
        "processes": processes,
        "websub": websub_status(settings, store, now),
        "database": {
            "backend": store.dialect,
            "size_bytes": store.size_bytes(),
            "oldest_delivery": None if oldest is None else format_time(oldest),
            "retention_days": settings.retention.days,
        },
        # Reader analytics per document path (today, UTC): docs/analytics.md.
        "feeds": feeds_report(store.readers, now),
    }
    return report


def format_status(report: dict[str, Any]) -> str:
    """The report for a human."""
    lines = [
        f"watermark:   {report['watermark'] or '-'}",
        f"articles:    {report['articles']} ({report['deleted_articles']} deleted)",
        f"topics:      {report['topics']}",
    ]
    poll = report["last_poll"]
    if poll:
        counts = ", ".join(f"{v} {k}" for k, v in poll["counts"].items())
        lines.append(f"last poll:   {poll['time']} {poll['outcome']} ({counts or 'no counts'})")
        if poll["error"]:
            lines.append(f"             error: {poll['error']}")
    else:
        lines.append("last poll:   never")
    deliveries = report["deliveries"]
    lines.append("deliveries:  " + (", ".join(f"{v} {k}" for k, v in deliveries.items()) or "none"))
    for endpoint in report["endpoints"]:
        lines.append(
            f"endpoint:    {endpoint['name']} {endpoint['state']} "
            f"({endpoint['consecutive_failures']} consecutive failures)"
        )
    builder = report.get("builder")
    if builder:
        state = "" if builder.get("running") else " (not running)"
        lines.append(f"builder:     {builder.get('id')} since {builder.get('since')}{state}")
    for proc in report.get("processes", []):
        state = "running" if proc["running"] else "not running"
        lines.append(
            f"process:     {proc['id']} {proc['role']} {state}, started {proc['started']}, "
            f"last heartbeat {proc['heartbeat']}"
        )
    websub = report["websub"]
    lines.append(
        f"websub:      {websub['active']} active subscriptions, "
        f"{websub['pending_verifications']} pending verifications"
    )
    for topic, count in websub["topics"].items():
        lines.append(f"  {topic}: {count}")
    embargoed = report["embargoed"]
    lines.append(f"embargoed:   {len(embargoed)}")
    for item in embargoed:
        topics = ", ".join(item["topics"]) or "no topics"
        lines.append(f"  {item['slug']}: goes out at {item['publish_at']} ({topics})")
    database = report["database"]
    size = database["size_bytes"]
    lines.append(
        f"database:    {database['backend']}, "
        + ("in memory" if size is None else _megabytes(size))
        + f"; oldest delivery {database['oldest_delivery'] or '-'}"
        + f" (kept {database['retention_days']:g} days once finished)"
    )
    lines.extend(format_readers(report.get("feeds", {})))
    # Dropped entities share the quarantine list, but their articles are
    # published: they are counted apart, so "quarantined" counts records.
    quarantine = report["quarantine"]
    notes = [item for item in quarantine if item["kind"] == "entity"]
    records = [item for item in quarantine if item["kind"] == "record"]
    lines.append(f"quarantined: {len(records)}")
    lines.extend(_quarantine_line(item) for item in records)
    if notes:
        lines.append(f"entities dropped (their articles published): {len(notes)}")
        lines.extend(_quarantine_line(item) for item in notes)
    return "\n".join(lines)


def _quarantine_line(item: dict[str, Any]) -> str:
    slug = f" [{item['slug']}]" if item["slug"] else ""
    return f"  {item['source']}{slug}: {item['reason']}"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
