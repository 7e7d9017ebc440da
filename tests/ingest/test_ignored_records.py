"""A record dropped because its `updated_at` is not newer is logged by slug and place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
LOGGER = "syndicator.ingest.poller"


def ignored(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.msg.startswith("ignored ")]


def test_a_changed_record_without_a_newer_time_is_logged_where_it_came_from(
    deployment: Deployment,
    run_pipeline: Callable[[], Cycle],
    make_record: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    deployment.write_jsonl("a.jsonl", [make_record("one"), make_record("two")])
    assert run_pipeline().poll().created == 2
    assert ignored(caplog) == []
    # Line 2 rewrites "one" without a newer updated_at; line 1 repeats "two" as stored.
    path = deployment.write_jsonl(
        "b.jsonl", [make_record("two"), make_record("one", title="Silently edited")]
    )
    changes = run_pipeline().poll()
    assert (changes.updated, changes.ignored) == (0, 2)
    (record,) = ignored(caplog)  # the unchanged repeat is the normal, silent case
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith(f"ignored one ({path}:2): content changed but updated_at ")
    assert "2026-06-01T10:00:00Z is not newer than the stored 2026-06-01T10:00:00Z" in message
    assert (record.__dict__["slug"], record.__dict__["source"]) == ("one", f"{path}:2")


def test_a_stale_record_of_a_deleted_article_is_logged_with_that_reason(
    deployment: Deployment,
    run_pipeline: Callable[[], Cycle],
    make_record: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    later = "2026-06-02T00:00:00Z"
    deployment.write_jsonl(
        "a.jsonl", [make_record("one"), {"slug": "one", "deleted": True, "updated_at": later}]
    )
    assert run_pipeline().poll().deleted == 1
    path = deployment.write_jsonl("b.jsonl", [make_record("one", title="Old copy")])
    assert run_pipeline().poll().ignored == 1
    (record,) = ignored(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        f"ignored one ({path}:1): the article was deleted at 2026-06-02T00:00:00Z; "
        "only a record with a newer updated_at restores it"
    )


def test_a_flood_of_ignored_records_is_logged_up_to_a_limit_then_counted(
    deployment: Deployment,
    run_pipeline: Callable[[], Cycle],
    make_record: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    slugs = [f"s{n}" for n in range(25)]
    deployment.write_jsonl("a.jsonl", [make_record(s) for s in slugs])
    run_pipeline().poll()
    deployment.write_jsonl("b.jsonl", [make_record(s, title="Edited") for s in slugs])
    assert run_pipeline().poll().ignored == 25
    assert len(ignored(caplog)) == 20
    summary = [r.getMessage() for r in caplog.records if "more records ignored" in r.getMessage()]
    assert summary == ["5 more records ignored for the reasons above (not each logged)"]
