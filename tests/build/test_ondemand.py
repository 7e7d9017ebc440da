"""Facet documents rendered on demand: cached with the version they were made from,
and dropped when a build reports their feeds changed."""

from __future__ import annotations

from collections.abc import Callable
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
