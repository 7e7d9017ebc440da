"""Deletion, takedown and restore end to end (SPEC §3b), on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
from lxml import etree

from syndicator.core.article import entry_id
from syndicator.core.times import format_time
from syndicator.models import ALL_TOPIC
from syndicator.status import collect_status, format_status
from tests.cycle import Cycle
from tests.deployment import Deployment
from tests.feedcheck import assert_valid_atom
from tests.store.migrations import migration_number, undo_migrations_after

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]

_TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
_ATOM_NS = "http://www.w3.org/2005/Atom"
# Near the real clock: tombstones older than feeds.tombstone_days are not listed.
NOW = datetime.now(UTC).replace(microsecond=0)


def at(minutes: int) -> str:
    """An RFC 3339 time `minutes` after the start of the test run (negative: before)."""
    return format_time(NOW + timedelta(minutes=minutes))


def tombstone(slug: str, minutes: int, **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "deleted": True, "updated_at": at(minutes), **extra}


def entry_ids(deployment: Deployment, topic: str) -> dict[str, set[str]]:
    """The entry ids of a topic's feed in each format."""
    rss = feedparser.parse(deployment.feed(topic, "rss"))
    atom = etree.fromstring(deployment.feed(topic, "atom"))
    items = json.loads(deployment.feed(topic, "json"))["items"]
    return {
        "rss": {e.id for e in rss.entries},
        "atom": {e.findtext(f"{{{_ATOM_NS}}}id") for e in atom.iter(f"{{{_ATOM_NS}}}entry")},
        "json": {item["id"] for item in items},
    }


def deleted_entries(deployment: Deployment, topic: str) -> dict[str, str]:
    """The Atom feed's RFC 6721 deleted entries: ref → when."""
    root = assert_valid_atom(deployment.feed(topic, "atom"))
    return {e.get("ref"): e.get("when") for e in root.iter(f"{{{_TOMBSTONES_NS}}}deleted-entry")}


def publish(deployment: Deployment, run: Run, make_record: Make) -> Cycle:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("gone", topics=["energy", "ai"], updated_at=at(-60)),
            make_record("kept", topics=["energy"], updated_at=at(-50)),
        ],
    )
    cycle = run()
    assert cycle.poll().created == 2
    cycle.build()
    return cycle


def test_tombstone_takes_the_article_out_of_every_feed(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10, title="ignored")])
    changes = cycle.poll()
    assert (changes.deleted, changes.created, changes.updated) == (1, 0, 0)
    built = cycle.build()
    assert {"ai", "energy", ALL_TOPIC} <= set(built.topics)
    gone, kept = entry_id("gone"), entry_id("kept")
    for topic in ("energy", "ai", ALL_TOPIC):
        for fmt, ids in entry_ids(deployment, topic).items():
            assert gone not in ids, (topic, fmt)
            assert (kept in ids) == (topic != "ai"), (topic, fmt)
        assert deleted_entries(deployment, topic) == {gone: at(-10)}
        assert b"deleted-entry" not in deployment.feed(topic, "rss")
        assert b"deleted-entry" not in deployment.feed(topic, "json")
        parsed = feedparser.parse(deployment.feed(topic, "atom"))
        assert not parsed.bozo, parsed.get("bozo_exception")
    # The incremental build (entries reused from the previous files) wrote
    # the same bytes as rendering everything from the store.
    incremental = deployment.snapshot()
    cycle.build(full=True)
    assert {p: b for p, (b, _) in deployment.snapshot().items()} == {
        p: b for p, (b, _) in incremental.items()
    }
    # The content is purged; identity, topics and times are kept.
    known = cycle.store.articles.describe("gone")
    assert known is not None
    assert set(known["record"]) == {
        "slug", "url", "published_at", "updated_at", "lang", "topics", "entities"
    }  # fmt: skip
    assert known["record"]["topics"] == ["energy", "ai"]
    assert known["deleted_at"] == NOW - timedelta(minutes=10)
    assert known["in_feeds"] == []
    counts = {row.name: row.articles for row in cycle.store.articles.topics()}
    assert counts == {ALL_TOPIC: 1, "energy": 1, "ai": 0}
    assert cycle.store.articles.counts()["deleted"] == 1
    events = cycle.store.outbox.events("gone")
    assert [e["type"] for e in events] == ["article.created", "article.deleted"]
    data = events[1]["payload"]["data"]
    assert data == {
        "slug": "gone",
        "id": gone,
        "url": "https://news.example.org/gone",
        "topics": ["energy", "ai"],
        "entities": [],
        "lang": "en",
        "deleted_at": at(-10),
        "feeds": {
            t: {f: f"http://127.0.0.1:8080/feeds/{t}.{f}" for f in ("rss", "atom", "json")}
            for t in ("energy", "ai")
        },
    }
    # `status` (text and --json) shows the poll's deletion beside its other counts.
    report = collect_status(deployment.settings(), cycle.store)
    assert report["last_poll"]["counts"] == {
        "created": 0, "updated": 0, "deleted": 1, "ignored": 0, "quarantined": 0
    }  # fmt: skip
    assert "ok (0 created, 0 updated, 1 deleted, 0 ignored, 0 quarantined)" in format_status(report)
    # The same tombstone read again changes nothing.
    deployment.write_jsonl("c.jsonl", [tombstone("gone", -10)])
    assert cycle.poll().deleted == 0
    assert collect_status(deployment.settings(), cycle.store)["last_poll"]["counts"]["deleted"] == 0
    assert len(cycle.store.outbox.events("gone")) == 2


def test_stale_records_never_resurrect_and_a_newer_one_restores(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10)])
    cycle.poll()
    cycle.build()
    # The original file read again, then a record as old as the tombstone.
    deployment.write_jsonl(
        "a.jsonl", [make_record("gone", topics=["energy", "ai"], updated_at=at(-60))]
    )
    deployment.write_jsonl("c.jsonl", [make_record("gone", title="Same time", updated_at=at(-10))])
    changes = cycle.poll()
    assert (changes.created, changes.updated, changes.ignored) == (0, 0, 2)
    cycle.build()
    assert entry_id("gone") not in entry_ids(deployment, "energy")["atom"]
    # A later record restores it, in the topics it now has.
    deployment.write_jsonl(
        "d.jsonl", [make_record("gone", title="Back", topics=["energy"], updated_at=at(-5))]
    )
    changes = cycle.poll()
    assert (changes.created, changes.updated) == (0, 1)
    cycle.build()
    assert entry_id("gone") in entry_ids(deployment, "energy")["rss"]
    assert entry_id("gone") in entry_ids(deployment, ALL_TOPIC)["json"]
    assert deleted_entries(deployment, "energy") == {}
    assert deleted_entries(deployment, ALL_TOPIC) == {}
    # It left "ai" for good: that feed still lists it as deleted.
    assert deleted_entries(deployment, "ai") == {entry_id("gone"): at(-10)}
    types = [e["type"] for e in cycle.store.outbox.events("gone")]
    assert types == ["article.created", "article.deleted", "article.updated"]
    counts = {row.name: row.articles for row in cycle.store.articles.topics()}
    assert counts == {ALL_TOPIC: 2, "energy": 2, "ai": 0}
    known = cycle.store.articles.describe("gone")
    assert known is not None and known["deleted_at"] is None
    assert known["record"]["title"] == "Back"


def test_tombstone_for_an_unknown_slug_keeps_older_records_out(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [tombstone("never", -10)])
    cycle = run_pipeline()
    changes = cycle.poll()
    assert (changes.created, changes.deleted, changes.quarantined) == (0, 0, 0)
    cycle.build()
    assert cycle.store.outbox.events("never") == []
    assert deleted_entries(deployment, ALL_TOPIC) == {}
    deployment.write_jsonl("b.jsonl", [make_record("never", updated_at=at(-20))])
    assert cycle.poll().ignored == 1
    cycle.build()
    assert entry_id("never") not in entry_ids(deployment, ALL_TOPIC)["rss"]
    # A newer record publishes it, announced as created: nothing was before.
    deployment.write_jsonl("c.jsonl", [make_record("never", updated_at=at(-5))])
    assert cycle.poll().created == 1
    cycle.build()
    assert entry_id("never") in entry_ids(deployment, "energy")["atom"]
    assert [e["type"] for e in cycle.store.outbox.events("never")] == ["article.created"]


def test_bad_tombstones_are_quarantined_with_their_reason(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl(
        "b.jsonl",
        [
            {"deleted": True, "updated_at": at(-5)},
            {"slug": "gone", "deleted": True},
            {"slug": "gone", "deleted": True, "updated_at": "2026-06-01T10:00:00"},
        ],
    )
    changes = cycle.poll()
    assert (changes.quarantined, changes.deleted) == (3, 0)
    reasons = sorted(
        (q["source"].rsplit(":", 1)[1], q["reason"]) for q in cycle.store.polls.quarantined()
    )
    assert [line for line, _ in reasons] == ["1", "2", "3"]
    assert "slug: Field required" in reasons[0][1]
    assert "updated_at: Field required" in reasons[1][1]
    assert "no UTC offset" in reasons[2][1]
    assert cycle.store.articles.describe("gone")["deleted_at"] is None  # type: ignore[index]


def test_deleted_field_is_configurable_and_false_is_no_deletion(
    deployment: Deployment, make_record: Make
) -> None:
    from syndicator.wiring import open_store
    from tests.cycle import make_cycle

    deployment.write_jsonl(
        "a.jsonl",
        [make_record("x", updated_at=at(-30)), make_record("y", updated_at=at(-30))],
    )
    settings = deployment.settings(SYNDICATOR_SOURCE__DELETED_FIELD="gone")
    store = open_store(settings)
    try:
        cycle = make_cycle(settings, store)
        cycle.poll()
        deployment.write_jsonl(
            "b.jsonl",
            [
                {"slug": "x", "gone": 1, "updated_at": at(-5)},
                # `deleted` means nothing here: a record (quarantined, no title).
                {"slug": "y", "deleted": True, "updated_at": at(-5)},
                make_record("z", gone=False, updated_at=at(-5)),
            ],
        )
        changes = cycle.poll()
        assert (changes.deleted, changes.created, changes.quarantined) == (1, 1, 1)
    finally:
        store.close()


def test_a_missing_file_is_never_a_deletion(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    cycle = publish(deployment, run_pipeline, make_record)
    (deployment.source / "a.jsonl").unlink()
    changes = cycle.poll()
    assert changes.deleted == 0
    cycle.build()
    assert entry_id("gone") in entry_ids(deployment, ALL_TOPIC)["rss"]
    assert cycle.store.articles.counts()["deleted"] == 0


def test_tombstones_leave_the_atom_feed_after_tombstone_days(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10)])
    cycle.poll()
    cycle.build()
    assert entry_id("gone") in deleted_entries(deployment, "ai")
    before = deployment.feed("energy", "atom")
    # tombstone_days stays 7 and the clock moves on from when the article
    # left (the poll, on the real clock). No feed is dirty, yet the build
    # renders the topics whose tombstones expired.
    later = datetime.now(UTC) + timedelta(days=7, minutes=1)
    cycle.builder.clock = lambda: later
    built = cycle.build()
    assert sorted(built.topics) == sorted([ALL_TOPIC, "ai", "energy"])
    for topic in (ALL_TOPIC, "ai", "energy"):
        assert deleted_entries(deployment, topic) == {}
    after = deployment.feed("energy", "atom")
    assert after != before and b"deleted-entry" not in after
    # Forgotten once rendered out: the next build has nothing to do.
    assert cycle.build().topics == []


def test_an_atom_feed_lists_at_most_max_entries_deletions_the_newest(
    deployment: Deployment, make_record: Make
) -> None:
    from syndicator.wiring import open_store
    from tests.cycle import make_cycle

    # Seven articles in "energy", one in "ai"; max_entries is 3.
    deployment.write_jsonl(
        "a.jsonl",
        [make_record(f"e{n}", topics=["energy"], updated_at=at(-60 + n)) for n in range(7)]
        + [make_record("solo", topics=["ai"], updated_at=at(-60))],
    )
    settings = deployment.settings(SYNDICATOR_FEEDS__MAX_ENTRIES="3")
    store = open_store(settings)
    try:
        cycle = make_cycle(settings, store)
        assert cycle.poll().created == 8
        cycle.build()
        # Five deletions in one poll, each at its own time: e0 the oldest.
        deployment.write_jsonl("b.jsonl", [tombstone(f"e{n}", -20 + n) for n in range(5)])
        assert cycle.poll().deleted == 5
        cycle.build()
        newest = {entry_id(f"e{n}"): at(-20 + n) for n in (2, 3, 4)}
        for topic in ("energy", ALL_TOPIC):
            assert deleted_entries(deployment, topic) == newest, topic
        # A feed with fewer deletions than max_entries still lists them all.
        deployment.write_jsonl("c.jsonl", [tombstone("solo", -5)])
        assert cycle.poll().deleted == 1
        cycle.build()
        assert deleted_entries(deployment, "ai") == {entry_id("solo"): at(-5)}
        assert deleted_entries(deployment, ALL_TOPIC) == {
            entry_id("solo"): at(-5),
            entry_id("e4"): at(-16),
            entry_id("e3"): at(-17),
        }
        assert deleted_entries(deployment, "energy") == newest
    finally:
        store.close()


def test_a_deletion_dated_long_ago_is_listed_from_when_the_article_left(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """A tombstone record older than `tombstone_days` still tells readers: the
    window starts when the article left the feed; `when` keeps the record's time."""
    days = 24 * 60
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("old", topics=["ai"], entities=["Arm"], updated_at=at(-30 * days))],
    )
    cycle = run_pipeline()
    cycle.poll()
    cycle.build()
    deployment.write_jsonl("b.jsonl", [tombstone("old", -20 * days)])
    assert cycle.poll().deleted == 1
    cycle.build()
    for topic in (ALL_TOPIC, "ai"):
        assert deleted_entries(deployment, topic) == {entry_id("old"): at(-20 * days)}
    window_start = NOW - timedelta(days=7)
    assert [slug for slug, _ in cycle.store.facets.tombstones("entities/arm", window_start)] == [
        "old"
    ]
    # Seven days after it left (the poll, on the real clock), it is gone.
    later = datetime.now(UTC) + timedelta(days=7, minutes=1)
    cycle.builder.clock = lambda: later
    cycle.build()
    for topic in (ALL_TOPIC, "ai"):
        assert deleted_entries(deployment, topic) == {}


def test_migration_starts_each_stored_tombstones_window_at_its_deletion(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    from sqlalchemy import select

    from syndicator.store import schema as t

    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10)])
    cycle.poll()
    # The previous shape: no left_at column.
    with cycle.store.db.engine.begin() as conn:
        undo_migrations_after(conn, migration_number("ADD COLUMN left_at") - 1)
    cycle.store.close()
    reopened = run_pipeline()
    ft = t.feed_tombstones
    with reopened.store.db.read() as conn:
        rows = conn.execute(select(ft.c.topic, ft.c.deleted_at, ft.c.left_at)).all()
    assert sorted(r[0] for r in rows) == sorted([ALL_TOPIC, "ai", "energy", "lang/en"])
    assert all(r[2] == r[1] for r in rows)
    reopened.build()
    assert entry_id("gone") in deleted_entries(deployment, "ai")


def test_the_poll_log_line_counts_deletions(
    deployment: Deployment, run_pipeline: Run, make_record: Make, caplog: Any
) -> None:
    import logging

    cycle = publish(deployment, run_pipeline, make_record)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10)])
    with caplog.at_level(logging.INFO, logger="syndicator.ingest.poller"):
        caplog.clear()  # the publishing poll may have been captured already
        cycle.poll()
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("poll ok")]
    assert line.startswith("poll ok: 0 created, 0 updated, 1 deleted, 0 ignored, 0 quarantined")
