"""The `processes` table and what `status` makes of it, on both backends."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from syndicator.coordination.presence import GONE_AFTER_SECONDS, Heartbeat, is_running
from syndicator.status import collect_status
from syndicator.wiring import open_store
from tests.clock import Clock
from tests.deployment import Deployment

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ELSEWHERE = "another-host"


def test_heartbeat_and_clean_stop(deployment: Deployment) -> None:
    store = open_store(deployment.settings())
    try:
        clock = Clock(T0)
        beat = Heartbeat(store, f"{ELSEWHERE}:1", lambda: "builder", clock=clock)
        beat.beat()
        (record,) = store.processes.all()
        assert (record.identity, record.role, record.started_at) == (
            f"{ELSEWHERE}:1",
            "builder",
            T0,
        )
        assert is_running(record, T0 + timedelta(seconds=GONE_AFTER_SECONDS))
        # Three heartbeats missed: gone.
        assert not is_running(record, T0 + timedelta(seconds=GONE_AFTER_SECONDS + 1))
        clock.now = T0 + timedelta(minutes=1)
        beat.beat()
        (record,) = store.processes.all()
        assert record.heartbeat_at == clock.now and record.started_at == T0
        beat.stop()
        (record,) = store.processes.all()
        assert record.stopped_at == clock.now
        assert not is_running(record, clock.now)
    finally:
        store.close()


def test_a_process_on_this_host_is_judged_by_its_pid(deployment: Deployment) -> None:
    store = open_store(deployment.settings())
    try:
        here = socket.gethostname()
        store.processes.beat(f"{here}:{os.getpid()}", "builder", T0, T0)
        # A pid that cannot exist (above the kernel's limit): a killed process.
        store.processes.beat(f"{here}:999999999", "standby", T0, T0)
        running = {
            p.identity: is_running(p, T0 + timedelta(hours=1)) for p in store.processes.all()
        }
        assert running == {f"{here}:{os.getpid()}": True, f"{here}:999999999": False}
    finally:
        store.close()


def test_status_reports_processes_and_whether_the_builder_runs(deployment: Deployment) -> None:
    settings = deployment.settings()
    store = open_store(settings)
    try:
        store.polls.set_meta(
            "builder", '{"id": "gone-host:7", "since": "2026-06-01T12:00:00Z"}', T0
        )
        store.processes.beat("gone-host:7", "builder", T0, T0)
        store.processes.stopped("gone-host:7", T0)
        report = collect_status(settings, store)
        assert report["builder"] == {
            "id": "gone-host:7",
            "since": "2026-06-01T12:00:00Z",
            "running": False,
        }
        assert [(p["id"], p["role"], p["running"]) for p in report["processes"]] == [
            ("gone-host:7", "builder", False)
        ]
    finally:
        store.close()
