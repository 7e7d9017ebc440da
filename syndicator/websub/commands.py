"""Command-line actions and status for WebSub: ``syndicator websub list|drop`` (SPEC §8).

Secrets never leave the store here: listings say only whether a subscription has one.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from syndicator.config import Settings
from syndicator.store import Store, Subscriptions
from syndicator.wiring import open_store, utc_now

__all__ = ["websub_command", "websub_status"]

Out = Callable[[str], None]


def websub_status(settings: Settings, store: Store, now: datetime) -> dict[str, Any]:
    """The ``websub`` section of ``status``: active subscriptions per topic, pending ones."""
    return {"enabled": settings.websub.enabled, **store.websub.counts(now)}


def websub_command(
    settings: Settings, args: argparse.Namespace, out: Out, clock: Callable[[], datetime] = utc_now
) -> int:
    """Run ``websub list`` or ``websub drop``; return the exit code."""
    store = open_store(settings)
    try:
        subscriptions = store.websub
        now = clock()
        if args.action == "list":
            return _list(subscriptions, now, args.json, out)
        if args.callback is not None:
            dropped = subscriptions.remove_callback(args.callback, now)
        else:
            dropped = int(subscriptions.remove(args.id, now))
        if not dropped:
            out("no such subscription")
            return 1
        out(f"dropped {dropped} subscription{'s' if dropped != 1 else ''}")
        return 0
    finally:
        store.close()


def _list(subscriptions: Subscriptions, now: datetime, as_json: bool, out: Out) -> int:
    rows = [sub.public(now) for sub in subscriptions.all()]
    pending = [
        {"topic": p.topic, "callback": p.callback, "mode": p.mode} for p in subscriptions.pending()
    ]
    if as_json:
        out(json.dumps(rows, indent=2))
        return 0
    if not rows:
        out("no subscriptions")
    for row in rows:
        secret = "signed" if row["has_secret"] else "unsigned"
        out(
            f"{row['id']:>5}  {row['state']:<7}  until {row['expires_at']}  {secret:<8}  "
            f"{row['topic']} -> {row['callback']}"
        )
    for item in pending:
        out(f"    -  pending {item['mode']}: {item['topic']} -> {item['callback']}")
    return 0
