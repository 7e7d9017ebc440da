"""Command-line actions on deliveries and endpoints (SPEC §8)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from syndicator.config import Settings, WebhookSettings
from syndicator.core.retry import AttemptOutcome
from syndicator.core.signing import new_message_id
from syndicator.core.times import format_time
from syndicator.errors import ConfigError
from syndicator.store import Outbox, Store
from syndicator.wiring import open_store, utc_now

__all__ = ["configured_endpoint", "deliver_pending", "deliveries_command", "webhooks_command"]

Clock = Callable[[], datetime]
Out = Callable[[str], None]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:cli"


def deliver_pending(settings: Settings, store: Store, clock: Clock) -> int:
    """Attempt what is due now, waiting at most ``delivery.once_wait_seconds``."""
    if not settings.webhooks:
        return 0
    # The worker, httpx and the SSRF guard load only when there is somewhere to send.
    from syndicator.delivery.worker import DeliveryWorker

    worker = DeliveryWorker(settings, store.outbox, owner=_owner(), clock=clock)

    async def drain() -> int:
        try:
            return await worker.drain(settings.delivery.once_wait_seconds)
        finally:
            await worker.aclose()

    return asyncio.run(drain())


def configured_endpoint(settings: Settings, name: str) -> WebhookSettings:
    """The endpoint named `name` in the config, or a `ConfigError` listing those known."""
    for hook in settings.webhooks:
        if hook.name == name:
            return hook
    known = ", ".join(h.name for h in settings.webhooks) or "none configured"
    raise ConfigError(f"no webhook endpoint named {name!r} (known: {known})")


def _stored_endpoint(settings: Settings, outbox: Outbox, name: str) -> str:
    """A configured endpoint, or one that is gone from the config but has deliveries."""
    names = dict.fromkeys([h.name for h in settings.webhooks] + outbox.endpoint_names())
    if name in names:
        return name
    known = ", ".join(names) or "none configured"
    raise ConfigError(f"--endpoint: no webhook endpoint named {name!r} (known: {known})")


#: Every field of a listed delivery, in `deliveries list --json` order.
_FIELDS = (
    "id webhook_id event_id endpoint type slug status attempts last_status_code last_error "
    "created_at last_attempt_at next_attempt_at delivered_at"
).split()
_TIMES = ("created_at", "last_attempt_at", "next_attempt_at", "delivered_at")


def _rfc3339(stored: str | None) -> str | None:
    """A stored time as RFC 3339 UTC (``2026-06-01T10:00:00Z``; fractions when present)."""
    return None if stored is None else format_time(datetime.fromisoformat(stored))


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _rfc3339(row[k]) if k in _TIMES else row[k] for k in _FIELDS}


def _short_time(stored: str | None) -> str:
    """Whole seconds, UTC: enough to read a table by."""
    if stored is None:
        return "-"
    return format_time(datetime.fromisoformat(stored).replace(microsecond=0))


def _last_error(row: dict[str, Any], width: int = 48) -> str:
    """The status code of the last failed answer, else the error text, shortened."""
    if row["status"] == "delivered":
        return "-"
    if row["last_status_code"] is not None:
        text = f"HTTP {row['last_status_code']}"
    else:
        text = " ".join((row["last_error"] or "-").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _format_rows(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no deliveries"
    lines = [
        f"{'ID':>6}  {'STATUS':9}  {'ATT':>3}  {'ENDPOINT':14}  {'TYPE':15}  {'SLUG':24}  "
        f"{'CREATED':20}  {'LAST ATTEMPT':20}  {'NEXT ATTEMPT':20}  LAST ERROR"
    ]
    for r in rows:
        lines.append(
            f"{r['id']:>6}  {r['status']:9}  {r['attempts']:>3}  {_clip(r['endpoint'], 14):14}  "
            f"{_clip(r['type'], 15):15}  {_clip(r['slug'] or '-', 24):24}  "
            f"{_short_time(r['created_at']):20}  {_short_time(r['last_attempt_at']):20}  "
            f"{_short_time(r['next_attempt_at']):20}  "
            f"{_last_error(r)}"
        )
    return "\n".join(lines)


def _list(settings: Settings, outbox: Outbox, args: argparse.Namespace, out: Out) -> int:
    endpoint = args.endpoint and _stored_endpoint(settings, outbox, args.endpoint)
    rows = outbox.listing(args.status, args.limit, endpoint=endpoint, since=args.since)
    out(json.dumps([_as_json(r) for r in rows], indent=2) if args.json else _format_rows(rows))
    return 0


def deliveries_command(settings: Settings, args: argparse.Namespace, out: Out) -> int:
    """`deliveries list | retry | replay`."""
    store = open_store(settings)
    outbox = store.outbox
    clock = utc_now
    try:
        if args.action == "list":
            return _list(settings, outbox, args, out)
        if args.action == "retry":
            configured = {hook.name for hook in settings.webhooks}
            gone = {
                r["id"]: r["endpoint"]
                for r in outbox.listing(ids=args.ids)
                if r["endpoint"] not in configured
            }
            if gone:
                names = ", ".join(sorted(set(gone.values())))
                out(
                    f"not sent again: {', '.join(map(str, sorted(gone)))} (endpoint no longer "
                    f"configured: {names}; add it back under [[webhooks]] to send them)"
                )
            wanted = [i for i in args.ids if i not in gone]
            found = outbox.requeue(wanted, clock()) if wanted else []
            purged = outbox.purged(wanted) if wanted else []
            if purged:
                out(
                    f"not sent again: {', '.join(map(str, purged))} (the article was deleted "
                    "and the content of its earlier events purged)"
                )
            missing = sorted(set(wanted) - set(found) - set(purged))
            if missing:
                out(f"unknown delivery ids: {', '.join(map(str, missing))}")
            if not found:
                return 1
            deliver_pending(settings, store, clock)
            return _report(outbox, found, out)
        if args.action == "replay":
            hook = configured_endpoint(settings, args.endpoint)
            ids = outbox.replay(hook.route(), args.since, clock())
            out(f"{len(ids)} deliveries queued for {hook.name}")
            if ids:
                deliver_pending(settings, store, clock)
                return _report(outbox, ids, out)
            return 0
    finally:
        store.close()
    raise ConfigError(f"unknown action {args.action!r}")


def _report(outbox: Outbox, ids: list[int], out: Out) -> int:
    rows = outbox.listing(ids=ids)
    out(_format_rows(rows))
    return 0 if all(r["status"] == "delivered" for r in rows) else 1


def webhooks_command(settings: Settings, args: argparse.Namespace, out: Out) -> int:
    """`webhooks test NAME | resume NAME`."""
    hook = configured_endpoint(settings, args.name)
    if args.action == "resume":
        store = open_store(settings)
        try:
            resumed = store.outbox.resume(hook.name, utc_now())
        finally:
            store.close()
        out(f"{hook.name}: {'resumed' if resumed else 'was not paused'}")
        return 0
    # Only a test send needs the HTTP stack; `resume` answers without it.
    from syndicator.delivery.preflight import refusal_hint
    from syndicator.delivery.sender import Sender
    from syndicator.delivery.worker import endpoint_target

    target = endpoint_target(hook, settings.delivery)
    now = utc_now()
    body = orjson.dumps(
        {
            "type": "webhook.test",
            "timestamp": format_time(now.replace(microsecond=0)),
            "data": {"endpoint": hook.name, "message": "Test event from Syndicator"},
        }
    )

    async def send() -> int:
        async with Sender(max_concurrency=1) as sender:
            result = await sender.send(
                target, new_message_id(), body, timestamp=int(now.timestamp())
            )
        status = result.status_code if result.status_code is not None else "-"
        out(f"{hook.name}: {result.outcome} (HTTP {status}) in {result.duration_seconds:.3f} s")
        # No answer: if the guard refused a private address, say which setting allows it.
        hint = None if result.status_code is not None else refusal_hint(hook, settings.delivery)
        if hint is not None:
            out(f"error: {hint}")
        elif result.error:
            out(f"error: {result.error}")
        if result.response_excerpt:
            out(f"response: {result.response_excerpt[:500]}")
        return 0 if result.outcome is AttemptOutcome.DELIVERED else 1

    return asyncio.run(send())
