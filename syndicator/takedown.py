"""`syndicator articles show | remove` (SPEC §3b, §8): what is known of an
article, and taking it down from the command line.

A removal is the same transaction as a tombstone from the source (purge,
leave every feed, `article.deleted` to matching endpoints), dated now; then
the feeds are built (by the running daemon when there is one, so its WebSub
subscribers hear of it) and due deliveries attempted, as `once` does.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from syndicator.build.export import refresh_export
from syndicator.config import Settings
from syndicator.coordination import for_store, process_identity
from syndicator.coordination.presence import is_running
from syndicator.core.article import entry_id
from syndicator.core.changes import StoredState
from syndicator.core.routing import Route
from syndicator.core.times import format_time
from syndicator.core.urls import topic_feed_urls
from syndicator.delivery.commands import deliver_pending
from syndicator.models import ChangeKind, Tombstone
from syndicator.store import Deletion, Store
from syndicator.wiring import make_builder, open_store, utc_now

__all__ = ["articles_command"]

Out = Callable[[str], None]
EXIT_OK, EXIT_FAILURE = 0, 1
#: How long a removal waits for a running daemon to build its feeds (it looks
#: for requests every second, then polls and builds) before building itself.
HANDOFF_SECONDS = 15.0


def articles_command(settings: Settings, args: argparse.Namespace, out: Out, err: Out) -> int:
    """`articles show | remove`."""
    store = open_store(settings)
    try:
        if args.action == "show":
            return _show(settings, store, args.slug, args.json, out, err)
        return _remove(settings, store, list(dict.fromkeys(args.slugs)), args.reason, out, err)
    finally:
        store.close()


def _routes(settings: Settings) -> list[Route]:
    return [hook.route() for hook in settings.webhooks]


def _remove(
    settings: Settings,
    store: Store,
    slugs: Sequence[str],
    reason: str | None,
    out: Out,
    err: Out,
) -> int:
    now = utc_now()
    with store.transaction(now) as tx:
        states = tx.states(slugs)
        unknown = [slug for slug in slugs if slug not in states]
        if unknown:
            # Checked before anything is written: the transaction commits nothing.
            err(f"no article with slug {', '.join(repr(s) for s in unknown)}; nothing removed")
            return EXIT_FAILURE
        # One already deleted is left as it is: a new tombstone would only move
        # its version on, raising the bar a restoring record must clear.
        live = [s for s in slugs if not states[s].deleted]
        items = [Deletion(ChangeKind.DELETED, _tombstone(s, states[s], now, reason)) for s in live]
        touched = tx.delete(items, _routes(settings), settings.site.base_url)
    removed = {item.tombstone.slug: item.tombstone.deleted_at for item in items}
    for slug in slugs:
        if slug in removed:
            out(f"{slug}: removed at {format_time(removed[slug])}")
        else:
            known = store.articles.describe(slug) or {}
            when = known.get("deleted_at") or states[slug].updated_at
            out(f"{slug}: already deleted at {format_time(when)}")
    if touched and _built_by_daemon(store, touched, err):
        sent = deliver_pending(settings, store, utc_now)
        out(
            "build: done by the running daemon, which serves the feeds and pushes them to "
            f"WebSub subscribers; {sent} deliveries attempted"
        )
        return EXIT_OK
    builder = make_builder(settings, store)
    # Running `run` processes serve this build too (see `syndicator once`).
    coordination = for_store(
        store, process_identity(), clock=utc_now, load_published=builder.load_published
    )
    result = builder.build(keep_documents=coordination.shares_documents)
    coordination.share(result.documents)
    refresh_export(settings, store, builder, utc_now, result)
    sent = deliver_pending(settings, store, utc_now)
    out(
        f"build: {len(result.topics)} topics rendered, {result.written} files written; "
        f"{sent} deliveries attempted"
    )
    return EXIT_OK


def _built_by_daemon(store: Store, feeds: set[str], err: Out) -> bool:
    """Have a running `syndicator run` build the feeds a removal touched, and
    wait for it; False when none runs or it did not build in time.

    Its build is the one that tells WebSub subscribers (of topic and facet
    feeds alike) what changed: a build made here would update the files it
    serves but push nothing, so a taken-down article would stay with
    subscribers until some later edit touched the same feeds.
    """
    now = utc_now()
    if not any(is_running(process, now) for process in store.processes.all()):
        return False
    store.polls.request_poll(now)
    deadline = time.monotonic() + HANDOFF_SECONDS
    while time.monotonic() < deadline:
        if feeds.isdisjoint(store.feeds.dirty_topics()):
            return True
        time.sleep(0.1)
    err(f"the running daemon did not build within {HANDOFF_SECONDS:g} s; building here")
    return False


def _tombstone(slug: str, state: StoredState, now: datetime, reason: str | None) -> Tombstone:
    # Dated now, but always after the stored version (an article may be dated
    # a little ahead, within poll.future_tolerance_seconds): a takedown must
    # never be ignored as older than what it takes down.
    when = max(now, state.updated_at + timedelta(microseconds=1))
    return Tombstone(slug, when, reason)


def _show(settings: Settings, store: Store, slug: str, as_json: bool, out: Out, err: Out) -> int:
    known = store.articles.describe(slug)
    if known is None:
        err(f"no article with slug {slug!r}")
        return EXIT_FAILURE
    report = _report(settings, store, slug, known)
    out(json.dumps(report, indent=2) if as_json else _format(report))
    return EXIT_OK


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _report(settings: Settings, store: Store, slug: str, known: dict[str, Any]) -> dict[str, Any]:
    record = known["record"]
    base = settings.site.base_url
    deliveries = store.outbox.deliveries_of(slug)
    events = [
        {
            "event_id": e["event_id"],
            "type": e["type"],
            "timestamp": e["payload"].get("timestamp"),
            "deliveries": deliveries.get(e["event_id"], []),
        }
        for e in store.outbox.events(slug)
    ]
    return {
        "slug": slug,
        "id": entry_id(slug),
        "state": "deleted" if known["deleted_at"] is not None else "live",
        "title": record.get("title"),
        "url": record.get("url"),
        "published_at": record.get("published_at"),
        "updated_at": record.get("updated_at"),
        "topics": record.get("topics") or [],
        "entities": record.get("entities") or [],
        "lang": record.get("lang"),
        "deleted_at": _time(known["deleted_at"]),
        "deleted_reason": known["deleted_reason"],
        "feeds": {topic: topic_feed_urls(base, topic) for topic in known["in_feeds"]},
        "deleted_from": {topic: format_time(at) for topic, at in known["tombstones"]},
        "events": events,
    }


def _format(report: dict[str, Any]) -> str:
    lines = [f"{report['slug']} ({report['id']}): {report['state']}"]
    if report["title"]:
        lines.append(f"  title: {report['title']}")
    lines.append(f"  url: {report['url'] or '-'}")
    lines.append(f"  published: {report['published_at'] or '-'}  updated: {report['updated_at']}")
    lines.append(f"  topics: {', '.join(report['topics']) or '-'}")
    if report["deleted_at"]:
        reason = report["deleted_reason"] or "no reason given"
        lines.append(f"  deleted: {report['deleted_at']} ({reason})")
    lines.append(f"  in feeds: {', '.join(report['feeds']) or 'none'}")
    if report["deleted_from"]:
        listed = ", ".join(f"{t} at {at}" for t, at in report["deleted_from"].items())
        lines.append(f"  listed as deleted in Atom feeds: {listed}")
    lines.append(f"  events: {len(report['events']) or 'none'}")
    for event in report["events"]:
        lines.append(f"    {event['type']} {event['timestamp']} {event['event_id']}")
        for d in event["deliveries"]:
            code = d["last_status_code"] if d["last_status_code"] is not None else "-"
            lines.append(
                f"      #{d['id']} {d['endpoint']}: {d['status']}, "
                f"{d['attempts']} attempts, last status {code}"
            )
    return "\n".join(lines)
