"""Reader analytics end to end: the real daemon, real HTTP from two local addresses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from syndicator.store.readers import FeedUsage
from syndicator.store.store import Store
from tests.daemon.conftest import DaemonProcess, child_env, make_site, record, syndicator_command

Start = Callable[..., DaemonProcess]

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 10 subscribers; feed-id=a1)"
INOREADER = "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 3 subscribers; )"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NEWSBOAT = "Newsboat/2.36 (Linux x86_64)"
OTHER_ADDRESS = "127.0.0.2"  # a local address the daemon sees as another reader


def test_subscribers_and_direct_readers_reach_status_metrics_and_the_store(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site")
    site.write_records("articles.jsonl", [record("alpha")])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    rss, atom = "/feeds/all.rss", "/feeds/all.atom"

    def fetch(
        method: str, path: str, agent: str, address: str = "127.0.0.1", **headers: str
    ) -> int:
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=site.base_url, transport=transport, timeout=10) as client:
            answer = client.request(method, path, headers={"user-agent": agent, **headers})
        return answer.status_code

    assert fetch("GET", rss, FEEDLY) == 200
    assert fetch("GET", rss, INOREADER, OTHER_ADDRESS) == 200
    etag = daemon.get(rss).headers["etag"]  # httpx's own agent: a direct reader too
    assert fetch("GET", rss, FIREFOX) == 200
    assert fetch("GET", rss, FIREFOX, **{"if-none-match": etag}) == 304
    assert fetch("GET", rss, FIREFOX, OTHER_ADDRESS) == 200
    assert fetch("GET", rss, NEWSBOAT, OTHER_ADDRESS) == 200
    assert fetch("HEAD", atom, FIREFOX) == 200
    assert fetch("GET", "/feeds/nothing-here.rss", FIREFOX) == 404

    expected_rss = {
        "subscribers": {"feedly": 10, "inoreader": 3, "direct": 4},
        "requests": 7,
        "not_modified": 1,
    }
    # /metrics reads the database: the figures appear once a flush wrote them.
    daemon.wait_until(
        lambda: (
            True
            if daemon.metric("syndicator_feed_subscribers", feed=rss, source="direct") == 4
            else None
        ),
        30,
        "the direct readers in /metrics",
    )
    assert daemon.metric("syndicator_feed_subscribers", feed=rss, source="feedly") == 10
    assert daemon.metric("syndicator_feed_subscribers", feed=rss, source="inoreader") == 3
    assert daemon.metric("syndicator_feed_subscribers", feed=atom, source="direct") == 1
    assert "nothing-here" not in daemon.metrics()

    report = json.loads(_status(site.root, syndicator_command(site, "status", "--json")))
    assert report["feeds"][rss] == expected_rss
    assert report["feeds"][atom] == {"subscribers": {"direct": 1}, "requests": 1, "not_modified": 0}
    assert set(report["feeds"]) == {rss, atom}
    assert "watermark" in report and "deliveries" in report  # the other keys stay
    human = _status(site.root, syndicator_command(site, "status"))
    assert f"{rss}: 17 subscribers (4 direct, 10 feedly, 3 inoreader)" in human

    assert daemon.stop() == 0
    store = Store(f"sqlite:///{site.database}")
    try:
        usage = store.readers.traffic(datetime.now(UTC).date())
        assert usage[rss] == FeedUsage(7, 1, {"feedly": 10, "inoreader": 3}, 4)
        assert usage[atom] == FeedUsage(1, 0, {}, 1)
    finally:
        store.close()
    # Neither an address nor an agent string was ever written.
    stored = b"".join(p.read_bytes() for p in site.root.glob("state.db*"))
    for secret in (
        OTHER_ADDRESS,
        "Firefox",
        "Newsboat",
        "feedly.com",
        "feed-fetcher",
        "python-httpx",
    ):
        assert secret.encode() not in stored, secret


def _status(cwd: Path, command: list[str]) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout
