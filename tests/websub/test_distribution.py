"""Content distribution and publish pings in process, against the real subscriber.

The retry schedule is two 50 ms steps, so "exhausted" takes three attempts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.models import Published
from syndicator.store.store import Store
from syndicator.store.websub import Subscription
from syndicator.web.documents import DocumentSet
from syndicator.websub.service import WebSub
from tests.websub.conftest import BASE, feed_doc, make_settings, make_websub, serve
from tests.websub.subscriber import Subscriber

TOPIC = f"{BASE}/feeds/energy.atom"
NEW = feed_doc("energy", "atom", b"<feed>new</feed>")


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    """A fresh subscriber for each test."""
    with Subscriber() as running:
        yield running


@pytest.fixture
def documents() -> DocumentSet:
    """The served documents before the build: the old energy feed."""
    served = DocumentSet()
    serve(served, feed_doc("energy", "atom", b"<feed>old</feed>"))
    return served


def subscribe(
    websub: WebSub, callback: str, *, secret: str | None = None, lease: int = 60
) -> Subscription:
    """Store a verified subscription directly (verification has tests of its own)."""
    now = datetime.now(UTC)
    intent = websub.subscriptions.request(
        topic=TOPIC,
        callback=callback,
        mode="subscribe",
        secret=secret,
        lease_seconds=lease,
        token="t",
        now=now,
        max_pending=10,
    )
    assert websub.subscriptions.confirm(intent, now)
    [sub] = [s for s in websub.subscriptions.all() if s.callback == callback]
    return sub


def build(websub: WebSub, *docs: Published) -> None:
    """Hand a build's documents over as the daemon's build thread does, and wait for the sends."""

    async def main() -> None:
        await websub.start()
        try:
            await asyncio.to_thread(websub.published, list(docs))
            await asyncio.sleep(0)  # let the loop run the hand-over
            if websub.enabled:  # a disabled service has no queue
                await websub.queue.join()
        finally:
            await websub.aclose()

    asyncio.run(main())


def pushes(websub: WebSub, outcome: str) -> float:
    """A push counter's value."""
    value: float = websub.metrics.pushes.labels(outcome)._value.get()
    return value


@pytest.fixture
def websub(tmp_path: Path, store: Store, documents: DocumentSet) -> WebSub:
    """A hub serving ``documents``, allowed to call the subscriber on 127.0.0.1."""
    return make_websub(make_settings(tmp_path, allow_private_network=True), store, documents)


def test_push_carries_body_type_links_and_signature(websub: WebSub, subscriber: Subscriber) -> None:
    subscribe(websub, subscriber.url("/signed"), secret="k3y")
    subscribe(websub, subscriber.url("/plain"))
    build(websub, NEW)
    [signed] = subscriber.pushes_to("/signed")
    [plain] = subscriber.pushes_to("/plain")
    assert signed.body == plain.body == b"<feed>new</feed>"
    assert signed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert signed.headers["link"] == f'<{BASE}/websub>; rel="hub", <{TOPIC}>; rel="self"'
    digest = hmac.new(b"k3y", signed.body, hashlib.sha256).hexdigest()
    assert signed.headers["x-hub-signature"] == f"sha256={digest}"
    assert "x-hub-signature" not in plain.headers
    assert pushes(websub, "delivered") == 2
    [stored] = [s for s in websub.subscriptions.all() if s.callback.endswith("/signed")]
    assert stored.last_status_code == 200 and stored.last_push_at is not None


def test_unchanged_and_non_feed_documents_are_not_pushed(
    websub: WebSub, subscriber: Subscriber
) -> None:
    subscribe(websub, subscriber.url("/quiet"))
    same = feed_doc("energy", "atom", b"<feed>old</feed>")
    page = Published("index.html", b"<html/>", "text/html; charset=utf-8", same.last_modified)
    build(websub, same, page)
    assert subscriber.pushes == []


def test_failures_are_retried_with_backoff(websub: WebSub, subscriber: Subscriber) -> None:
    subscribe(websub, subscriber.url("/flaky"))
    subscriber.answer_pushes("/flaky", 503, 429)
    build(websub, NEW)
    first, second, third = subscriber.pushes_to("/flaky")
    assert second.at - first.at >= 0.035 and third.at - second.at >= 0.035  # 50 ms ± 20 %
    assert third.body == first.body
    assert (pushes(websub, "retry"), pushes(websub, "delivered")) == (2, 1)
    assert len(websub.subscriptions.all()) == 1


def test_gone_removes_the_subscription(websub: WebSub, subscriber: Subscriber) -> None:
    subscribe(websub, subscriber.url("/gone"))
    subscriber.answer_pushes("/gone", 410)
    build(websub, NEW)
    assert len(subscriber.pushes_to("/gone")) == 1
    assert websub.subscriptions.all() == []
    assert pushes(websub, "gone") == 1


def test_exhausted_schedule_terminates_the_subscription(
    websub: WebSub, subscriber: Subscriber
) -> None:
    subscribe(websub, subscriber.url("/down"))
    subscriber.answer_pushes("/down", 500, 500, 500, 500)
    build(websub, NEW)
    assert len(subscriber.pushes_to("/down")) == 3  # the first attempt and two retries
    assert websub.subscriptions.all() == []
    assert pushes(websub, "terminated") == 1


def test_other_client_errors_drop_the_push_only(websub: WebSub, subscriber: Subscriber) -> None:
    subscribe(websub, subscriber.url("/picky"))
    subscriber.answer_pushes("/picky", 400)
    build(websub, NEW)
    assert len(subscriber.pushes_to("/picky")) == 1
    [kept] = websub.subscriptions.all()
    assert kept.last_status_code == 400


def test_expired_subscription_gets_nothing(websub: WebSub, subscriber: Subscriber) -> None:
    sub = subscribe(websub, subscriber.url("/late"), lease=1)
    assert sub.active(datetime.now(UTC)) and not sub.active(sub.expires_at + timedelta(0))
    past = datetime.now(UTC) + timedelta(seconds=2)
    assert websub.subscriptions.expire(past) == 1
    build(websub, NEW)
    assert subscriber.pushes_to("/late") == []


def test_pings_go_to_external_hubs_with_retries(
    tmp_path: Path, store: Store, documents: DocumentSet, subscriber: Subscriber
) -> None:
    settings = make_settings(tmp_path, allow_private_network=True)
    settings = settings.model_copy(
        update={
            "websub": settings.websub.model_copy(
                update={"external_hubs": (subscriber.url("/hub-a"), subscriber.url("/hub-b"))}
            )
        }
    )
    websub = make_websub(settings, store, documents)
    subscriber.answer_pushes("/hub-a", 502)
    build(websub, NEW, feed_doc("ai", "rss", b"<rss/>"))
    expected = {
        b"hub.mode=publish&hub.url=" + url.replace(":", "%3A").replace("/", "%2F").encode()
        for url in (TOPIC, f"{BASE}/feeds/ai.rss")
    }
    a = subscriber.pushes_to("/hub-a")
    b = subscriber.pushes_to("/hub-b")
    assert {p.body for p in a} == {p.body for p in b} == expected
    assert len(a) == 3 and len(b) == 2  # one of hub-a's pings was retried
    assert all(p.headers["content-type"] == "application/x-www-form-urlencoded" for p in a)
    assert websub.metrics.pings.labels("retry")._value.get() == 1


def test_disabled_service_stays_out_of_the_way(
    tmp_path: Path, store: Store, documents: DocumentSet
) -> None:
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"websub": settings.websub.model_copy(update={"enabled": False})}
    )
    websub = make_websub(settings, store, documents)
    assert websub.routes() == {}
    assert websub.link_header("/feeds/energy.atom") == f'<{TOPIC}>; rel="self"'
    assert websub.link_header("/feeds.opml") is None
    with pytest.raises(RuntimeError, match="not enabled"):
        websub.hub  # noqa: B018 - no hub, client or queue was made
    build(websub, NEW)  # nothing to send, nothing to fail
