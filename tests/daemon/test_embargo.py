"""An embargoed article goes out at its instant from the running daemon, with no
poll and no file change, after a restart too (feeds, webhooks, `status`)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser

from syndicator.core.signing import generate_secret
from syndicator.core.times import format_time
from tests.daemon.conftest import (
    DaemonProcess,
    Site,
    child_env,
    make_site,
    record,
    syndicator_command,
    wait_for,
    webhook_config,
)
from tests.delivery.receiver import Receiver

Start = Callable[..., DaemonProcess]

#: Far enough ahead for two daemon start-ups and a `status` on a busy machine.
AHEAD = timedelta(seconds=12)


def status(site: Site) -> dict[str, Any]:
    done = subprocess.run(
        syndicator_command(site, "status", "--json"),
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def announced(receiver: Receiver, secret: str, slug: str) -> list[tuple[float, str]]:
    """(received_at, type) of the verified deliveries about `slug`."""
    found = []
    for request in receiver.requests:
        body = request.verify(secret)  # the standardwebhooks package
        if body["data"].get("slug") == slug:
            found.append((request.received_at, str(body["type"])))
    return found


def slugs(daemon: DaemonProcess, path: str) -> list[str] | None:
    response = daemon.get(path)
    if response.status_code != 200:
        return None
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    return [str(e.link).rsplit("/", 1)[-1] for e in parsed.entries]


def test_embargoed_article_goes_out_within_a_second_of_its_instant(
    tmp_path: Path, receiver: Receiver, start_daemon: Start
) -> None:
    secret = generate_secret()
    extra = webhook_config(receiver.url, secret)
    # Polls an hour apart: only the embargo's own job can change the feeds.
    site = make_site(tmp_path / "site", interval=3600, extra=extra)
    now = datetime.now(UTC)
    instant = now + AHEAD
    at_instant = time.monotonic() + (instant - datetime.now(UTC)).total_seconds()
    site.write_records(
        "a.jsonl",
        [
            record("plain"),
            record(
                "launch-day",
                topics=("energy", "launch"),
                published_at=instant.isoformat(),
                updated_at=now.isoformat(),
            ),
        ],
    )
    first = start_daemon(site)
    first.wait_until(lambda: slugs(first, "/feeds/all.atom"), 15, "the first build")
    wait_for(lambda: announced(receiver, secret, "plain") or None, 10, "plain's delivery")
    held = status(site)["embargoed"]
    assert held == [
        {"slug": "launch-day", "publish_at": format_time(instant), "topics": ["energy", "launch"]}
    ]
    assert slugs(first, "/feeds/all.atom") == slugs(first, "/feeds/energy.rss") == ["plain"]
    assert first.get("/feeds/launch.atom").status_code == 404
    assert b"launch" not in first.get("/feeds.opml").content
    # A restart finds the instant in the store.
    assert first.stop() == 0
    second = start_daemon(site)
    last_absent = 0.0

    def published() -> float | None:
        nonlocal last_absent
        if "launch-day" in (slugs(second, "/feeds/energy.atom") or []):
            return time.monotonic()
        last_absent = time.monotonic()
        return None

    appeared = second.wait_until(published, AHEAD.total_seconds() + 15, "the release")
    delivered = wait_for(
        lambda: announced(receiver, secret, "launch-day") or None, 10, "the held delivery"
    )
    assert [kind for _, kind in delivered] == ["article.created"]
    assert slugs(second, "/feeds/launch.atom") == ["launch-day"]
    assert slugs(second, "/feeds/all.atom") == ["launch-day", "plain"]
    assert status(site)["embargoed"] == []
    # Not early (checked up to half a second before), and within a second after.
    assert last_absent > at_instant - 0.5, "the feed was not checked close to the instant"
    assert delivered[0][0] >= at_instant - 0.05, "delivered before the instant"
    late_feed, late_hook = appeared - at_instant, delivered[0][0] - at_instant
    print(f"feed {late_feed:.3f} s, webhook {late_hook:.3f} s after the instant")  # noqa: T201
    assert late_feed < 1.5 and late_hook < 1.5, (late_feed, late_hook)
