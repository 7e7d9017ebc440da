"""Retention on an SQLite file: the space comes back, and kill -9 mid-prune loses nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from syndicator.core.retry import AttemptOutcome
from syndicator.retention import Pruner
from syndicator.store import Outcome, Store
from syndicator.store import schema as t
from syndicator.store.database import use_incremental_vacuum
from tests.delivery.rows import T0, add_deliveries
from tests.store.test_retention import DAY, count, finish

_PRUNE_FOREVER = """
import sys
from datetime import datetime
from syndicator.retention import Pruner
from syndicator.store import Store
store = Store(sys.argv[1])
print("ready", flush=True)
# A target of an hour: the batch size stays fixed however slow the machine.
pruner = Pruner(store, days=1, batch=int(sys.argv[2]), pause=0, target=3600)
pruner.run(datetime.fromisoformat(sys.argv[3]))
print("finished", flush=True)
"""


def open_store(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    return store


def auto_vacuum(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    finally:
        conn.close()


def delivered_with_big_responses(store: Store, events: int) -> list[int]:
    ids = add_deliveries(store.outbox, ["a", "b"], events, at=T0)
    body = "x" * 4000  # kept in the delivery and in its attempt
    for start in range(0, len(ids), 500):
        store.outbox.record(
            [
                Outcome(i, "a", T0, AttemptOutcome.DELIVERED, 200, None, body, 0.01, None)
                for i in ids[start : start + 500]
            ],
            pause_after=1000,
            now=T0,
        )
    return ids


def test_new_databases_use_incremental_auto_vacuum(tmp_path: Path) -> None:
    open_store(tmp_path / "new.db").close()
    assert auto_vacuum(tmp_path / "new.db") == 2  # INCREMENTAL


def test_an_older_database_is_converted_once_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = open_store(path)
    add_deliveries(store.outbox, ["a"], 50)
    store.close()
    # A file as earlier versions created it: no auto-vacuum.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum=NONE")
    conn.execute("VACUUM")
    conn.close()
    assert auto_vacuum(path) == 0
    store = open_store(path)  # the migration step converts it
    try:
        assert auto_vacuum(path) == 2
        assert count(store, t.deliveries) == 50
    finally:
        store.close()
    assert use_incremental_vacuum(str(path)) is False  # nothing left to do


def test_pruned_space_goes_back_to_the_file_system(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    try:
        delivered_with_big_responses(store, 1500)  # 3,000 deliveries, ~24 MB of responses
        store.checkpoint()
        full = store.size_bytes()
        assert full is not None and full > 20_000_000
        report = Pruner(store, days=1, pause=0).run(T0 + 2 * DAY)
        store.checkpoint()
        after = store.size_bytes()
        assert report.deliveries == 3000 and report.pages_released > 5000
        assert after is not None and after < full / 5
        assert store.free_pages(0) == 0
    finally:
        store.close()


def test_kill_9_during_a_prune_loses_nothing_and_leaves_whole_batches(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    batch = 10  # the smallest size too: every transaction takes this many
    old = delivered_with_big_responses(store, 5000)  # 10,000 finished deliveries
    open_ids = add_deliveries(store.outbox, ["a", "b"], 100, at=T0)[len(old) :]
    finish(store, open_ids[:100], AttemptOutcome.RETRY, T0)  # 100 failed, 100 pending
    store.close()
    now = (T0 + 2 * DAY).isoformat()
    child = subprocess.Popen(
        [sys.executable, "-c", _PRUNE_FOREVER, f"sqlite:///{path}", str(batch), now],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 60
        while _rows(path, "deliveries") == 10_200 and time.monotonic() < deadline:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the pruner finished before it was killed"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    store = open_store(path)
    try:
        kept = _open_deliveries(store)
        assert kept == {i: ("failed" if i in open_ids[:100] else "pending") for i in open_ids}
        deleted = 10_000 - (count(store, t.deliveries) - 200)
        assert 0 < deleted < 10_000
        assert deleted % batch == 0  # only whole transactions committed
        assert count(store, t.attempts) == 10_000 - deleted + 100
        # The next run finishes the work and still keeps the open deliveries.
        Pruner(store, days=1, pause=0).run(T0 + 2 * DAY)
        assert _open_deliveries(store) == kept
        assert count(store, t.deliveries) == 200 and count(store, t.events) == 100
    finally:
        store.close()


def _rows(path: Path, table: str) -> int:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _open_deliveries(store: Store) -> dict[int, str]:
    d = t.deliveries
    with store.db.read() as conn:
        rows = conn.execute(
            select(d.c.id, d.c.status).where(d.c.status.in_(("pending", "failed")))
        ).all()
    return {row.id: row.status for row in rows}
