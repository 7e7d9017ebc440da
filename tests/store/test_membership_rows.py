"""Feed membership rows are keyed (topic, updated_at, slug), newest first.

A change finds an article's old rows by its stored `updated_at`, so every
row must carry its article's time, one row per feed, through edits, moves,
embargoes, takedowns and restores, and after the migration to this shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from syndicator.store import schema as t
from syndicator.store.database import SCHEMA_VERSION
from tests.cycle import Cycle
from tests.deployment import Deployment
from tests.store.migrations import migration_number, undo_migrations_after

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def rows(cycle: Cycle) -> list[tuple[str, str, str]]:
    """Every membership row as (topic, slug, updated_at), in the table's key order."""
    at = t.article_topics
    with cycle.store.db.read() as conn:
        found = conn.execute(select(at.c.topic, at.c.slug, at.c.updated_at)).all()
    return [(r[0], r[1], r[2]) for r in found]


def check_rows(cycle: Cycle) -> set[tuple[str, str]]:
    """Assert each row carries its article's time and no feed holds an article
    twice; return the (topic, slug) pairs."""
    a = t.articles
    with cycle.store.db.read() as conn:
        stamps = {r[0]: r[1] for r in conn.execute(select(a.c.slug, a.c.updated_at))}
    found = rows(cycle)
    pairs = Counter((topic, slug) for topic, slug, _ in found)
    assert [pair for pair, n in pairs.items() if n > 1] == []
    assert [r for r in found if r[2] != stamps[r[1]]] == []
    return set(pairs)


def test_rows_follow_edits_moves_embargoes_takedowns_and_restores(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", topics=["energy"], entities=["Nvidia"], lang="en"),
            make_record("two", topics=["energy", "ai"], entities=["Arm"], lang="de"),
            # Held until 2999: its rows are written, it counts nowhere yet.
            make_record("held", topics=["ai"], published_at="2999-01-01T00:00:00+00:00"),
        ],
    )
    cycle = run_pipeline()
    cycle.poll()
    assert check_rows(cycle) == {
        ("energy", "one"),
        ("entities/nvidia", "one"),
        ("lang/en", "one"),
        ("energy", "two"),
        ("ai", "two"),
        ("entities/arm", "two"),
        ("lang/de", "two"),
        ("ai", "held"),
        ("lang/en", "held"),
    }
    deployment.write_jsonl(
        "b.jsonl",
        [
            # Same feeds, a new time: every row moves to it.
            make_record(
                "one",
                topics=["energy"],
                entities=["NVIDIA"],
                lang="en",
                updated_at="2026-06-02T00:00:00+00:00",
            ),
            # Leaves energy and its entity, changes language.
            make_record("two", topics=["ai"], lang="fr", updated_at="2026-06-02T00:00:00+00:00"),
            make_record(
                "held",
                topics=["space"],
                published_at="2999-01-01T00:00:00+00:00",
                updated_at="2026-06-02T00:00:00+00:00",
            ),
        ],
    )
    assert cycle.poll().updated == 3
    assert check_rows(cycle) == {
        ("energy", "one"),
        ("entities/nvidia", "one"),
        ("lang/en", "one"),
        ("ai", "two"),
        ("lang/fr", "two"),
        ("space", "held"),
        ("lang/en", "held"),
    }
    deployment.write_jsonl(
        "c.jsonl", [{"slug": "two", "deleted": True, "updated_at": "2026-06-03T00:00:00+00:00"}]
    )
    assert cycle.poll().deleted == 1
    assert {slug for _, slug in check_rows(cycle)} == {"one", "held"}
    deployment.write_jsonl(
        "d.jsonl",
        [
            make_record(
                "two", topics=["ai"], entities=["Arm"], updated_at="2026-06-04T00:00:00+00:00"
            )
        ],
    )
    assert cycle.poll().updated == 1
    assert {pair for pair in check_rows(cycle) if pair[1] == "two"} == {
        ("ai", "two"),
        ("entities/arm", "two"),
        ("lang/en", "two"),
    }
    counts = {row.name: row.articles for row in cycle.store.articles.topics()}
    assert counts["ai"] == 1 and counts["energy"] == 1 and counts.get("space", 0) == 0


def test_migration_rekeys_rows_with_their_articles_times(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record(
                f"s{n}",
                topics=["energy", f"t{n % 3}"],
                entities=["Arm"],
                updated_at=f"2026-06-0{1 + n % 3}T00:00:00+00:00",
            )
            for n in range(9)
        ],
    )
    cycle = run_pipeline()
    cycle.poll()
    before = check_rows(cycle)
    keys = cycle.store.articles.feed_keys_many(["energy", "t1", "entities/arm"], 50)
    # The previous shape: a (topic, slug) key and a time index, with one row
    # whose time lags its article's (the copy takes the article's).
    with cycle.store.db.engine.begin() as conn:
        keyed = " WITHOUT ROWID" if conn.dialect.name == "sqlite" else ""
        conn.exec_driver_sql("ALTER TABLE article_topics RENAME TO by_time")
        conn.exec_driver_sql(
            "CREATE TABLE article_topics (topic TEXT NOT NULL, slug TEXT NOT NULL, "
            f"updated_at TEXT NOT NULL, PRIMARY KEY (topic, slug)){keyed}"
        )
        conn.exec_driver_sql(
            "CREATE INDEX article_topics_recent ON article_topics (topic, updated_at DESC, slug)"
        )
        conn.exec_driver_sql(
            "INSERT INTO article_topics SELECT topic, slug, updated_at FROM by_time"
        )
        conn.exec_driver_sql("DROP TABLE by_time")
        conn.exec_driver_sql(
            "UPDATE article_topics SET updated_at = '2026-01-01T00:00:00.000000Z' "
            "WHERE topic = 'energy' AND slug = 's4'"
        )
        # Back before the by-time key: later migrations run again too.
        undo_migrations_after(conn, migration_number("article_topics_by_time") - 1)
    cycle.store.close()
    reopened = run_pipeline()
    assert reopened.store.polls.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert check_rows(reopened) == before
    assert reopened.store.articles.feed_keys_many(["energy", "t1", "entities/arm"], 50) == keys
    # Newest first, then by slug.
    assert [key[0] for key in keys["energy"]] == [
        "s2",
        "s5",
        "s8",
        "s1",
        "s4",
        "s7",
        "s0",
        "s3",
        "s6",
    ]
    # The row whose time lagged is found by the next change like any other.
    deployment.write_jsonl(
        "b.jsonl",
        [make_record("s4", topics=["space"], updated_at="2026-06-05T00:00:00+00:00")],
    )
    assert reopened.poll().updated == 1
    assert {pair for pair in check_rows(reopened) if pair[1] == "s4"} == {
        ("space", "s4"),
        ("lang/en", "s4"),
    }


def test_taking_down_a_held_article_leaves_the_counts_of_its_feeds(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("shown", topics=["ai"], entities=["Arm"]),
            make_record(
                "held", topics=["ai"], entities=["Arm"], published_at="2999-01-01T00:00:00+00:00"
            ),
        ],
    )
    cycle = run_pipeline()
    cycle.poll()

    def counts() -> dict[str, int]:
        tp = t.topics
        with cycle.store.db.read() as conn:
            return {r[0]: r[1] for r in conn.execute(select(tp.c.name, tp.c.articles))}

    before = counts()
    assert before["ai"] == before["entities/arm"] == 1
    deployment.write_jsonl(
        "b.jsonl", [{"slug": "held", "deleted": True, "updated_at": "2026-06-02T00:00:00+00:00"}]
    )
    assert cycle.poll().deleted == 1
    assert {slug for _, slug in check_rows(cycle)} == {"shown"}
    after = counts()
    assert after["ai"] == after["entities/arm"] == after["lang/en"] == 1
    # No feed showed it, so none lists its deletion, and nothing holds it now.
    assert cycle.store.articles.tombstones(datetime(2000, 1, 1, tzinfo=UTC), 50) == {}
    assert cycle.store.embargoes.held() == []


def test_new_articles_of_one_poll_date_and_count_their_feeds(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """Each feed gains one per shown new article, and its date is the latest
    among them: an article's `updated_at`, or its publication if that is later.
    A held one counts nowhere and dates nothing."""
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("late", topics=["ai"], updated_at="2026-06-03T00:00:00+00:00"),
            make_record(
                "early",
                topics=["ai", "energy"],
                entities=["Arm"],
                updated_at="2026-06-01T00:00:00+00:00",
            ),
            # Published after its last edit: the feed changes at publication.
            make_record(
                "pub",
                topics=["energy"],
                entities=["Arm"],
                published_at="2026-06-05T00:00:00+00:00",
                updated_at="2026-06-02T00:00:00+00:00",
            ),
            make_record(
                "held",
                topics=["ai", "space"],
                entities=["Arm"],
                published_at="2999-01-01T00:00:00+00:00",
                updated_at="2026-06-09T00:00:00+00:00",
            ),
        ],
    )
    cycle = run_pipeline()
    assert cycle.poll().created == 4
    check_rows(cycle)
    tp = t.topics
    with cycle.store.db.read() as conn:
        feeds = {
            r[0]: (r[1], r[2])
            for r in conn.execute(select(tp.c.name, tp.c.articles, tp.c.changed_at))
        }
    assert {name: n for name, (n, _) in feeds.items() if n} == {
        "ai": 2,
        "energy": 2,
        "entities/arm": 2,
        "lang/en": 3,
    }
    assert {name: at for name, (n, at) in feeds.items() if n} == {
        "ai": "2026-06-03T00:00:00.000000Z",
        "energy": "2026-06-05T00:00:00.000000Z",
        "entities/arm": "2026-06-05T00:00:00.000000Z",
        "lang/en": "2026-06-05T00:00:00.000000Z",
    }
