"""A running daemon follows its source: new and edited records, a vanished folder, a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import feedparser
import httpx

from tests.daemon.conftest import (
    POLL_INTERVAL,
    DaemonProcess,
    Site,
    record,
)
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

Start = Callable[..., DaemonProcess]
#: "Within a few poll intervals", with room for a slow CI machine.
LIVE_TIMEOUT = 20 * POLL_INTERVAL
DOCUMENTS = [
    f"/feeds/{topic}.{fmt}" for topic in ("all", "energy") for fmt in ("rss", "atom", "json")
] + ["/feeds.opml", "/"]


def wait_for_text(daemon: DaemonProcess, path: str, text: str) -> httpx.Response:
    """Wait until `path` answers 200 with `text` in its body."""

    def served() -> httpx.Response | None:
        response = daemon.get(path)
        return response if response.status_code == 200 and text in response.text else None

    return daemon.wait_until(served, LIVE_TIMEOUT, f"{text!r} in {path}")


def entry_ids(rss: bytes) -> dict[str, tuple[str, str]]:
    """Article URL → (entry id, title) of every entry of an RSS feed."""
    parsed = feedparser.parse(rss)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.link: (e.id, e.title) for e in parsed.entries}


def health(daemon: DaemonProcess) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of `/healthz`."""
    response = daemon.get("/healthz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def test_new_and_edited_records_appear_without_restart(site: Site, start_daemon: Start) -> None:
    site.write_records("first.jsonl", [record("alpha"), record("beta", topics=("climate",))])
    daemon = start_daemon(site)
    before = wait_for_text(daemon, "/feeds/all.rss", "Title of alpha")
    topic_before = wait_for_text(daemon, "/feeds/energy.rss", "Title of alpha")
    ids_before = entry_ids(before.content)

    # A new record file dropped into the folder while the daemon runs.
    site.write_records(
        "second.jsonl",
        [record("fresh", title="Fresh off the press", updated_at="2026-06-05T08:00:00+00:00")],
    )
    after = wait_for_text(daemon, "/feeds/all.rss", "Fresh off the press")
    topic_after = wait_for_text(daemon, "/feeds/energy.rss", "Fresh off the press")
    assert after.headers["etag"] != before.headers["etag"]
    assert topic_after.headers["etag"] != topic_before.headers["etag"]
    for response in (after, topic_after):
        assert_valid_rss(response.content)
    assert_valid_atom(wait_for_text(daemon, "/feeds/energy.atom", "Fresh off the press").content)
    json_feed = wait_for_text(daemon, "/feeds/all.json", "Fresh off the press")
    assert_valid_json_feed(json_feed.content)
    # The old ETag no longer matches: a reader revalidating gets the new feed.
    revalidated = daemon.get("/feeds/all.rss", headers={"if-none-match": before.headers["etag"]})
    assert revalidated.status_code == 200 and b"Fresh off the press" in revalidated.content
    # The untouched topic keeps its bytes.
    assert "Fresh" not in daemon.get("/feeds/climate.rss").text

    # An edit: the same slug, a later updated_at, a new title.
    site.write_records(
        "first.jsonl",
        [
            record("alpha", title="Alpha, revised", updated_at="2026-06-06T08:00:00+00:00"),
            record("beta", topics=("climate",)),
        ],
    )
    edited = wait_for_text(daemon, "/feeds/all.rss", "Alpha, revised")
    ids_after = entry_ids(edited.content)
    alpha = "https://news.example.org/alpha"
    assert ids_after[alpha] == (ids_before[alpha][0], "Alpha, revised")
    assert b"Title of alpha" not in edited.content
    assert edited.headers["etag"] != after.headers["etag"]
    items = json.loads(wait_for_text(daemon, "/feeds/energy.json", "Alpha, revised").content)
    # Newest updated_at first: the edit moved alpha to the top.
    assert [i["title"] for i in items["items"]] == ["Alpha, revised", "Fresh off the press"]
    assert daemon.metric("syndicator_records_total", result="created") == 3
    assert daemon.metric("syndicator_records_total", result="updated") == 1


def test_vanished_source_keeps_serving_and_recovers(site: Site, start_daemon: Start) -> None:
    site.write_records("first.jsonl", [record("alpha"), record("beta")])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    good = {path: daemon.get(path) for path in DOCUMENTS}
    assert all(r.status_code == 200 for r in good.values())

    away = site.source.with_name("articles-away")
    site.source.rename(away)
    failed_before = daemon.metric("syndicator_polls_total", outcome="failed")

    def unhealthy() -> dict[str, Any] | None:
        status, body = health(daemon)
        return body if status == 503 else None

    body = daemon.wait_until(unhealthy, LIVE_TIMEOUT, "/healthz to turn 503")
    assert body["status"] == "unhealthy"
    assert body["consecutive_poll_failures"] >= 3
    assert body["last_poll"]["outcome"] == "failed"
    assert daemon.metric("syndicator_polls_total", outcome="failed") >= failed_before + 3
    # Still serving the last good feeds, byte for byte.
    for path, response in good.items():
        now = daemon.get(path)
        assert now.status_code == 200, path
        assert now.content == response.content, path
        assert now.headers["etag"] == response.headers["etag"], path

    away.rename(site.source)
    ok_before = daemon.metric("syndicator_polls_total", outcome="ok")

    def healthy() -> dict[str, Any] | None:
        status, body = health(daemon)
        return body if status == 200 else None

    body = daemon.wait_until(healthy, LIVE_TIMEOUT, "/healthz to return to 200")
    assert body["status"] == "ok" and body["consecutive_poll_failures"] == 0
    assert body["last_poll"]["outcome"] == "ok"
    assert daemon.metric("syndicator_polls_total", outcome="ok") > ok_before
    # And it follows the source again.
    site.write_records("later.jsonl", [record("gamma", updated_at="2026-06-07T00:00:00+00:00")])
    wait_for_text(daemon, "/feeds/all.atom", "Title of gamma")


def test_restart_serves_the_same_bytes_and_rewrites_nothing(
    site: Site, start_daemon: Start
) -> None:
    site.write_records("first.jsonl", [record("alpha"), record("beta", topics=("climate",))])
    first = start_daemon(site)
    first.wait_for_builds()
    served = {path: first.get(path) for path in DOCUMENTS}
    assert all(r.status_code == 200 for r in served.values())
    assert first.stop() == 0
    on_disk = site.output_state()
    assert "feeds/all.rss" in on_disk and "index.html" in on_disk

    second = start_daemon(site)
    # Right after it answers /healthz, before any build of its own.
    for path, response in served.items():
        now = second.get(path)
        assert now.status_code == 200, path
        assert now.content == response.content, path
        assert now.headers["etag"] == response.headers["etag"], path
        assert now.headers["last-modified"] == response.headers["last-modified"], path
    # Polls over unchanged data: nothing rendered, nothing rewritten.
    second.wait_for_polls(2)
    assert site.output_state() == on_disk
    assert second.metric("syndicator_records_total", result="created") == 0
    assert second.metric("syndicator_feeds_rendered_total") == 0
