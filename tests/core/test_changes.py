"""Change detection rules (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
import pytest

from syndicator.core.article import (
    article_from_dict,
    article_to_dict,
    content_hash,
    deleted_data,
    entry_id,
    purged_record,
)
from syndicator.core.changes import DELETED_HASH, UNPUBLISHED_HASH, StoredState, classify_change
from syndicator.core.events import event_data, event_json, event_payload, event_timestamp
from syndicator.core.records import is_tombstone, parse_record, parse_tombstone
from syndicator.errors import RecordInvalid
from syndicator.models import ChangeKind, Tombstone

Make = Callable[..., dict[str, Any]]


def test_classify(make_record: Make) -> None:
    article = parse_record(make_record())
    digest = content_hash(article)
    assert classify_change(None, article, digest) is ChangeKind.CREATED
    same = StoredState(article.updated_at, digest, article.topics)
    assert classify_change(same, article, digest) is ChangeKind.IGNORED
    edited = replace(article, title="New", updated_at=article.updated_at + timedelta(seconds=1))
    assert classify_change(same, edited, content_hash(edited)) is ChangeKind.UPDATED
    older = replace(article, title="New", updated_at=article.updated_at - timedelta(seconds=1))
    assert classify_change(same, older, content_hash(older)) is ChangeKind.IGNORED
    same_time = replace(article, title="New")
    assert classify_change(same, same_time, content_hash(same_time)) is ChangeKind.IGNORED


def test_newer_timestamp_alone_is_not_a_change(make_record: Make) -> None:
    article = parse_record(make_record())
    bumped = replace(article, updated_at=article.updated_at + timedelta(hours=1))
    assert content_hash(bumped) == content_hash(article)
    stored = StoredState(article.updated_at, content_hash(article), article.topics)
    assert classify_change(stored, bumped, content_hash(bumped)) is ChangeKind.IGNORED


def test_round_trip(seed_record: dict[str, Any]) -> None:
    article = parse_record({**seed_record, "extra_field": [1, 2]})
    assert article_from_dict(article_to_dict(article)) == article


def test_event_payload(seed_record: dict[str, Any]) -> None:
    article = parse_record(seed_record)
    payload = event_payload(ChangeKind.CREATED, article, "https://feeds.example.com")
    assert payload["type"] == "article.created"
    assert payload["timestamp"] == "2026-06-30T12:31:01Z"
    data = payload["data"]
    assert data["slug"] == article.slug
    assert data["updated_at"] == "2026-06-30T12:31:01.483796Z"
    assert data["feeds"]["ai-chips"] == {
        "rss": "https://feeds.example.com/feeds/ai-chips.rss",
        "atom": "https://feeds.example.com/feeds/ai-chips.atom",
        "json": "https://feeds.example.com/feeds/ai-chips.json",
    }
    assert set(data) >= {"title", "summary", "url", "canonical_source", "published_at", "lang"}


def test_stored_times_sort_as_text() -> None:
    from datetime import UTC, datetime

    from syndicator.core.times import db_time

    times = [
        datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 10, 0, 0, 500000, tzinfo=UTC),
        datetime(2026, 6, 1, 10, 0, 1, tzinfo=UTC),
        datetime(999, 1, 1, tzinfo=UTC),
    ]
    assert sorted(times, key=db_time) == sorted(times)


def test_event_json_is_the_payload_serialized(seed_record: dict[str, Any]) -> None:
    # Large polls serialize `data` in a worker and assemble the payload later.
    article = parse_record({**seed_record, "summary": 'quote " and \\ and \u2028'})
    base = "https://feeds.example.com"
    for kind in (ChangeKind.CREATED, ChangeKind.UPDATED):
        data = orjson.dumps(event_data(article, base)).decode()
        assembled = event_json(kind, event_timestamp(article.updated_at), data)
        assert assembled == orjson.dumps(event_payload(kind, article, base)).decode()


def test_classify_tombstones_and_restores(make_record: Make) -> None:
    article = parse_record(make_record())
    digest = content_hash(article)
    t0 = article.updated_at
    live = StoredState(t0, digest, article.topics)
    later, same_time = (
        Tombstone(article.slug, t0 + timedelta(seconds=1)),
        Tombstone(article.slug, t0),
    )
    assert classify_change(live, later, "") is ChangeKind.DELETED
    assert classify_change(live, same_time, "") is ChangeKind.IGNORED
    assert classify_change(None, later, "") is ChangeKind.BURIED  # never seen: kept, silent
    deleted = StoredState(t0 + timedelta(seconds=1), DELETED_HASH, ())
    assert deleted.deleted and deleted.announced
    assert classify_change(deleted, later, "") is ChangeKind.IGNORED
    newer_stone = Tombstone(article.slug, t0 + timedelta(seconds=2))
    assert classify_change(deleted, newer_stone, "") is ChangeKind.BURIED  # no second event
    # Records: as old as the tombstone (or older) never resurrect; later ones restore.
    stale = replace(article, updated_at=t0 + timedelta(seconds=1))
    assert classify_change(deleted, stale, digest) is ChangeKind.IGNORED
    back = replace(article, updated_at=t0 + timedelta(seconds=2))
    assert classify_change(deleted, back, digest) is ChangeKind.UPDATED
    # A slug only ever seen as a tombstone was never announced: created, once.
    unpublished = StoredState(t0, UNPUBLISHED_HASH, ())
    assert unpublished.deleted and not unpublished.announced
    assert classify_change(unpublished, back, digest) is ChangeKind.CREATED


def test_tombstone_records(make_record: Make) -> None:
    stone = {"slug": "a", "deleted": True, "updated_at": "2026-06-01 10:00:00+02:00"}
    assert is_tombstone(stone, "deleted")
    assert parse_tombstone(stone).deleted_at.isoformat() == "2026-06-01T08:00:00+00:00"
    for falsy in (
        *(False, None, 0, "", [], {}, "false", " FALSE ", "0", "no", "off", "null"),
        *("n", "F", "0.0", "-0", "0e0"),  # CSV exports: Y/N, T/F, numbers as text
    ):
        assert not is_tombstone({**stone, "deleted": falsy}, "deleted")
    for truthy in ("true", "yes", "y", "1", "0.5", "nan", "2026-06-01T10:00:00Z", 1, [1]):
        assert is_tombstone({**stone, "deleted": truthy}, "deleted")
    assert is_tombstone({"slug": "a", "gone": "yes"}, "gone")
    assert not is_tombstone(stone, "gone") and not is_tombstone(["deleted"], "deleted")
    with pytest.raises(RecordInvalid, match="slug: Field required"):
        parse_tombstone({"deleted": True, "updated_at": "2026-06-01T10:00:00Z"})
    with pytest.raises(RecordInvalid, match="updated_at: must be an RFC 3339") as caught:
        parse_tombstone({"slug": "b", "deleted": True, "updated_at": 1})
    assert caught.value.slug == "b"


def test_deleted_event_data_keeps_identity_only(make_record: Make) -> None:
    article = parse_record(make_record(entities=["Acme"], topics=["energy", "ai"]))
    when = article.updated_at + timedelta(hours=1)
    kept = purged_record(article_to_dict(article), when)
    assert set(kept) == {"slug", "url", "published_at", "updated_at", "lang", "topics", "entities"}
    data = deleted_data(kept, when, "http://x")
    assert list(data) == ["slug", "id", "url", "topics", "entities", "lang", "deleted_at", "feeds"]
    assert data["id"] == entry_id(article.slug) and data["deleted_at"] == kept["updated_at"]
    assert data["feeds"]["ai"]["atom"] == "http://x/feeds/ai.atom"
    assert list(data["feeds"]) == ["energy", "ai"]
