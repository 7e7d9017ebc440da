"""The subscription store on SQLite and PostgreSQL: requests, verification, leases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.store.store import Store
from syndicator.store.websub import Intent, Subscriptions, TooManyPending

T0 = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
TOPIC = "http://127.0.0.1:8080/feeds/energy.atom"


@pytest.fixture
def subs(database_url: str) -> Iterator[Subscriptions]:
    """An empty subscription store on each backend."""
    store = Store(database_url)
    store.migrate()
    yield store.websub
    store.close()


def ask(
    subs: Subscriptions,
    callback: str = "https://reader.example/cb",
    *,
    mode: str = "subscribe",
    secret: str | None = "s3cr3t",
    lease: int | None = 60,
    token: str = "t1",
    at: datetime = T0,
    max_pending: int = 10,
) -> Intent:
    """Record a request."""
    return subs.request(
        topic=TOPIC,
        callback=callback,
        mode=mode,
        secret=secret,
        lease_seconds=lease,
        token=token,
        now=at,
        max_pending=max_pending,
    )


def test_verified_request_becomes_an_active_subscription(subs: Subscriptions) -> None:
    intent = ask(subs)
    assert [p.token for p in subs.pending()] == ["t1"]
    assert subs.all() == []  # nothing is active before verification
    assert subs.confirm(intent, T0)
    [sub] = subs.all()
    assert (sub.topic, sub.secret, sub.lease_seconds, sub.state) == (TOPIC, "s3cr3t", 60, "active")
    assert sub.expires_at == T0 + timedelta(seconds=60)
    assert subs.pending() == []
    assert subs.active_for([TOPIC], T0 + timedelta(seconds=59)) == [sub]
    assert subs.active_for([TOPIC], T0 + timedelta(seconds=60)) == []


def test_newer_request_supersedes_an_unverified_one(subs: Subscriptions) -> None:
    old = ask(subs, token="old", secret="a")
    new = ask(subs, token="new", secret="b")
    assert new.id == old.id and len(subs.pending()) == 1
    assert not subs.confirm(old, T0)  # the answer to the old challenge is not applied
    assert subs.all() == []
    assert subs.confirm(new, T0)
    assert subs.all()[0].secret == "b"


def test_renewal_keeps_created_time_and_moves_the_lease(subs: Subscriptions) -> None:
    subs.confirm(ask(subs), T0)
    later = T0 + timedelta(seconds=30)
    subs.confirm(ask(subs, token="t2", lease=120, secret=None, at=later), later)
    [sub] = subs.all()
    assert (sub.created_at, sub.verified_at) == (T0, later)
    assert sub.expires_at == later + timedelta(seconds=120) and sub.secret is None


def test_failed_verification_is_discarded(subs: Subscriptions) -> None:
    subs.discard(ask(subs), T0)
    assert subs.pending() == [] and subs.all() == []


def test_unsubscribe_removes_on_confirmation(subs: Subscriptions) -> None:
    subs.confirm(ask(subs), T0)
    leave = ask(subs, mode="unsubscribe", lease=None, secret=None, token="t2")
    assert len(subs.all()) == 1  # still active until the unsubscribe is verified
    assert subs.confirm(leave, T0)
    assert subs.all() == []


def test_pending_requests_are_capped(subs: Subscriptions) -> None:
    ask(subs, "https://a.example/", max_pending=2)
    ask(subs, "https://b.example/", max_pending=2)
    with pytest.raises(TooManyPending):
        ask(subs, "https://c.example/", max_pending=2)
    ask(subs, "https://a.example/", token="again", max_pending=2)  # a replacement is fine


def test_expiry_counts_and_public_view(subs: Subscriptions) -> None:
    subs.confirm(ask(subs, "https://a.example/", lease=10), T0)
    subs.confirm(ask(subs, "https://b.example/", lease=100), T0)
    ask(subs, "https://c.example/")
    later = T0 + timedelta(seconds=10)
    assert subs.counts(later) == {
        "active": 1,
        "topics": {TOPIC: 1},
        "expired": 1,
        "pending_verifications": 1,
    }
    assert subs.expire(later) == 1 and subs.expire(later) == 0
    views = [s.public(later) for s in subs.all()]
    assert [v["state"] for v in views] == ["expired", "active"]
    assert all("secret" not in v and v["has_secret"] for v in views)
    assert "s3cr3t" not in repr(subs.all())  # the secret stays out of reprs (and logs)


def test_stale_requests_are_taken_once(subs: Subscriptions) -> None:
    ask(subs, at=T0)
    later = T0 + timedelta(minutes=20)
    [stale] = subs.take_stale(later - timedelta(minutes=10), later)
    assert stale.token == "t1"
    assert subs.take_stale(later - timedelta(minutes=10), later) == []  # re-stamped


def test_remove_and_remove_callback(subs: Subscriptions) -> None:
    subs.confirm(ask(subs, "https://a.example/"), T0)
    subs.confirm(ask(subs, "https://b.example/"), T0)
    first = subs.all()[0]
    assert subs.remove(first.id, T0) and not subs.remove(first.id, T0)
    assert subs.remove_callback("https://b.example/", T0) == 1
    assert subs.all() == []
