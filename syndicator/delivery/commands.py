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
from syndicator.delivery.sender import Sender
from syndicator.delivery.worker import DeliveryWorker, endpoint_target
from syndicator.errors import ConfigError
from syndicator.store import Outbox, Store
from syndicator.wiring import open_store, utc_now

__all__ = ["deliver_pending", "deliveries_command", "webhooks_command"]

Clock = Callable[[], datetime]
Out = Callable[[str], None]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:cli"


def deliver_pending(settings: Settings, store: Store, clock: Clock) -> int:
    """Attempt what is due now, waiting at most ``delivery.once_wait_seconds``."""
    if not settings.webhooks:
        return 0
    worker = DeliveryWorker(settings, store.outbox, owner=_owner(), clock=clock)

    async def drain() -> int:
        try:
            return await worker.drain(settings.delivery.once_wait_seconds)
        finally:
            await worker.aclose()

    return asyncio.run(drain())


def _endpoint(settings: Settings, name: str) -> WebhookSettings:
    for hook in settings.webhooks:
        if hook.name == name:
            return hook
    known = ", ".join(h.name for h in settings.webhooks) or "none configured"
    raise ConfigError(f"no webhook endpoint named {name!r} (known: {known})")


def _format_rows(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no deliveries"
    lines = [f"{'ID':>6}  {'STATUS':9}  {'ATT':>3}  {'CODE':>4}  {'ENDPOINT':16}  TYPE / SLUG"]
    for r in rows:
        code = r["last_status_code"] if r["last_status_code"] is not None else "-"
        lines.append(
            f"{r['id']:>6}  {r['status']:9}  {r['attempts']:>3}  {code:>4}  "
            f"{r['endpoint'][:16]:16}  {r['type']} {r['slug'] or ''}"
        )
    return "\n".join(lines)


def deliveries_command(settings: Settings, args: argparse.Namespace, out: Out) -> int:
    """`deliveries list | retry | replay`."""
    store = open_store(settings)
    outbox = store.outbox
    clock = utc_now
    try:
        if args.action == "list":
            rows = outbox.listing(args.status, args.limit)
            keys = (
                "id webhook_id endpoint type slug status attempts last_status_code next_attempt_at"
            ).split()
            if args.json:
                out(json.dumps([{k: r[k] for k in keys} for r in rows], indent=2))
            else:
                out(_format_rows(rows))
            return 0
        if args.action == "retry":
            found = outbox.requeue(args.ids, clock())
            missing = sorted(set(args.ids) - set(found))
            if missing:
                out(f"unknown delivery ids: {', '.join(map(str, missing))}")
            if not found:
                return 1
            deliver_pending(settings, store, clock)
            return _report(outbox, found, out)
        if args.action == "replay":
            hook = _endpoint(settings, args.endpoint)
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
    hook = _endpoint(settings, args.name)
    if args.action == "resume":
        store = open_store(settings)
        try:
            resumed = store.outbox.resume(hook.name, utc_now())
        finally:
            store.close()
        out(f"{hook.name}: {'resumed' if resumed else 'was not paused'}")
        return 0
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
        if result.error:
            out(f"error: {result.error}")
        if result.response_excerpt:
            out(f"response: {result.response_excerpt[:500]}")
        return 0 if result.outcome is AttemptOutcome.DELIVERED else 1

    return asyncio.run(send())
