"""What a build records of the documents it wrote, and serving builds made elsewhere.

Every build records each document's SHA-256, the time its bytes last changed
(its Last-Modified) and a version in the store; a serving process follows
those versions (`Solo.refresh`) and serves what another command built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndicator.build import Builder
from syndicator.build.reuse import sha256
from syndicator.coordination import Hooks, Solo
from syndicator.ingest import Poller
from syndicator.models import Published
from syndicator.store.store import Store
from syndicator.wiring import make_source, open_store
from tests.clock import Clock
from tests.cycle import Cycle
from tests.deployment import Deployment

T0 = datetime(2026, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
def pipelines(deployment: Deployment) -> Iterator[Callable[[Clock], Cycle]]:
    """A fresh store, poller and builder (as a separate process has) on each call."""
    stores: list[Store] = []

    def make(clock: Clock) -> Cycle:
        settings = deployment.settings()
        store = open_store(settings)
        stores.append(store)
        poller = Poller(settings, store, make_source(settings), clock)
        return Cycle(poller, Builder(settings, store, clock))

    yield make
    for store in stores:
        store.close()


def record(make_record: Callable[..., dict[str, Any]], slug: str, hour: int, **kw: Any) -> Any:
    stamp = f"2026-05-01T{hour:02d}:00:00+00:00"
    return make_record(slug, updated_at=stamp, published_at=stamp, **kw)


def states(cycle: Cycle) -> dict[str, Any]:
    return {s.path: s for s in cycle.store.feeds.published_since(0)}


def test_last_modified_moves_only_when_the_bytes_change(
    deployment: Deployment,
    pipelines: Callable[[Clock], Cycle],
    make_record: Callable[..., dict[str, Any]],
) -> None:
    clock = Clock(T0)
    cycle = pipelines(clock)
    deployment.write_jsonl(
        "a.jsonl",
        [
            record(make_record, "old", 9, topics=["energy"]),
            record(make_record, "new", 11, topics=["energy"]),
        ],
    )
    cycle.poll()
    first = cycle.build()
    before = states(cycle)
    served = {doc.path: doc.last_modified for doc in first.documents}
    assert set(before) >= {"feeds/energy.atom", "feeds/all.rss", "feeds.opml", "index.html"}
    for path, state in before.items():
        # HTTP dates have whole seconds: the recorded time is the build's, cut to them.
        assert state.last_modified == T0.replace(microsecond=0), path
        assert served[path] == state.last_modified, "the build serves what it recorded"
    version = cycle.store.feeds.published_version()

    # A full rebuild, later, of the same data: same bytes, so nothing moves.
    clock.now = T0 + timedelta(hours=1)
    rebuilt = cycle.build(full=True)
    assert rebuilt.written == 0
    assert states(cycle) == before
    assert cycle.store.feeds.published_version() == version
    assert {d.path: d.last_modified for d in rebuilt.documents} == served

    # A back-dated record (older than the feed's newest entry), in the same
    # second as the first build: the bytes change, and so does Last-Modified,
    # by at least a second, or If-Modified-Since would take them for the old.
    clock.now = T0 + timedelta(milliseconds=300)
    deployment.write_jsonl("b.jsonl", [record(make_record, "backdated", 10, topics=["energy"])])
    cycle.poll()
    cycle.build()
    after = states(cycle)
    for path in ("feeds/energy.atom", "feeds/energy.rss", "feeds/energy.json", "feeds/all.atom"):
        assert after[path].sha256 != before[path].sha256
        assert after[path].last_modified == before[path].last_modified + timedelta(seconds=1)
        assert after[path].version > version
    # The OPML file lists the same feeds: same bytes, same time, same version.
    assert after["feeds.opml"] == before["feeds.opml"]
    assert cycle.store.feeds.published_version() == max(s.version for s in after.values())


def test_a_new_process_serves_the_recorded_times(
    deployment: Deployment,
    pipelines: Callable[[Clock], Cycle],
    make_record: Callable[..., dict[str, Any]],
) -> None:
    deployment.write_jsonl("a.jsonl", [record(make_record, "one", 9, topics=["energy"])])
    cycle = pipelines(Clock(T0))
    cycle.poll()
    cycle.build()
    later = pipelines(Clock(T0 + timedelta(days=3)))
    loaded = {doc.path: doc for doc in later.builder.load_published()}
    recorded = states(cycle)
    assert set(loaded) == set(recorded)
    for path, doc in loaded.items():
        assert doc.last_modified == recorded[path].last_modified
        # Validators alone: the bytes are read when a reader first asks.
        assert doc.body == b""
        assert doc.sha256 == sha256(deployment.output.joinpath(path).read_bytes())


class Recorder:
    """Daemon hooks that keep what they were asked to serve, like a DocumentSet."""

    def __init__(self) -> None:
        self.docs: dict[str, Published] = {}
        self.calls = 0
        self.building = False

    def hooks(self) -> Hooks:
        return Hooks(
            serve=self.serve,
            wake_delivery=lambda: None,
            elected=lambda: None,
            served=lambda path: self.docs[path].last_modified if path in self.docs else None,
            busy=lambda: self.building,
        )

    def serve(self, docs: Sequence[Published]) -> None:
        self.calls += 1
        self.docs.update((doc.path, doc) for doc in docs)


def test_solo_serves_what_another_command_built(
    deployment: Deployment,
    pipelines: Callable[[Clock], Cycle],
    make_record: Callable[..., dict[str, Any]],
) -> None:
    deployment.write_jsonl("a.jsonl", [record(make_record, "one", 9, topics=["energy"])])
    daemon = pipelines(Clock(T0))
    daemon.poll()
    daemon.build()
    recorder = Recorder()
    solo = Solo(
        daemon.store,
        "host:1",
        clock=Clock(T0),
        load_published=daemon.builder.load_published,
        read_published=daemon.builder.read_published,
    )
    solo.start(recorder.hooks())
    try:
        solo.stop()  # the test calls refresh itself: no thread, no timing
        assert "feeds/energy.atom" in recorder.docs
        assert solo.refresh() == 0  # nothing built since

        # `syndicator once` in another process: a new article in a new topic.
        deployment.write_jsonl("b.jsonl", [record(make_record, "two", 10, topics=["fusion"])])
        once = pipelines(Clock(T0 + timedelta(minutes=1)))
        once.poll()
        once.build(keep_documents=False)
        assert not once.store.feeds.dirty_topics()  # the daemon has nothing left to build

        # While this process builds itself, it leaves the files alone...
        recorder.building = True
        assert solo.refresh() == 0
        assert "feeds/fusion.atom" not in recorder.docs
        # ...and serves the other command's build as soon as it is done.
        recorder.building = False
        refreshed = solo.refresh()
        assert refreshed >= 5  # the three fusion feeds, all's and the listings
        fusion = recorder.docs["feeds/fusion.atom"]
        assert b"two" in fusion.body
        assert fusion.last_modified == states(once)["feeds/fusion.atom"].last_modified
        assert b"fusion" in recorder.docs["feeds.opml"].body
        assert b"two" in recorder.docs["feeds/all.rss"].body
        # Unchanged feeds were not read again, and the next check finds nothing.
        assert solo.refresh() == 0
        assert recorder.docs["feeds/energy.atom"].sha256 == sha256(
            deployment.feed("energy", "atom")
        )
    finally:
        solo.stop()


def test_solo_waits_for_a_file_that_is_being_replaced(
    deployment: Deployment,
    pipelines: Callable[[Clock], Cycle],
    make_record: Callable[..., dict[str, Any]],
) -> None:
    deployment.write_jsonl("a.jsonl", [record(make_record, "one", 9, topics=["energy"])])
    first = pipelines(Clock(T0))
    first.poll()
    recorder = Recorder()
    solo = Solo(
        first.store,
        "host:1",
        clock=Clock(T0),
        load_published=list,
        read_published=first.builder.read_published,
    )
    solo.start(recorder.hooks())
    solo.stop()
    first.build(keep_documents=False)
    target = deployment.output / "feeds" / "energy.rss"
    recorded = target.read_bytes()
    # A later build has replaced the file but not yet recorded it: the file
    # holds bytes the record does not describe, so they are not served with
    # the record's Last-Modified.
    target.write_bytes(recorded + b"<!-- newer -->")
    solo.refresh()
    assert "feeds/energy.rss" not in recorder.docs
    assert "feeds/energy.atom" in recorder.docs
    # Once the file is what was recorded, the next check serves it.
    target.write_bytes(recorded)
    solo.refresh()
    assert recorder.docs["feeds/energy.rss"].body == recorded
