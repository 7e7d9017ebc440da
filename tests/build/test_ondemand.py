"""Facet documents rendered on demand: cached with the version they were made from,
and dropped when a build reports their feeds changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicator.build.ondemand import FacetDocuments
from syndicator.wiring import utc_now
from tests.cycle import Cycle
from tests.deployment import Deployment


def test_a_loaded_document_is_cached_and_a_build_drops_it(
    deployment: Deployment, run_pipeline: Callable[[], Cycle], make_record: Callable[..., Any]
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one", entities=["Arm"])])
    pipeline = run_pipeline()
    pipeline.poll()
    docs = FacetDocuments(pipeline.settings, pipeline.store, utc_now, fingerprint="f")
    try:
        doc = docs.load("/feeds/entities/arm.atom")
        assert doc is not None and docs.cache.get("/feeds/entities/arm.atom") is doc
        # Cached by someone else, with no version known: a build's names still drop it.
        docs.cache.put("/feeds/lang/en.rss", doc)
        gone = docs.refresh(["entities/arm", "lang/en"])
        assert sorted(gone) == ["/feeds/entities/arm.atom", "/feeds/lang/en.rss"]
        assert len(docs.cache) == 0
        # A later change seen by version alone (another process's build).
        docs.load("/feeds/entities/arm.atom")
        assert docs.refresh() == []
        deployment.write_jsonl(
            "b.jsonl",
            [make_record("two", entities=["ARM"], updated_at="2026-06-02T10:00:00+00:00")],
        )
        pipeline.poll()
        assert docs.refresh() == ["/feeds/entities/arm.atom"]
    finally:
        docs.close()


def test_last_modified_is_never_ahead_of_the_clock_and_moves_with_the_bytes(
    deployment: Deployment, run_pipeline: Callable[[], Cycle], make_record: Callable[..., Any]
) -> None:
    now = datetime(2026, 6, 30, 12, 0, 0, 250_000, tzinfo=UTC)
    # Dated three hours ahead: within the source's tolerance for clock skew.
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("soon", entities=["Arm"], updated_at="2026-06-30T15:00:00+00:00")],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    path = "/feeds/entities/arm.atom"

    def load() -> datetime:
        docs = FacetDocuments(pipeline.settings, pipeline.store, lambda: now, fingerprint="f")
        try:
            doc = docs.load(path)
            assert doc is not None
            return doc.last_modified
        finally:
            docs.close()  # the validators are recorded

    first = load()
    assert first <= now
    assert load() == first  # the same bytes: the same date
    # New bytes within the same second: a later date, or If-Modified-Since
    # would call the reader's copy current.
    deployment.write_jsonl(
        "b.jsonl",
        [make_record("two", entities=["Arm"], updated_at="2026-06-30T11:00:00+00:00")],
    )
    pipeline.poll()
    second = load()
    assert second - first >= timedelta(seconds=1)
