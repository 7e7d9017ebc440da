"""The whole WebSub flow against the real daemon, with a real subscriber on 127.0.0.1.

Each test subscribes its own callback paths, so the tests share one daemon. A
"control" subscription that verifies normally shows that a push went out, so a
subscriber that must *not* get one is checked after the control got its push.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from argparse import Namespace
from urllib.parse import parse_qs

import httpx
import pytest
from lxml import etree

from syndicator.config import load_settings
from syndicator.status import collect_status, format_status
from syndicator.websub.commands import websub_command
from syndicator.wiring import open_store
from tests.websub.conftest import Live, article, subscribe, subscribed, wait_stored
from tests.websub.subscriber import Subscriber

pytestmark = pytest.mark.slow

ATOM = "{http://www.w3.org/2005/Atom}"


def link_rels(header: str) -> dict[str, list[str]]:
    """Parse a ``Link`` header into rel → URLs (enough for the values we send)."""
    found: dict[str, list[str]] = {}
    for part in header.split(","):
        url, _, params = part.strip().partition(";")
        rel = params.strip().removeprefix("rel=").strip('"')
        found.setdefault(rel, []).append(url.strip().strip("<>"))
    return found


def discover_from_feed(body: bytes) -> tuple[list[str], str]:
    """Hubs and self URL from an RSS (``atom:link``) or Atom feed."""
    root = etree.fromstring(body)
    links = root.iter(f"{ATOM}link")
    hubs, self_url = [], ""
    for link in links:
        if link.get("rel") == "hub":
            hubs.append(link.get("href"))
        elif link.get("rel") == "self" and not self_url:
            self_url = link.get("href")
    return hubs, self_url


def test_discovery_from_feeds_and_link_header(live: Live) -> None:
    hub = f"{live.base_url}/websub"
    for fmt in ("rss", "atom"):
        url = f"{live.base_url}/feeds/energy.{fmt}"
        response = httpx.get(url)
        hubs, self_url = discover_from_feed(response.content)
        assert hubs == [hub, live.subscriber_hub], fmt
        assert self_url == url
        rels = link_rels(response.headers["link"])
        assert rels["hub"] == [hub, live.subscriber_hub]
        assert rels["self"] == [url]
        assert link_rels(httpx.head(url).headers["link"]) == rels
    feed = httpx.get(f"{live.base_url}/feeds/energy.json").json()
    assert [h["url"] for h in feed["hubs"]] == [hub, live.subscriber_hub]
    assert "link" not in httpx.get(f"{live.base_url}/feeds.opml").headers


def test_subscribe_verify_and_signed_push(live: Live, subscriber: Subscriber) -> None:
    feed = f"{live.base_url}/feeds/energy.atom"
    rels = link_rels(httpx.get(feed).headers["link"])
    hub, topic = rels["hub"][0], rels["self"][0]
    secret = "s3cret-for-the-test"
    response = httpx.post(
        hub,
        data={
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": subscriber.url("/signed?x=1"),
            "hub.lease_seconds": "90",
            "hub.secret": secret,
        },
    )
    assert response.status_code == 202
    check = subscriber.wait_verification("/signed")
    assert check.params["hub.mode"] == "subscribe"
    assert check.params["hub.topic"] == topic
    assert check.params["hub.lease_seconds"] == "90"
    assert check.params["x"] == "1"  # the callback's own query is kept
    assert len(check.params["hub.challenge"]) >= 32
    wait_stored(live, subscriber.url("/signed?x=1"), present=True)  # once verified

    live.add(article("pushed-news", "energy", minute=10))
    written = time.monotonic()
    [push] = subscriber.wait_pushes("/signed")
    assert push.at - written < 5.0  # a 0.25 s poll, then the push right after the build
    assert push.headers["content-type"] == "application/atom+xml; charset=utf-8"
    expected = "sha256=" + hmac.new(secret.encode(), push.body, hashlib.sha256).hexdigest()
    assert push.headers["x-hub-signature"] == expected
    pushed_rels = link_rels(push.headers["link"])
    assert pushed_rels == {"hub": [hub], "self": [topic]}
    titles = [e.findtext(f"{ATOM}title") for e in etree.fromstring(push.body).iter(f"{ATOM}entry")]
    assert "Title of pushed-news" in titles
    assert push.body == httpx.get(feed).content  # the full feed, as served


def test_failed_challenge_stays_unsubscribed(live: Live, subscriber: Subscriber) -> None:
    topic = f"{live.base_url}/feeds/energy.rss"
    subscriber.refuse("/liar", "wrong")
    subscriber.refuse("/denier", "404")
    for path in ("/liar", "/denier"):
        assert subscribe(live, topic, subscriber.url(path)).status_code == 202
        subscriber.wait_verification(path)
    subscribed(live, subscriber, topic, "/control-1")

    live.add(article("after-liars", "energy", minute=11))
    subscriber.wait_pushes("/control-1")
    time.sleep(0.3)
    assert subscriber.pushes_to("/liar") == [] and subscriber.pushes_to("/denier") == []
    stored = {s["callback"] for s in live.subscriptions()}
    assert not stored & {subscriber.url("/liar"), subscriber.url("/denier")}


def test_unsubscribe_stops_pushes(live: Live, subscriber: Subscriber) -> None:
    topic = f"{live.base_url}/feeds/ai.atom"
    subscribed(live, subscriber, topic, "/leaver")
    subscribed(live, subscriber, topic, "/control-2")
    live.add(article("ai-one", "ai", minute=12))
    subscriber.wait_pushes("/leaver")

    form = {
        "hub.mode": "unsubscribe",
        "hub.topic": topic,
        "hub.callback": subscriber.url("/leaver"),
    }
    assert httpx.post(f"{live.base_url}/websub", data=form).status_code == 202
    check = subscriber.wait_verification("/leaver", count=2)
    assert check.params["hub.mode"] == "unsubscribe"
    assert "hub.lease_seconds" not in check.params
    wait_stored(live, subscriber.url("/leaver"), present=False)

    live.add(article("ai-two", "ai", minute=13))
    subscriber.wait_pushes("/control-2", count=2)
    time.sleep(0.3)
    assert len(subscriber.pushes_to("/leaver")) == 1


def test_lease_expiry_stops_pushes(live: Live, subscriber: Subscriber) -> None:
    topic = f"{live.base_url}/feeds/ai.rss"
    subscribed(live, subscriber, topic, "/brief", **{"hub.lease_seconds": "2"})
    assert subscriber.verifications_of("/brief")[0].params["hub.lease_seconds"] == "2"
    subscribed(live, subscriber, topic, "/control-3")
    time.sleep(2.2)

    live.add(article("ai-three", "ai", minute=14))
    subscriber.wait_pushes("/control-3")
    time.sleep(0.3)
    assert subscriber.pushes_to("/brief") == []
    [brief] = [s for s in live.subscriptions() if s["callback"].endswith("/brief")]
    assert brief["state"] == "expired"


def test_topics_that_are_not_ours_are_refused(live: Live, subscriber: Subscriber) -> None:
    callback = subscriber.url("/nosy")
    for topic in (
        "https://example.com/feeds/energy.atom",
        f"{live.base_url}/feeds/unknown.atom",
        f"{live.base_url}/feeds/energy.atom?x=1",
        f"{live.base_url}/feeds.opml",
        f"{live.base_url}/",
    ):
        response = subscribe(live, topic, callback)
        assert response.status_code == 400, topic
        assert "hub.topic" in response.text
    assert subscribe(live, f"{live.base_url}/feeds/energy.atom", "ftp://x/").status_code == 400
    assert subscriber.verifications_of("/nosy") == []


def test_publisher_pings_external_hub(live: Live, subscriber: Subscriber) -> None:
    written = time.monotonic()
    live.add(article("pinged", "ai", minute=15))
    wanted = {f"{live.base_url}/feeds/{t}.{f}" for t in ("ai", "all") for f in ("rss", "atom")}

    def pinged() -> set[str]:
        urls = set()
        # Earlier tests changed these feeds too: count only pings about this change.
        for push in subscriber.pushes_to("/standin-hub"):
            if push.at < written:
                continue
            form = parse_qs(push.body.decode())
            assert form["hub.mode"] == ["publish"]
            assert push.headers["content-type"] == "application/x-www-form-urlencoded"
            urls.update(form["hub.url"])
        return urls

    subscriber.wait(lambda: wanted <= pinged(), what="pings for the ai and all feeds")
    assert b"pinged" in httpx.get(f"{live.base_url}/feeds/ai.atom").content


def test_status_lists_and_drop_removes(live: Live, subscriber: Subscriber) -> None:
    topic = f"{live.base_url}/feeds/all.atom"
    subscribed(live, subscriber, topic, "/dropped", **{"hub.secret": "never-printed"})
    report = json.loads(live.cli("status", "--json").stdout)["websub"]
    assert report["enabled"] is True
    assert report["topics"][topic] >= 1
    assert report["pending_verifications"] == 0
    settings = load_settings(live.config, environ={})
    store = open_store(settings)
    try:
        text = format_status(collect_status(settings, store))
    finally:
        store.close()
    assert "websub:" in text and topic in text

    listing = live.cli("websub", "list")
    assert listing.returncode == 0 and subscriber.url("/dropped") in listing.stdout
    lines: list[str] = []
    assert websub_command(settings, Namespace(action="list", json=True), lines.append) == 0
    assert "never-printed" not in listing.stdout + "".join(lines)
    [row] = [s for s in json.loads(lines[0]) if s["callback"].endswith("/dropped")]
    assert row["has_secret"] is True and row["state"] == "active"
    dropped = live.cli("websub", "drop", str(row["id"]))
    assert dropped.returncode == 0 and "dropped 1" in dropped.stdout, dropped.stderr
    again = Namespace(action="drop", id=row["id"], callback=None)
    assert websub_command(settings, again, lines.append) == 1

    subscribed(live, subscriber, topic, "/control-4")
    live.add(article("after-drop", "energy", minute=16))
    subscriber.wait_pushes("/control-4")
    time.sleep(0.3)
    assert subscriber.pushes_to("/dropped") == []
    by_callback = Namespace(action="drop", id=None, callback=subscriber.url("/control-4"))
    assert websub_command(settings, by_callback, lines.append) == 0
    assert lines[-1] == "dropped 1 subscription"


def test_entity_feeds_are_websub_topics(live: Live, subscriber: Subscriber) -> None:
    first = article("quantum-one", "physics", minute=20)
    first["entities"] = ["Qubit Labs"]
    live.add(first)
    feed = f"{live.base_url}/feeds/entities/qubit-labs.atom"
    deadline = time.monotonic() + 10
    while httpx.get(feed).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    rels = link_rels(httpx.get(feed).headers["link"])
    assert rels["self"] == [feed] and rels["hub"][0] == f"{live.base_url}/websub"
    subscribed(live, subscriber, feed, "/entity")
    # A feed that does not exist is no topic.
    missing = f"{live.base_url}/feeds/entities/nobody-at-all.atom"
    assert subscribe(live, missing, subscriber.url("/nobody")).status_code >= 400

    second = article("quantum-two", "physics", minute=21)
    second["entities"] = ["QUBIT LABS"]
    live.add(second)
    # The first article's build may still push its feed once the subscription
    # is stored (its facets are handled after that build): wait for the second.
    subscriber.wait(
        lambda: any(b"quantum-two" in p.body for p in subscriber.pushes_to("/entity")),
        10.0,
        "a push of the entity feed with the second article",
    )
    push = next(p for p in subscriber.pushes_to("/entity") if b"quantum-two" in p.body)
    assert push.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert b"news.example.org/quantum-two" in push.body
    assert b"news.example.org/quantum-one" in push.body


def test_a_takedown_from_the_command_line_is_pushed(live: Live, subscriber: Subscriber) -> None:
    """`articles remove` beside the daemon: the daemon builds the touched feeds,
    so subscribers of the topic and of the entity feed get the feeds without it."""
    doomed = article("recall-one", "recalls", minute=30)
    doomed["entities"] = ["Recall Corp"]
    kept = article("recall-two", "recalls", minute=31)
    kept["entities"] = ["Recall Corp"]
    live.add(doomed, kept)
    topic = f"{live.base_url}/feeds/recalls.atom"
    entity = f"{live.base_url}/feeds/entities/recall-corp.atom"
    deadline = time.monotonic() + 10
    while httpx.get(entity).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    subscribed(live, subscriber, topic, "/takedown-topic")
    subscribed(live, subscriber, entity, "/takedown-entity")

    done = live.cli("articles", "remove", "recall-one", "--reason", "legal request")
    assert done.returncode == 0, done.stderr
    assert "done by the running daemon" in done.stdout

    for path in ("/takedown-topic", "/takedown-entity"):
        subscriber.wait(
            lambda path=path: any(  # type: ignore[misc]
                b"recall-two" in p.body and b"news.example.org/recall-one" not in p.body
                for p in subscriber.pushes_to(path)
            ),
            10.0,
            f"a push to {path} of the feed without the removed article",
        )
