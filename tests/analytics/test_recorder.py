"""The recorder and `store.readers` on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from syndicator.analytics.recorder import Recorder
from syndicator.retention import Pruner
from syndicator.store import schema as t
from syndicator.store.readers import FeedUsage
from syndicator.store.store import Store
from tests.clock import Clock

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY0 = T0.date()
FEEDLY = b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; %d subscribers; feed-id=%s)"
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NEWSBOAT = b"Newsboat/2.36 (Linux x86_64)"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def stores(database_url: str, clock: Clock) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database: two processes of a deployment."""
    first, second = Store(database_url), Store(database_url)
    first.migrate()
    for store in (first, second):
        store.readers.clock = clock
    yield first, second
    first.close()
    second.close()


def test_two_processes_add_up(stores: tuple[Store, Store], clock: Clock) -> None:
    one = Recorder(stores[0].readers, clock=clock)
    two = Recorder(stores[1].readers, clock=clock)
    rss, atom = "/feeds/all.rss", "/feeds/all.atom"
    one.observe(rss, 200, FIREFOX, "192.0.2.1")
    one.observe(rss, 304, FIREFOX, "192.0.2.1")
    one.observe(rss, 200, FEEDLY % (10, b"a"), "203.0.113.9")
    two.observe(rss, 304, FIREFOX, "192.0.2.1")  # the same reader, through the other process
    two.observe(rss, 200, NEWSBOAT, "192.0.2.1")  # same address, another agent: another reader
    two.observe(rss, 200, FIREFOX, "192.0.2.2")
    two.observe(rss, 200, FEEDLY % (5, b"b"), "203.0.113.9")  # Feedly's second id of this URL
    two.observe(atom, 200, FIREFOX, "192.0.2.1")
    two.observe(atom, 404, FIREFOX, "192.0.2.1")  # not a document: not counted
    assert one.flush() and two.flush()
    clock.now = T0 + timedelta(minutes=1)
    one.observe(rss, 304, FEEDLY % (11, b"a"), "203.0.113.9")  # a later figure replaces 10
    assert one.flush()

    usage = stores[1].readers.traffic(DAY0)
    assert usage == {
        atom: FeedUsage(requests=1, not_modified=0, subscribers={}, direct_readers=1),
        rss: FeedUsage(requests=8, not_modified=3, subscribers={"feedly": 16}, direct_readers=3),
    }
    assert stores[0].readers.daily(rss, 2) == [
        (DAY0 - timedelta(days=1), 0, 0, 0),
        (DAY0, 8, 3, 3),
    ]


def test_salt_rotates_daily_and_old_salts_go(stores: tuple[Store, Store], clock: Clock) -> None:
    store = stores[0]
    recorder = Recorder(store.readers, clock=clock)
    path = "/feeds/energy.json"
    recorder.observe(path, 200, FIREFOX, "192.0.2.1")
    assert recorder.flush()
    first = _rows(store)
    clock.now = T0 + timedelta(days=1)
    recorder.observe(path, 200, FIREFOX, "192.0.2.1")
    assert recorder.flush()
    second = _rows(store)

    # One salt, today's: yesterday's hashes can no longer be recomputed.
    assert [day for day, _ in second["salts"]] == [(DAY0 + timedelta(days=1)).isoformat()]
    assert first["salts"][0][1] != second["salts"][0][1]
    visits = second["visits"]
    assert [day for day, _, _ in visits] == [
        DAY0.isoformat(),
        (DAY0 + timedelta(days=1)).isoformat(),
    ]
    # The same reader on two days: two unrelated hashes, one reader each day.
    assert visits[0][2] != visits[1][2] and len(visits[0][2]) == 16
    assert [row[3] for row in store.readers.daily(path, 2)] == [1, 1]
    assert store.readers.traffic(DAY0)[path].direct_readers == 2  # the sum of the days


def test_bounds_count_what_does_not_fit(stores: tuple[Store, Store], clock: Clock) -> None:
    recorder = Recorder(stores[0].readers, clock=clock, max_paths=1, max_readers=2)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        recorder.observe("/feeds/a.rss", 200, FIREFOX, address)
    recorder.observe("/feeds/b.rss", 200, FIREFOX, "192.0.2.1")
    assert (recorder.dropped_requests, recorder.dropped_readers) == (1, 1)
    assert recorder.flush()
    usage = stores[0].readers.traffic(DAY0)
    assert list(usage) == ["/feeds/a.rss"]
    assert (usage["/feeds/a.rss"].requests, usage["/feeds/a.rss"].direct_readers) == (3, 2)


def test_retention_prunes_old_days_in_batches(stores: tuple[Store, Store], clock: Clock) -> None:
    store = stores[0]
    recorder = Recorder(store.readers, clock=clock)
    for offset in range(3):
        clock.now = T0 + timedelta(days=offset)
        for n in range(5):
            recorder.observe("/feeds/all.rss", 200, FIREFOX, f"192.0.2.{n}")
        recorder.observe("/feeds/all.rss", 200, FEEDLY % (offset + 1, b"x"), "203.0.113.9")
        assert recorder.flush()
    last = T0.date() + timedelta(days=2)
    # Keep the last day only, two rows at a time.
    rounds = 0
    while store.readers.prune(last, last, 2) == 2:
        rounds += 1
    assert rounds >= 4
    assert [row[3] for row in store.readers.daily("/feeds/all.rss", 3)] == [0, 0, 5]
    usage = store.readers.traffic(date(2000, 1, 1))["/feeds/all.rss"]
    assert (usage.requests, usage.subscribers) == (6, {"feedly": 3})


def test_a_failed_flush_keeps_its_batch(tmp_path: object, clock: Clock) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.migrate()
    store.readers.clock = clock
    recorder = Recorder(store.readers, clock=clock)
    with store.db.write() as conn:
        conn.exec_driver_sql("ALTER TABLE reader_traffic RENAME TO reader_traffic_away")
    recorder.observe("/feeds/all.rss", 200, FIREFOX, "192.0.2.1")
    assert not recorder.flush()
    with store.db.write() as conn:
        conn.exec_driver_sql("ALTER TABLE reader_traffic_away RENAME TO reader_traffic")
    recorder.observe("/feeds/all.rss", 304, FIREFOX, "192.0.2.1")
    assert recorder.flush()
    usage = store.readers.traffic(DAY0)["/feeds/all.rss"]
    assert (usage.requests, usage.not_modified, usage.direct_readers) == (2, 1, 1)
    store.close()


def _rows(store: Store) -> dict[str, list[tuple[str, ...]]]:
    with store.db.read() as conn:
        salts = conn.execute(select(t.reader_salts).order_by(t.reader_salts.c.day))
        visits = conn.execute(
            select(t.reader_visits).order_by(t.reader_visits.c.day, t.reader_visits.c.reader)
        )
        return {"salts": [tuple(r) for r in salts], "visits": [tuple(r) for r in visits]}


def test_the_retention_pass_prunes_reader_rows(stores: tuple[Store, Store], clock: Clock) -> None:
    store = stores[0]
    recorder = Recorder(store.readers, clock=clock)
    for offset in (0, 5):
        clock.now = T0 + timedelta(days=offset)
        recorder.observe("/feeds/all.rss", 200, FIREFOX, "192.0.2.1")
        recorder.observe("/feeds/all.rss", 200, FEEDLY % (offset + 1, str(offset).encode()), "x")
        assert recorder.flush()
    report = Pruner(store, days=2, pause=0).run(clock.now)
    # Day 0's traffic and reader row, and the figure last announced on day 0.
    assert report.reader_rows >= 1
    assert store.readers.daily("/feeds/all.rss", 6)[0][1:] == (0, 0, 0)
    usage = store.readers.traffic(date(2000, 1, 1))["/feeds/all.rss"]
    assert (usage.requests, usage.direct_readers, usage.subscribers) == (2, 1, {"feedly": 6})
