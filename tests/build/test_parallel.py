"""Large polls and builds are split between worker processes, with the same result."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from syndicator import processes as processes_module
from syndicator.build import builder as builder_module
from syndicator.cli import main
from syndicator.ingest import Poller
from syndicator.ingest import poller as poller_module
from syndicator.processes import Workers
from syndicator.sources import chunks
from syndicator.wiring import make_builder, make_workers
from tests.build.test_incremental import assert_feeds_match_store
from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]

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
    monkeypatch.setattr(builder_module, "_PARALLEL_MIN_TOPICS", 3)
    text = deployment.config.read_text().replace("max_entries = 50", "max_entries = 8")
    deployment.config.write_text(text.replace("[feeds]\n", "[poll]\nprocesses = 2\n\n[feeds]\n"))
    return deployment


def test_split_build_writes_what_one_process_writes(
    parallel: Deployment, run_pipeline: Run, make_record: Make, tmp_path: Any
) -> None:
    parallel.write_jsonl("a.jsonl", _records(make_record))
    pipeline = run_pipeline()
    assert len(pipeline.builder._shares(["all", *TOPICS])) == 2
    pipeline.poll()
    result = pipeline.build()
    assert result.topics == sorted(["all", *TOPICS])
    # Every feed, the two listings and the feeds' stylesheet, from both processes, kept for serving.
    assert len(result.documents) == 3 * (len(TOPICS) + 1) + 3
    assert result.written == len(result.documents)
    assert_feeds_match_store(parallel, pipeline)
    # The worker stored what it rendered: HTML and manifests for its topics.
    manifests = pipeline.store.feeds.manifests(TOPICS)
    assert len(manifests) == 3 * len(TOPICS)
    assert pipeline.store.feeds.dirty_topics() == []

    # Nothing changed: a full rebuild in two processes rewrites nothing.
    again = run_pipeline().build(full=True)
    assert again.written == 0 and len(again.topics) == len(TOPICS) + 1

    # An edit after a split build reuses what both processes wrote.
    parallel.write_jsonl("b.jsonl", _records(make_record, edit=True)[:30])
    later = run_pipeline()
    later.poll()
    edited = later.build()
    assert len(edited.topics) > 3  # again split
    assert edited.reused_entries > 0
    assert_feeds_match_store(parallel, later)


def test_small_builds_stay_in_one_process(deployment: Deployment, run_pipeline: Run) -> None:
    pipeline = run_pipeline()
    assert pipeline.builder._shares(["all", "x", "y"]) == [["all", "x", "y"]]


# -- polls validated in worker processes ----------------------------------------------------


@pytest.mark.parametrize("processes", [1, 2])
def test_large_poll_validated_in_workers_gives_the_same_state(
    deployment: Deployment,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
    processes: int,
) -> None:
    # Every poll counts as large; with 1 process the same code runs inline.
    monkeypatch.setattr(poller_module, "_PARALLEL_MIN_POLL_BYTES", 0)
    monkeypatch.setattr(chunks, "CHUNK_RECORDS", 7)  # many chunks in flight
    text = deployment.config.read_text()
    deployment.config.write_text(
        text.replace("[feeds]\n", f"[poll]\nprocesses = {processes}\n\n[feeds]\n")
    )
    good = [make_record(f"s{i:02d}", topics=["t"], updated_at=stamp(i)) for i in range(40)]
    lines = [json.dumps(r) for r in good]
    lines[5] = "{broken json"
    lines[9] = json.dumps(make_record("bad-url", url="ftp://nope"))
    lines[12] = json.dumps({**good[3], "title": "again, later", "updated_at": stamp(50)})
    lines[20] = json.dumps(make_record("ctl", title="a\u0001b"))  # cleaned, not rejected
    (deployment.source / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    submitted: list[int] = []

    class Counting(ProcessPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(1)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(processes_module, "ProcessPoolExecutor", Counting)
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert len(submitted) == (6 if processes == 2 else 0)  # 40 lines in chunks of 7
    assert (changes.created, changes.updated, changes.quarantined) == (37, 1, 2)
    store = pipeline.store
    quarantined = sorted(q["source"].rsplit(":", 1)[1] for q in store.polls.quarantined())
    assert quarantined == ["10", "6"]
    events = store.outbox.events()
    assert [e["slug"] for e in events][:6] == ["s00", "s01", "s02", "s03", "s04", "s06"]
    assert [e["type"] for e in store.outbox.events("s03")] == ["article.created", "article.updated"]
    assert store.outbox.events("ctl")[0]["payload"]["data"]["title"] == "ab"
    assert store.polls.source_state("dir")[0] == datetime(2026, 6, 1, 10, tzinfo=UTC)  # "ctl"

    # A fixed line is read again and its quarantine entry goes.
    lines[5] = json.dumps(make_record("fixed", updated_at=stamp(51)))
    (deployment.source / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    again = run_pipeline().poll()
    assert (again.created, again.quarantined) == (1, 1)
    assert [q["source"].rsplit(":", 1)[1] for q in store.polls.quarantined()] == ["10"]


def stamp(minute: int) -> str:
    return f"2026-06-01T02:{minute:02d}:00Z"


def test_without_worker_processes_everything_runs_here(
    parallel: Deployment, run_pipeline: Run, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_processes(workers: int) -> ProcessPoolExecutor:
        raise OSError("no /dev/shm")

    monkeypatch.setattr(processes_module, "process_pool", no_processes)
    monkeypatch.setattr(poller_module, "_PARALLEL_MIN_POLL_BYTES", 0)
    parallel.write_jsonl("a.jsonl", _records(make_record))
    pipeline = run_pipeline()
    assert pipeline.poll().created == 120
    result = pipeline.build()
    assert result.topics == sorted(["all", *TOPICS])
    assert_feeds_match_store(parallel, pipeline)


# -- huge polls commit in parts ---------------------------------------------------------------


def test_huge_poll_commits_in_parts_and_resumes_after_a_crash(
    deployment: Deployment, run_pipeline: Run, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_RECORDS", 5)
    monkeypatch.setattr(poller_module, "_RECORDS_PER_COMMIT", 10)
    for f in range(4):
        deployment.write_jsonl(
            f"part-{f}.jsonl",
            [make_record(f"f{f}-{i}", updated_at=stamp(f * 10 + i)) for i in range(8)],
        )
    (deployment.source / "part-1.jsonl").write_text(
        (deployment.source / "part-1.jsonl").read_text() + "{broken\n"
    )
    real_write = Poller._write
    calls: list[int] = []

    def crash_on_fourth(self: Poller, tx: Any, prepared: Any, changes: Any) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("crash")
        real_write(self, tx, prepared, changes)

    monkeypatch.setattr(Poller, "_write", crash_on_fourth)
    with pytest.raises(RuntimeError):
        run_pipeline().poll()
    # Chunks 1-2 (part-0 and two records of part-1) were committed, with a
    # cursor naming part-0 only; chunk 3 was rolled back by the crash.
    store = run_pipeline().store
    assert store.articles.counts()["articles"] == 10
    cursor = store.polls.source_state("dir")[1]
    assert sorted(cursor) == ["part-0.jsonl"]

    monkeypatch.setattr(Poller, "_write", real_write)
    changes = run_pipeline().poll()
    # part-1 is read again whole: its first two records are already known.
    assert (changes.created, changes.ignored, changes.quarantined) == (22, 2, 1)
    events = store.outbox.events()
    slugs = [e["slug"] for e in events]
    assert len(slugs) == len(set(slugs)) == 32  # each article created exactly once
    assert {e["type"] for e in events} == {"article.created"}
    assert sorted(store.polls.source_state("dir")[1]) == [f"part-{f}.jsonl" for f in range(4)]
    assert [q["source"].rsplit("/", 1)[1] for q in store.polls.quarantined()] == ["part-1.jsonl:9"]
    # Nothing new: the next poll reads nothing.
    assert run_pipeline().poll().changed == 0


# -- worker processes shared by a command's polls and builds ----------------------------------


def _until_warm(workers: Workers) -> None:
    deadline = time.monotonic() + 60
    while not workers.warm:
        assert time.monotonic() < deadline, "workers never finished loading"
        time.sleep(0.02)


def test_workers_start_once_load_ahead_and_start_afresh_after_a_failure() -> None:
    workers = Workers(1, ("json",))
    try:
        assert not workers.started and not workers.warm
        workers.preload()
        _until_warm(workers)
        pool = workers.pool()
        assert workers.pool() is pool  # kept, not started per use
        assert pool.submit(sum, [1, 2]).result(timeout=30) == 3
        workers.discard()  # as after a worker died
        assert not workers.started and not workers.warm
        fresh = workers.pool()
        assert fresh is not pool and fresh.submit(sum, [3]).result(timeout=30) == 3
        assert not workers.warm  # loaded only when asked, or when kept warm
    finally:
        workers.close()
    assert not workers.started

    kept = Workers(1, ("json",), keep_warm=True)
    try:
        kept.pool()  # started by a use, not by preload: loads all the same
        _until_warm(kept)
    finally:
        kept.close()


def test_no_workers_configured_means_everything_here() -> None:
    workers = Workers(0, ("json",))
    workers.preload()
    assert not workers.started and not workers.warm
    with pytest.raises(RuntimeError):
        workers.pool()


def test_once_validates_and_renders_with_one_set_of_workers(
    parallel: Deployment, run_pipeline: Run, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "_PARALLEL_MIN_POLL_BYTES", 0)
    monkeypatch.setattr(chunks, "CHUNK_RECORDS", 40)
    parallel.write_jsonl("a.jsonl", _records(make_record))
    started: list[int] = []
    tasks: list[str] = []

    class Recording(ProcessPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            tasks.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    def recording_pool(workers: int) -> ProcessPoolExecutor:
        started.append(workers)
        return Recording(workers, mp_context=multiprocessing.get_context("spawn"))

    monkeypatch.setattr(processes_module, "process_pool", recording_pool)
    assert main(["--config", str(parallel.config), "once"]) == 0
    assert started == [1]  # one worker, started once for the poll and the build
    # The chunks, then the build's modules (loaded while the poll commits), then a share.
    assert tasks[-2:] == ["preload", "render_share"]
    assert len(tasks) > 3 and set(tasks[:-2]) == {"validate"}
    assert_feeds_match_store(parallel, run_pipeline())


def test_warm_workers_split_smaller_builds_and_outlive_them(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    text = deployment.config.read_text().replace("max_entries = 50", "max_entries = 8")
    deployment.config.write_text(text.replace("[feeds]\n", "[poll]\nprocesses = 2\n\n[feeds]\n"))
    topics = [f"desk-{i:02d}" for i in range(20)]
    records = [
        make_record(f"w{i:03d}", topics=[topics[i % 20]], updated_at=stamp(i % 60))
        for i in range(60)
    ]
    deployment.write_jsonl("a.jsonl", records)
    cycle = run_pipeline()
    cycle.poll()
    names = ["all", *topics]
    # Without workers running, 21 topics are not worth starting one.
    assert len(cycle.builder._shares(names)) == 1
    workers = make_workers(cycle.settings, keep_warm=True)
    try:
        workers.preload()
        _until_warm(workers)
        builder = make_builder(cycle.settings, cycle.store, workers)
        assert len(builder._shares(names)) == 2
        # This process renders the listings too, so the worker takes some of
        # its topics: one per 200 listed, at most half. Each is rendered once.
        assert [len(s) for s in builder._shares(names, listed=400)] == [9, 12]
        mine, theirs = builder._shares(names, listed=8000)
        assert (len(mine), len(theirs)) == (6, 15)
        assert sorted(mine + theirs) == sorted(names)
        result = builder.build()
        assert result.topics == sorted(names)
        assert workers.started and workers.warm  # still up for the next build
        assert_feeds_match_store(deployment, cycle)
    finally:
        workers.close()
