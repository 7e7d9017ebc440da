"""Feed membership when one poll creates an article and changes it again.

New articles' membership rows are written at the end of the poll's
transaction (`syndicator.store.postings`); a later record of the same slug in
the same poll, a takedown of it, or an entity it shares must see them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from syndicator.store import schema as t
from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]


def memberships(cycle: Cycle) -> set[tuple[str, str]]:
    at = t.article_topics
    with cycle.store.db.read() as conn:
        return {(row[0], row[1]) for row in conn.execute(select(at.c.topic, at.c.slug))}


def counts(cycle: Cycle) -> dict[str, int]:
    tp = t.topics
    with cycle.store.db.read() as conn:
        return {row[0]: row[1] for row in conn.execute(select(tp.c.name, tp.c.articles))}


def test_created_then_edited_then_taken_down_in_one_poll(
    deployment: Deployment, run_pipeline: Callable[[], Cycle], make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record(
                "moved",
                topics=["energy"],
                entities=["Nvidia"],
                lang="en",
                updated_at="2026-06-01T10:00:00+00:00",
            ),
            make_record(
                "gone",
                topics=["energy"],
                entities=["Nvidia", "Arm"],
                lang="de",
                updated_at="2026-06-01T10:00:00+00:00",
            ),
            make_record(
                "kept",
                topics=["ai"],
                entities=["NVIDIA"],
                lang="en",
                updated_at="2026-06-01T10:00:00+00:00",
            ),
        ],
    )
    # Later files of the same poll: a takedown, then an edit that moves `moved`.
    deployment.write_jsonl(
        "b.jsonl", [{"slug": "gone", "deleted": True, "updated_at": "2026-06-01T11:00:00+00:00"}]
    )
    deployment.write_jsonl(
        "c.jsonl",
        [
            make_record(
                "moved",
                topics=["ai"],
                entities=["Arm"],
                lang="fr",
                updated_at="2026-06-01T11:00:00+00:00",
            )
        ],
    )
    cycle = run_pipeline()
    changes = cycle.poll()
    assert (changes.created, changes.deleted) == (3, 1)
    assert memberships(cycle) == {
        ("ai", "moved"),
        ("entities/arm", "moved"),
        ("lang/fr", "moved"),
        ("ai", "kept"),
        ("entities/nvidia", "kept"),
        ("lang/en", "kept"),
    }
    found = counts(cycle)
    assert found["ai"] == 2
    assert found["energy"] == 0
    assert found["entities/nvidia"] == 1
    assert found["entities/arm"] == 1
    assert found["lang/de"] == 0
    # Every row is where the next poll expects it: an edit of each leaves one row per feed.
    deployment.write_jsonl(
        "d.jsonl",
        [
            make_record(
                "kept",
                topics=["ai"],
                entities=["Arm"],
                lang="en",
                updated_at="2026-06-01T12:00:00+00:00",
            )
        ],
    )
    assert cycle.poll().updated == 1
    assert ("entities/nvidia", "kept") not in memberships(cycle)
    assert counts(cycle)["entities/arm"] == 2


def test_created_and_taken_down_in_one_poll(
    deployment: Deployment, run_pipeline: Callable[[], Cycle], make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("gone", topics=["energy"], entities=["Arm"], lang="de"),
            {"slug": "gone", "deleted": True, "updated_at": "2026-06-01T11:00:00+00:00"},
        ],
    )
    cycle = run_pipeline()
    changes = cycle.poll()
    assert (changes.created, changes.deleted) == (1, 1)
    assert memberships(cycle) == set()
    found = counts(cycle)
    assert found.get("energy", 0) == found.get("entities/arm", 0) == 0
