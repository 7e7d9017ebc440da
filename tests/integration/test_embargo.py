"""Embargoes: a record with a future `published_at` is stored but held out of
feeds, counts and webhooks until that instant (both backends, a set clock)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from syndicator.build import Builder
from syndicator.core.times import db_time
from syndicator.ingest import Poller
from syndicator.store.store import Store
from syndicator.wiring import make_source, open_store
from tests.clock import Clock
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]

NOW = datetime(2026, 6, 10, tzinfo=UTC)
LATER = NOW + timedelta(hours=12)  # the embargo instant
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Desk:
    """A poller and builder over one store, on the test's clock."""

    store: Store
    poller: Poller
    builder: Builder
    clock: Clock
    deployment: Deployment

    def slugs(self, topic: str) -> list[str]:
        return [a.slug for a, _, _ in self.store.articles.feed_entries(topic, 50)]

    def keys(self, topic: str) -> list[str]:
        return [key[0] for key in self.store.articles.feed_keys(topic, 50)]

    def counts(self) -> dict[str, int]:
        return {row.name: row.articles for row in self.store.articles.topics()}

    def changed(self, topic: str) -> datetime | None:
        return next(r.changed_at for r in self.store.articles.topics() if r.name == topic)

    def deliveries(self) -> list[tuple[str, str, str]]:
        """(slug, type, next_attempt_at) of the open deliveries, oldest first."""
        return [
            (d["slug"], d["type"], d["next_attempt_at"])
            for d in reversed(self.store.outbox.listing())
            if d["next_attempt_at"] is not None
        ]

    def atom_ids(self, topic: str) -> list[str]:
        parsed = feedparser.parse(self.deployment.feed(topic, "atom"))
        assert not parsed.bozo, parsed.bozo_exception
        return [str(e.link).rsplit("/", 1)[-1] for e in parsed.entries]


@pytest.fixture
def desk(deployment: Deployment) -> Any:
    with deployment.config.open("a", encoding="utf-8") as config:
        config.write(
            '\n[[webhooks]]\nname = "hook"\nurl = "https://hooks.example.org/in"\n'
            f'secret = "{SECRET}"\n'
        )
    settings = deployment.settings()
    store = open_store(settings)
    clock = Clock(NOW)
    yield Desk(
        store,
        Poller(settings, store, make_source(settings), clock),
        Builder(settings, store, clock),
        clock,
        deployment,
    )
    store.close()


def at(when: datetime) -> str:
    return when.isoformat()


def test_held_article_is_stored_but_out_of_feeds_counts_and_webhooks(
    desk: Desk, make_record: Make
) -> None:
    desk.deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("out", topics=["energy"]),
            make_record(
                "held", topics=["energy", "launch"], published_at=at(LATER), updated_at=at(NOW)
            ),
        ],
    )
    changes = desk.poller.poll()
    assert changes.created == 2
    assert desk.store.articles.articles_by_slug(["held"]).keys() == {"held"}  # stored
    for topic in ("energy", "all"):
        assert desk.slugs(topic) == desk.keys(topic) == ["out"]
    many = desk.store.articles.feed_keys_many(["energy", "all", "launch"], 50)
    assert {topic: [k[0] for k in keys] for topic, keys in many.items()} == {
        "energy": ["out"],
        "all": ["out"],
        "launch": [],
    }
    # Counted nowhere and dating no feed: `launch` has no published article yet.
    assert desk.counts() == {"all": 1, "energy": 1}
    assert desk.changed("all") == desk.changed("energy") == datetime(2026, 6, 1, 10, tzinfo=UTC)
    held = desk.store.embargoes.held()
    assert [(h.slug, h.publish_at, h.topics) for h in held] == [
        ("held", LATER, ("energy", "launch"))
    ]
    assert desk.store.embargoes.next_release() == LATER
    # The event is committed now; its delivery waits for the instant.
    assert desk.deliveries() == [
        ("out", "article.created", db_time(NOW)),
        ("held", "article.created", db_time(LATER)),
    ]
    claimed = desk.store.outbox.claim("t", NOW, ["hook"], 10, timedelta(days=2))
    assert [json.loads(c.body)["data"]["slug"] for c in claimed] == ["out"]

    desk.builder.build()
    assert desk.atom_ids("energy") == desk.atom_ids("all") == ["out"]
    assert not (desk.deployment.output / "feeds" / "launch.atom").exists()
    assert desk.store.release_embargoes(LATER - timedelta(microseconds=1)) == set()

    desk.clock.now = LATER + timedelta(milliseconds=300)
    result = desk.builder.build()  # what the scheduled job and `once` run
    assert {"all", "energy", "launch"} <= set(result.topics)
    assert desk.atom_ids("energy") == desk.atom_ids("all") == ["held", "out"]
    assert desk.atom_ids("launch") == ["held"]
    assert desk.counts() == {"all": 2, "energy": 2, "launch": 1}
    # The feeds changed at the instant: their dates (and Last-Modified) say so.
    assert desk.changed("energy") == desk.changed("launch") == desk.changed("all") == LATER
    assert desk.store.embargoes.held() == []
    assert desk.store.embargoes.next_release() is None
    claimed = desk.store.outbox.claim("t", LATER, ["hook"], 10, timedelta(minutes=1))
    assert [json.loads(c.body)["data"]["slug"] for c in claimed] == ["held"]


def test_incremental_build_after_release_equals_a_full_build(desk: Desk, make_record: Make) -> None:
    desk.deployment.write_jsonl(
        "a.jsonl",
        [make_record(f"s{n}", updated_at=f"2026-06-0{n + 1}T00:00:00Z") for n in range(5)]
        + [make_record("held", published_at=at(LATER), updated_at="2026-06-03T12:00:00Z")],
    )
    desk.poller.poll()
    desk.builder.build()
    desk.clock.now = LATER
    desk.builder.build()  # reuses the entries of the files it replaces
    incremental = {fmt: desk.deployment.feed("energy", fmt) for fmt in ("rss", "atom", "json")}
    assert b"held" in incremental["atom"]
    desk.builder.build(full=True)
    assert incremental == {fmt: desk.deployment.feed("energy", fmt) for fmt in incremental}


def test_update_moves_the_embargo_and_its_deliveries(desk: Desk, make_record: Make) -> None:
    later_still = LATER + timedelta(hours=6)
    desk.deployment.write_jsonl(
        "a.jsonl", [make_record("held", published_at=at(LATER), updated_at=at(NOW))]
    )
    desk.poller.poll()
    # Still in the future, later: both announcements wait for the new instant.
    desk.deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "held",
                title="Moved",
                published_at=at(later_still),
                updated_at=at(NOW + timedelta(minutes=1)),
            )
        ],
    )
    assert desk.poller.poll().updated == 1
    assert desk.store.embargoes.next_release() == later_still
    assert desk.deliveries() == [
        ("held", "article.created", db_time(later_still)),
        ("held", "article.updated", db_time(later_still)),
    ]
    desk.clock.now = LATER + timedelta(seconds=1)
    desk.builder.build()
    assert desk.slugs("energy") == []
    # Moved to the past: published by the poll itself, announcements due now.
    desk.deployment.write_jsonl(
        "c.jsonl",
        [make_record("held", title="Out now", published_at=at(NOW), updated_at=at(LATER))],
    )
    assert desk.poller.poll().updated == 1
    assert desk.slugs("energy") == ["held"]
    assert desk.counts() == {"all": 1, "energy": 1}
    assert desk.store.embargoes.held() == []
    now = db_time(desk.clock.now)
    assert [(kind, when) for _, kind, when in desk.deliveries()] == [
        ("article.created", now),
        ("article.updated", now),
        ("article.updated", now),
    ]
    desk.builder.build()
    assert desk.atom_ids("energy") == ["held"]


def test_published_article_moved_into_the_future_is_withdrawn_until_then(
    desk: Desk, make_record: Make
) -> None:
    desk.deployment.write_jsonl("a.jsonl", [make_record("story", topics=["energy", "space"])])
    desk.poller.poll()
    desk.builder.build()
    assert desk.atom_ids("space") == ["story"]
    desk.deployment.write_jsonl(
        "b.jsonl",
        [make_record("story", topics=["space"], published_at=at(LATER), updated_at=at(NOW))],
    )
    desk.poller.poll()
    desk.builder.build()
    assert desk.atom_ids("space") == desk.atom_ids("energy") == []
    assert desk.counts() == {"all": 0, "energy": 0, "space": 0}
    # No worker ran here: the announcement not yet sent waits with the article.
    assert desk.deliveries() == [
        ("story", "article.created", db_time(LATER)),
        ("story", "article.updated", db_time(LATER)),
    ]
    desk.clock.now = LATER
    desk.builder.build()
    assert desk.atom_ids("space") == ["story"]
    assert desk.atom_ids("energy") == []
    assert desk.counts() == {"all": 1, "energy": 0, "space": 1}


def test_held_update_of_a_held_article_leaves_the_feeds_alone(
    desk: Desk, make_record: Make
) -> None:
    desk.deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("out"),
            make_record("held", published_at=at(LATER), updated_at=at(NOW)),
        ],
    )
    desk.poller.poll()
    desk.builder.build()
    before = desk.deployment.snapshot()
    desk.deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "held",
                title="Edited",
                published_at=at(LATER),
                updated_at=at(NOW + timedelta(hours=1)),
            )
        ],
    )
    assert desk.poller.poll().updated == 1
    assert desk.store.feeds.dirty_topics() == []
    desk.builder.build()
    assert desk.deployment.snapshot() == before  # not a byte, not a file time


def test_an_article_deleted_while_held_is_never_announced_as_created(
    desk: Desk, make_record: Make
) -> None:
    desk.deployment.write_jsonl(
        "a.jsonl",
        [make_record("held", published_at=at(LATER), updated_at=at(NOW))],
    )
    desk.poller.poll()
    assert desk.deliveries() == [("held", "article.created", db_time(LATER))]
    desk.clock.now = NOW + timedelta(hours=1)
    desk.deployment.write_jsonl(
        "b.jsonl",
        [{"slug": "held", "deleted": True, "updated_at": at(NOW + timedelta(hours=1))}],
    )
    assert desk.poller.poll().deleted == 1
    # The held announcement would have published what was taken down, and an
    # `article.deleted` would tell receivers what was embargoed: neither goes,
    # and the stored announcement keeps no content to re-send.
    rows = [(d["type"], d["status"]) for d in desk.store.outbox.listing()]
    assert rows == [("article.created", "dead")]
    (event,) = desk.store.outbox.events("held")
    assert event["type"] == "article.created"
    assert event["payload"]["data"] == {"slug": "held", "purged": True}
    desk.clock.now = LATER + timedelta(seconds=1)
    desk.builder.build()
    assert desk.slugs("all") == []
    # Readers never saw its topic: no feed of it, so no tombstone betrays it.
    assert not (desk.deployment.output / "feeds" / "energy.atom").exists()
    assert b"deleted-entry" not in desk.deployment.feed("all", "atom")
    assert desk.store.outbox.claim("t", desk.clock.now, ["hook"], 10, timedelta(minutes=1)) == []
    # Never announced: a later record brings it as new.
    desk.deployment.write_jsonl(
        "c.jsonl", [make_record("held", updated_at=at(LATER + timedelta(seconds=1)))]
    )
    assert desk.poller.poll().created == 1
    assert [e["type"] for e in desk.store.outbox.events("held")][-1] == "article.created"
