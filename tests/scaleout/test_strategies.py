"""The two coordination strategies: a single SQLite process and a PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from syndicator.coordination import Hooks, Solo
from syndicator.coordination.cluster import Cluster
from syndicator.errors import StoreError
from syndicator.models import Published
from syndicator.store.store import Store
from tests.postgres import Cluster as Postgres

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DOC = Published("feeds/a.rss", b"one", "application/rss+xml", NOW)


class Recorder:
    """Hooks that remember what coordination asked of the daemon."""

    def __init__(self) -> None:
        self.served: list[Published] = []
        self.wakes = 0
        self.elections = 0

    def hooks(self) -> Hooks:
        return Hooks(serve=self.serve, wake_delivery=self.wake, elected=self.elected)

    def serve(self, docs: Sequence[Published]) -> None:
        self.served.extend(docs)

    def wake(self) -> None:
        self.wakes += 1

    def elected(self) -> None:
        self.elections += 1


def test_solo_builds_registers_and_serves_the_output_folder(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/x.db")
    store.migrate()
    recorder = Recorder()
    solo = Solo(store, "host:1", clock=lambda: NOW, load_published=lambda: [DOC])
    try:
        solo.start(recorder.hooks())
        assert solo.is_builder and solo.take_turn()
        assert recorder.served == [DOC]
        builder = store.polls.get_meta("builder")
        assert builder is not None and orjson.loads(builder)["id"] == "host:1"
        solo.share([DOC])
        assert store.feeds.load_documents(0) == (0, [])  # nobody to share with
    finally:
        solo.stop()
        solo.release()
        store.close()


def test_solo_starts_when_the_output_folder_cannot_be_read(tmp_path: Path) -> None:
    def unreadable() -> list[Published]:
        raise OSError("gone")

    store = Store(f"sqlite:///{tmp_path}/x.db")
    store.migrate()
    solo = Solo(store, "host:1", clock=lambda: NOW, load_published=unreadable)
    try:
        solo.start(Recorder().hooks())
        assert solo.take_turn()
    finally:
        store.close()


def test_cluster_elects_one_builder_and_shares_its_documents(postgres: Postgres) -> None:
    url = postgres.database()
    first, second = Store(url), Store(url)
    first.migrate()
    a_hooks, b_hooks = Recorder(), Recorder()
    a = Cluster(first, "host:1", clock=lambda: NOW)
    b = Cluster(second, "host:2", clock=lambda: NOW)
    try:
        a.start(a_hooks.hooks())
        b.start(b_hooks.hooks())
        assert a.is_builder and a.take_turn() and a_hooks.elections == 1
        assert not b.is_builder and not b.take_turn()
        builder = first.polls.get_meta("builder")
        assert builder is not None and orjson.loads(builder)["id"] == "host:1"
        a.share([DOC])
        assert not b.take_turn()  # a standby's run serves what the builder shared
        assert b_hooks.served == [DOC]
        a.stop()
        a.release()  # like a process dying: its lock's connection closes
        assert b.take_turn() and b.is_builder and b_hooks.elections == 1
    finally:
        for cluster in (a, b):
            cluster.stop()
            cluster.release()
        first.close()
        second.close()


def test_cluster_share_survives_a_store_error(postgres: Postgres) -> None:
    store = Store(postgres.database())
    store.migrate()

    failing = Store(store.url)

    def down(*args: object, **kwargs: object) -> int:
        raise StoreError("down")

    failing.feeds.save_documents = down  # type: ignore[method-assign]
    cluster = Cluster(failing, "host:1", clock=lambda: NOW)
    try:
        cluster.share([DOC])  # logged, not raised: the build already served them here
    finally:
        failing.close()
        store.close()
