"""Each topic's article count is kept with its rows, never recounted by a build."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from syndicator.store import schema
from syndicator.store.database import SCHEMA_VERSION
from tests.cycle import Cycle
from tests.deployment import Deployment
from tests.store.migrations import later_changes, migration_number, undo_migrations_after

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def recount(pipeline: Cycle) -> dict[str, int]:
    """Every topic's article count, counted from the rows themselves."""
    at = schema.article_topics
    with pipeline.store.db.engine.connect() as conn:
        rows = conn.execute(select(at.c.topic, func.count()).group_by(at.c.topic)).all()
    counted: dict[str, int] = {str(topic): int(n) for topic, n in rows}
    names = [row.name for row in pipeline.store.articles.topics() if row.name != "all"]
    return {name: int(counted.get(name, 0)) for name in names}


def kept(pipeline: Cycle) -> dict[str, int]:
    return {row.name: row.articles for row in pipeline.store.articles.topics() if row.name != "all"}


def test_counts_follow_creates_moves_removals_and_repeats(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", topics=["energy", "climate"]),
            make_record("two", topics=["energy"]),
            make_record("three", topics=["space", "space", "energy"]),
            # The same slug again in one file: written in two steps.
            make_record("two", topics=["climate"], updated_at="2026-06-02T00:00:00Z"),
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    assert kept(pipeline) == recount(pipeline) == {"climate": 2, "energy": 2, "space": 1}

    deployment.write_jsonl(
        "b.jsonl",
        [
            # Moves from energy+climate to space; drops every topic; ignored (older).
            make_record("one", topics=["space"], updated_at="2026-06-03T00:00:00Z"),
            make_record("three", topics=[], updated_at="2026-06-03T00:00:00Z"),
            make_record("two", topics=["energy"], updated_at="2026-05-01T00:00:00Z"),
            make_record("four", topics=["energy", "new-topic"]),
        ],
    )
    pipeline.poll()
    expected = {"climate": 1, "energy": 1, "new-topic": 1, "space": 1}
    assert kept(pipeline) == recount(pipeline) == expected
    # An emptied topic keeps its row (its feeds stay, empty) with a zero count.
    deployment.write_jsonl(
        "c.jsonl", [make_record("four", topics=["space"], updated_at="2026-06-04T00:00:00Z")]
    )
    pipeline.poll()
    assert kept(pipeline) == recount(pipeline)
    assert kept(pipeline)["new-topic"] == 0
    total = next(row for row in pipeline.store.articles.topics() if row.name == "all")
    assert total.articles == 4


def test_migration_counts_an_existing_database(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [make_record(f"s{n}", topics=["energy", f"t{n % 3}"]) for n in range(10)],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    before = recount(pipeline)
    # Back to the schema before the count existed, data and all: the tables
    # later migrations created go too, since they run again after it.
    counted = migration_number("ADD COLUMN articles")
    _, _, columns = later_changes(counted)
    assert ("articles", "deleted_at") in columns and ("polls", "deleted") in columns
    with pipeline.store.db.engine.begin() as conn:
        undo_migrations_after(conn, counted)
        conn.exec_driver_sql("ALTER TABLE topics DROP COLUMN articles")
        conn.execute(schema.meta.delete().where(schema.meta.c.key == "facets_indexed"))
        conn.execute(
            schema.meta.update()
            .where(schema.meta.c.key == "schema_version")
            .values(value=str(counted - 1))
        )
    pipeline.store.close()
    reopened = run_pipeline()
    assert reopened.store.polls.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert kept(reopened) == before == {"energy": 10, "t0": 4, "t1": 3, "t2": 3}
