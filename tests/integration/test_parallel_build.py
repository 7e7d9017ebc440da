"""A build of many topics is split between worker processes, with the same result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from syndicator import pipeline as pipeline_module
from syndicator.pipeline import Pipeline
from syndicator.render import cache
from tests.integration.conftest import Deployment
from tests.integration.test_incremental import assert_feeds_match_store

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Pipeline]

TOPICS = [f"topic-{i}" for i in range(9)]


def _records(make_record: Make, edit: bool = False) -> list[dict[str, Any]]:
    return [
        make_record(
            f"a{i:03d}",
            topics=[TOPICS[i % len(TOPICS)], TOPICS[(i * 7) % len(TOPICS)]],
            body_md=f"Body **{i}** {'edited' if edit and i % 10 == 0 else ''}",
            updated_at=f"2026-06-0{2 if edit else 1}T{i // 60:02d}:{i % 60:02d}:00Z",
        )
        for i in range(120)
    ]


@pytest.fixture
def parallel(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """Builds of three or more topics use two processes."""
    monkeypatch.setattr(pipeline_module, "_PARALLEL_MIN_TOPICS", 3)
    text = deployment.config.read_text().replace("max_entries = 50", "max_entries = 8")
    deployment.config.write_text(text.replace("[feeds]\n", "[feeds]\nbuild_processes = 2\n"))
    return deployment


def test_split_build_writes_what_one_process_writes(
    parallel: Deployment, run_pipeline: Run, make_record: Make, tmp_path: Any
) -> None:
    parallel.write_jsonl("a.jsonl", _records(make_record))
    cache.clear_caches()
    pipeline = run_pipeline()
    assert len(pipeline._shares(["all", *TOPICS])) == 2
    pipeline.poll()
    result = pipeline.build()
    assert result.topics == sorted(["all", *TOPICS])
    # Every feed and the two listings, from both processes, kept for serving.
    assert len(result.documents) == 3 * (len(TOPICS) + 1) + 2
    assert result.written == len(result.documents)
    assert_feeds_match_store(parallel, pipeline)
    # The worker stored what it rendered: HTML and manifests for its topics.
    manifests = pipeline.store.manifests(TOPICS)
    assert len(manifests) == 3 * len(TOPICS)
    assert pipeline.store.dirty_topics() == []

    # Nothing changed: a full rebuild in two processes rewrites nothing.
    again = run_pipeline().build(full=True)
    assert again.written == 0 and len(again.topics) == len(TOPICS) + 1

    # An edit after a split build reuses what both processes wrote.
    parallel.write_jsonl("b.jsonl", _records(make_record, edit=True)[:30])
    cache.clear_caches()
    later = run_pipeline()
    later.poll()
    edited = later.build()
    assert len(edited.topics) > 3  # again split
    assert edited.reused_entries > 0
    assert_feeds_match_store(parallel, later)


def test_small_builds_stay_in_one_process(deployment: Deployment, run_pipeline: Run) -> None:
    pipeline = run_pipeline()
    assert pipeline._shares(["all", "x", "y"]) == [["all", "x", "y"]]
