"""Builder lock, shared documents and notifications on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from syndicator.coordination import Solo
from syndicator.coordination.postgres import BuilderLock, Signals
from syndicator.store.store import Store
from tests.postgres import Cluster

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_one_builder_at_a_time(postgres: Cluster) -> None:
    url = postgres.database()
    first, second = Store(url), Store(url)
    first.migrate()
    a, b = BuilderLock(first), BuilderLock(second)
    try:
        assert a.held() and a.held()
        assert not b.held()
        a.release()  # like a process dying: its connection closes
        assert b.held()
        assert not a.held()
    finally:
        a.release()
        b.release()
        first.close()
        second.close()


def test_sqlite_is_always_the_builder(tmp_path: object) -> None:
    store = Store(f"sqlite:///{tmp_path}/x.db")
    assert Solo(store, "test", clock=lambda: NOW, load_published=list).take_turn()
    store.close()


def test_documents_are_shared_by_version(postgres: Cluster) -> None:
    store = Store(postgres.database())
    store.migrate()
    try:
        v1 = store.feeds.save_documents([("feeds/a.rss", b"one", "application/rss+xml", NOW)], NOW)
        v2 = store.feeds.save_documents([("feeds/a.rss", b"two", "application/rss+xml", NOW)], NOW)
        assert v2 > v1
        newest, docs = store.feeds.load_documents(0)
        assert newest == v2 and docs == [("feeds/a.rss", b"two", "application/rss+xml", NOW)]
        assert store.feeds.load_documents(v2) == (v2, [])
    finally:
        store.close()


def test_notifications_reach_listeners(postgres: Cluster) -> None:
    store = Store(postgres.database())
    got = threading.Event()
    listener = Signals(store, {"syndicator_events": got.set})
    listener.start()
    try:
        for _ in range(20):  # the LISTEN may not be in place yet
            Signals(store, {}).notify("syndicator_events")
            if got.wait(0.5):
                break
        assert got.is_set()
    finally:
        listener.stop()
        store.close()
