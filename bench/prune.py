"""How long a retention pass holds SQLite's write lock on a large database.

Builds an SQLite database (through the real migrations) holding a year's
outbox of a busy site: E events fanned out to 5 endpoints, every delivery
delivered long ago with one attempt (a 300-byte response excerpt), plus a
month of recent ones. Then runs the real `Pruner` (default batch and pause)
while a writer thread stands in for the poll: every 20 ms it opens a write
transaction (``BEGIN IMMEDIATE``), inserts a row and commits, and records how
long it waited for the lock. Prints one JSON object: the pruner's longest
transaction, the writer's waits (median, 99th percentile, longest), rows
removed, and the file size before and after.

The built database is kept as a pristine copy (`var/prune-bench/outbox-E-R.pristine.db`)
and each run prunes a fresh copy of it, so runs before and after a change start
from the same file; ``--rebuild`` builds it again.

    .venv/bin/python bench/prune.py --events 200000     # 1,000,000 deliveries
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.webhooks import percentile  # noqa: E402
from syndicator.core.times import db_time  # noqa: E402
from syndicator.retention import Pruner, PruneReport  # noqa: E402
from syndicator.store import Store  # noqa: E402

__all__ = ["build", "main", "measure"]

NOW = datetime(2027, 1, 1, tzinfo=UTC)
ENDPOINTS = 5


def build(path: Path, events: int, recent: int) -> None:
    """`events` old events (a year ago) and `recent` new ones, 5 deliveries each."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    delivery_id = 0
    for start in range(0, events + recent, 10_000):
        rows_e, rows_d, rows_a = [], [], []
        for n in range(start, min(start + 10_000, events + recent)):
            old = n < events
            at = NOW - (timedelta(days=365) if old else timedelta(days=1))
            at += timedelta(seconds=n % 86_400)
            stamp = db_time(at)
            event_id = f"evt_{n:012d}"
            payload = json.dumps({"type": "article.created", "data": {"slug": f"s{n}"}})
            rows_e.append((event_id, "article.created", f"s{n}", stamp, payload * 4, stamp))
            for e in range(ENDPOINTS):
                delivery_id += 1
                rows_d.append(
                    (
                        event_id,
                        f"ep-{e}",
                        f"msg_{delivery_id}",
                        "article.created",
                        f"s{n}",
                        "delivered",
                        1,
                        stamp,
                        204,
                        "",
                        "ok" * 150,
                        stamp,
                        stamp,
                    )
                )
                rows_a.append((delivery_id, stamp, "delivered", 204, "ok" * 150, 12))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (event_id, type, slug, timestamp, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows_e,
        )
        conn.executemany(
            "INSERT INTO deliveries (event_id, endpoint, webhook_id, type, slug, status, "
            "attempts, next_attempt_at, last_status_code, last_error, last_response, "
            "created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows_d,
        )
        conn.executemany(
            "INSERT INTO attempts (delivery_id, attempted_at, outcome, status_code, "
            "response_excerpt, duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
            rows_a,
        )
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


class _Recording(Pruner):
    """The real pruner, keeping how long each of its transactions took, by kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.took: dict[str, list[tuple[float, float]]] = {}

    def _timed(self, report: PruneReport, kind: str, *args: Any) -> Any:  # type: ignore[override]
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return super()._timed(report, kind, *args)
        finally:
            took = (time.perf_counter() - started, time.thread_time() - cpu)
            self.took.setdefault(kind, []).append(took)


def _by_kind(took: dict[str, list[tuple[float, float]]]) -> dict[str, dict[str, float]]:
    """Per kind of transaction: how many; their median, 99th percentile and longest
    time holding the lock; the longest CPU time one used (on a busy machine a
    transaction holds the lock longer than it works, while its thread waits for a
    CPU)."""
    found = {}
    for kind, pairs in took.items():
        times = [wall for wall, _ in pairs]
        found[kind] = {
            "count": len(times),
            "p50_ms": round(percentile(times, 50) * 1000, 1),
            "p99_ms": round(percentile(times, 99) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "max_cpu_ms": round(max(cpu for _, cpu in pairs) * 1000, 1),
            "total_s": round(sum(times), 1),
        }
    return found


def measure(path: Path) -> dict[str, Any]:
    """Prune with a writer running beside it; the figures as one object."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    before = store.size_bytes() or 0
    waits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_writes (at TEXT)")
        while not stop.is_set():
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            waits.append(time.perf_counter() - started)
            conn.execute("INSERT INTO bench_writes VALUES (?)", (str(time.time()),))
            conn.execute("COMMIT")
            stop.wait(0.02)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.perf_counter()
    try:
        pruner = _Recording(store, days=30)
        report = pruner.run(NOW)
    finally:
        stop.set()
        thread.join()
    elapsed = time.perf_counter() - started
    store.checkpoint()
    after = store.size_bytes() or 0
    store.close()
    return {
        "deliveries_pruned": report.deliveries,
        "attempts_pruned": report.attempts,
        "events_pruned": report.events,
        "transactions": report.batches,
        "pages_released": report.pages_released,
        "longest_transaction_ms": round(report.longest_batch_seconds * 1000, 1),
        "transactions_by_kind": _by_kind(pruner.took),
        "pass_seconds": round(elapsed, 1),
        "writer_waits": len(waits),
        "writer_wait_ms": {
            "p50": round(percentile(waits, 50) * 1000, 2),
            "p99": round(percentile(waits, 99) * 1000, 2),
            "max": round(max(waits, default=0.0) * 1000, 2),
            "over_100": sum(wait > 0.1 for wait in waits),
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "size_mb_before": round(before / 1e6, 1),
        "size_mb_after": round(after / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the pristine database (unless it exists), copy it and measure one pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000, help="old events (x5 deliveries)")
    parser.add_argument("--recent", type=int, default=30_000, help="events inside the window")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "prune-bench")
    parser.add_argument("--rebuild", action="store_true", help="build the pristine copy again")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    name = f"outbox-{args.events}-{args.recent}"
    pristine = args.work_dir / f"{name}.pristine.db"
    build_seconds = None
    if args.rebuild or not pristine.exists():
        partial = args.work_dir / f"{name}.partial.db"
        _remove(partial)
        started = time.perf_counter()
        build(partial, args.events, args.recent)
        build_seconds = round(time.perf_counter() - started, 1)
        partial.replace(pristine)  # only a finished build becomes the pristine copy
    path = args.work_dir / f"{name}.db"
    _remove(path)
    shutil.copyfile(pristine, path)
    result = {
        "events": args.events,
        "recent_events": args.recent,
        "build_seconds": build_seconds,
        **measure(path),
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


def _remove(path: Path) -> None:
    """A database file with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
