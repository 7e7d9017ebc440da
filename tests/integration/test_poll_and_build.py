"""Poll and build end to end on a temporary folder, SQLite file and output folder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import feedparser

from syndicator.render.feeds import entry_id
from syndicator.store.database import SCHEMA_VERSION
from tests.cycle import Cycle
from tests.deployment import Deployment
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def assert_all_feeds_valid(deployment: Deployment) -> None:
    folder = deployment.output / "feeds"
    # Beside the feeds, the stylesheet they point at (a well-formed XSLT).
    assert b"<xsl:stylesheet" in (folder / "feed.xsl").read_bytes()
    feeds = sorted(p for p in folder.iterdir() if p.name != "feed.xsl")
    assert feeds, "no feeds written"
    for path in feeds:
        data = path.read_bytes()
        {"rss": assert_valid_rss, "atom": assert_valid_atom, "json": assert_valid_json_feed}[
            path.suffix[1:]
        ](data)


def test_first_poll_creates_and_builds(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", topics=["energy", "climate"]),
            make_record("two", topics=["space"], updated_at="2026-06-02T10:00:00Z"),
        ],
    )
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert (changes.created, changes.updated, changes.quarantined) == (2, 0, 0)
    result = pipeline.build()
    assert sorted(result.topics) == ["all", "climate", "energy", "space"]
    assert_all_feeds_valid(deployment)
    assert (deployment.output / "feeds.opml").is_file()
    assert (deployment.output / "index.html").is_file()
    parsed = feedparser.parse(deployment.feed("all", "rss"))
    assert [e.title for e in parsed.entries] == ["Title of two", "Title of one"]
    events = pipeline.store.outbox.events()
    assert [(e["type"], e["slug"]) for e in events] == [
        ("article.created", "one"),
        ("article.created", "two"),
    ]


def test_second_run_over_unchanged_data_writes_nothing(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one"), make_record("two", topics=["space"])])
    first = run_pipeline()
    first.poll()
    first.build()
    before = deployment.snapshot()
    again = run_pipeline()
    changes = again.poll()
    result = again.build()
    assert changes.changed == 0 and result.written == 0
    assert deployment.snapshot() == before


def test_full_rebuild_gives_identical_bytes(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one"), make_record("two", topics=["space"])])
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    before = deployment.snapshot()
    result = pipeline.build(full=True)
    assert result.topics and result.written == 0
    assert deployment.snapshot() == before


def test_update_keeps_identity_and_moves_topics(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one", topics=["energy", "climate"])])
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    old_atom = feedparser.parse(deployment.feed("energy", "atom"))
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "one",
                title="Edited title",
                body_md="New body",
                url="https://news.example.org/moved",
                published_at="2026-06-01T11:00:00Z",
                updated_at="2026-06-03T10:00:00Z",
                topics=["energy"],
            )
        ],
    )
    changes = pipeline.poll()
    assert (changes.created, changes.updated) == (0, 1)
    pipeline.build()
    new_atom = feedparser.parse(deployment.feed("energy", "atom"))
    assert new_atom.entries[0].title == "Edited title"
    assert new_atom.entries[0].id == old_atom.entries[0].id == entry_id("one")
    climate = feedparser.parse(deployment.feed("climate", "rss"))
    assert climate.entries == [] and climate.bozo == 0
    assert_all_feeds_valid(deployment)
    assert [e["type"] for e in pipeline.store.outbox.events("one")] == [
        "article.created",
        "article.updated",
    ]


def test_older_or_identical_versions_are_ignored(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one", updated_at="2026-06-05T00:00:00Z")])
    pipeline = run_pipeline()
    pipeline.poll()
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record("one", title="Older", updated_at="2026-06-04T00:00:00Z"),
            make_record("one", title="Same time", updated_at="2026-06-05T00:00:00Z"),
        ],
    )
    changes = pipeline.poll()
    assert (changes.ignored, changes.updated, changes.created) == (2, 0, 0)
    assert len(pipeline.store.outbox.events()) == 1


def test_edit_in_the_same_poll(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", topics=["energy", "climate"]),
            make_record("one", title="v2", topics=["energy"], updated_at="2026-06-02T00:00:00Z"),
        ],
    )
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert (changes.created, changes.updated) == (1, 1)
    pipeline.build()
    assert feedparser.parse(deployment.feed("climate", "atom")).entries == []
    assert feedparser.parse(deployment.feed("energy", "atom")).entries[0].title == "v2"


def test_invalid_records_are_quarantined_and_the_rest_ingested(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    path = deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("good1"),
            make_record("naive", updated_at="2026-06-01T10:00:00"),
            make_record("badtopic", topics=["../../etc"]),
            make_record("badurl", url="javascript:alert(1)"),
            make_record("future", updated_at="2999-01-01T00:00:00Z"),
            make_record("good2"),
        ],
    )
    with path.open("a") as handle:
        handle.write("{not json}\n")
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert (changes.created, changes.quarantined) == (2, 5)
    quarantine = pipeline.store.polls.quarantined()
    assert [(q["source"], q["slug"]) for q in quarantine] == [
        (f"{path}:2", "naive"),
        (f"{path}:3", "badtopic"),
        (f"{path}:4", "badurl"),
        (f"{path}:5", "future"),
        (f"{path}:7", None),
    ]
    assert "updated_at" in quarantine[0]["reason"]
    assert "topics" in quarantine[1]["reason"]
    watermark, _ = pipeline.store.polls.source_state("dir")
    assert watermark is not None and watermark.year == 2026
    # Fixing the file retries it; the quarantine empties.
    deployment.write_jsonl("a.jsonl", [make_record("good1"), make_record("naive")])
    changes = pipeline.poll()
    assert changes.created == 1 and pipeline.store.polls.quarantined() == []


def test_control_characters_and_scripts_never_reach_feeds(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record(
                "evil",
                title="Ti\x00tle \x1b[31m",
                summary="<b>bold</b> \x07",
                body_md=(
                    "Hello\x0b <script>alert(1)</script>\n\n"
                    '<img src="x" onerror="alert(2)"> <a href="javascript:alert(3)">x</a>'
                ),
                entities=["E\x01"],
            )
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    assert_all_feeds_valid(deployment)
    for fmt in ("rss", "atom", "json"):
        data = deployment.feed("energy", fmt).decode()
        assert "<script" not in data and "onerror" not in data and "javascript:" not in data
    parsed = json.loads(deployment.feed("energy", "json"))
    assert parsed["items"][0]["summary"] == "<b>bold</b> "


def test_crash_between_commit_and_write_is_repaired(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    pipeline = run_pipeline()
    pipeline.poll()  # committed, then the process "dies" before building
    assert pipeline.store.feeds.dirty_topics() == ["all", "energy", "lang/en"]
    fresh = run_pipeline()
    assert fresh.poll().changed == 0
    fresh.build()
    assert feedparser.parse(deployment.feed("energy", "rss")).entries[0].title == "Title of one"
    assert fresh.store.feeds.dirty_topics() == []


def test_deleted_output_is_rewritten(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    (deployment.output / "feeds" / "energy.atom").unlink()
    (deployment.output / "feeds" / ".energy.rss.tmp-999").write_bytes(b"partial")
    run_pipeline().build()
    assert_valid_atom(deployment.feed("energy", "atom"))
    assert not list((deployment.output / "feeds").glob(".*tmp*"))


def test_max_entries_and_order(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.config.write_text(
        deployment.config.read_text().replace("max_entries = 50", "max_entries = 3")
    )
    deployment.write_jsonl(
        "a.jsonl",
        [make_record(f"s{i}", updated_at=f"2026-06-{i + 1:02d}T00:00:00Z") for i in range(6)],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    parsed = feedparser.parse(deployment.feed("energy", "atom"))
    assert [e.id for e in parsed.entries] == [entry_id(s) for s in ("s5", "s4", "s3")]
    assert tuple(parsed.feed.updated_parsed)[:6] == (2026, 6, 6, 0, 0, 0)


def test_state_survives_a_new_process(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    run_pipeline().poll()
    store = run_pipeline().store
    assert store.polls.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert [e["slug"] for e in store.outbox.events()] == ["one"]
    if deployment.backend == "sqlite":
        with sqlite3.connect(deployment.database) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
