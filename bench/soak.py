"""Soak: a simulated year of a busy site, to show the database and memory stop growing.

Each simulated day, through the real code: a JSONL file of new articles (and
edits of earlier ones) is written to a `dir` source and polled (`Poller`), the
dirty feeds are built (`Builder`), the deliveries are sent to five endpoints
on a local receiver by the real `DeliveryWorker` (one endpoint answers 500 to
10 % of requests, so retries and their schedule are exercised), and the
retention pass (`Pruner`) runs. Time is compressed: a fake clock jumps a day
per step and runs at real speed within it, so retries scheduled minutes later
fall due the next day. The day's file is removed once polled (the `dir`
source never takes a missing file for a deletion), so the source stays small.

The day's records follow SPEC's busy site: new articles, 5 % edits of
articles of the last 60 days and 1 % tombstone records ``{"slug", "deleted":
true, "updated_at"}`` taking such articles down (``--no-deletions`` leaves
them out).

At every simulated month it reports the database size (SQLite file + WAL,
after a checkpoint), the parts of it that the outbox tables and the article
tables take with their indexes (`dbstat`; articles are never pruned, so that
part grows by design), row counts, and the memory of this process (the
receiver runs in a process of its own): the resident set, and within it
SQLite's own heap (``sqlite3_memory_used()``: mostly the page caches of the
store's connections, up to ``cache_size`` each, which fill as the file grows),
what the C allocator holds (``mallinfo2``: in use, and freed but kept), and
the number of Python objects allocated. At the end it drains the queue and
checks that nothing was lost: every delivery created was answered 2xx at least
once, and none is left open.

    .venv/bin/python bench/soak.py --days 365                  # the full year
    .venv/bin/python bench/soak.py --days 40 --per-day 200     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import json
import logging
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["main", "run_soak"]

START = datetime(2026, 1, 1, tzinfo=UTC)
ENDPOINTS = 5
FLAKY_SHARE = 0.10
TOPICS = [f"topic-{n:02d}" for n in range(20)]
SECRET = "whsec_c29hay1iZW5jaC1zZWNyZXQtMDAwMDAwMDE="
OUTBOX_TABLES = ("events", "deliveries", "attempts")


# -- the receiver (its own process: its memory is not the daemon's) ---------------------


def receive(port: int, seed: int) -> None:
    """Answer POST /hook/N with 204, /hook/flaky with 500 one time in ten; GET /counts."""
    from aiohttp import web

    rng = random.Random(seed)
    ok: dict[str, int] = {}
    failed: dict[str, int] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        name = request.match_info["n"]
        if name == "flaky" and rng.random() < FLAKY_SHARE:
            failed[name] = failed.get(name, 0) + 1
            return web.Response(status=500)
        ok[name] = ok.get(name, 0) + 1
        return web.Response(status=204)

    async def counts(_request: web.Request) -> web.Response:
        return web.json_response({"ok": ok, "failed": failed})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook/{n}", hook)
        app.router.add_get("/counts", counts)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


# -- the simulation ------------------------------------------------------------------


class SimClock:
    """A day set by the simulation, with real time running inside it."""

    def __init__(self, start: datetime) -> None:
        self.day = start
        self.mark = time.monotonic()

    def set(self, day: datetime) -> None:
        self.day, self.mark = day, time.monotonic()

    def __call__(self) -> datetime:
        return self.day + timedelta(seconds=time.monotonic() - self.mark)


def _config(work: Path, port: int, days: float) -> Path:
    hooks = []
    for n in range(ENDPOINTS):
        hook = "flaky" if n == ENDPOINTS - 1 else str(n)
        hooks.append(
            f'[[webhooks]]\nname = "ep-{n}"\nurl = "http://127.0.0.1:{port}/hook/{hook}"\n'
            f'secret = "{SECRET}"\nallow_private_network = true\n'
            'events = ["article.created", "article.updated", "article.deleted"]\n'
        )
    text = f"""
[site]
base_url = "http://127.0.0.1:8080"
[source]
path = "{work / "source"}"
[poll]
processes = 1
[feeds]
output_dir = "{work / "public"}"
[delivery]
per_endpoint_concurrency = 16
[retention]
days = {days}
[database]
url = "sqlite:///{work / "state.db"}"
"""
    path = work / "syndicator.toml"
    path.write_text(text + "\n".join(hooks), encoding="utf-8")
    return path


def _record(slug: str, at: datetime, rng: random.Random, title: str) -> dict[str, Any]:
    stamp = at.isoformat()
    return {
        "slug": slug,
        "title": title,
        "summary": f"What happened to {slug}, in one sentence.",
        "body_md": f"## {title}\n\n" + " ".join(rng.choices(_WORDS, k=90)) + ".",
        "url": f"https://news.example.org/{slug}",
        "published_at": stamp,
        "updated_at": stamp,
        "lang": "en",
        "topics": rng.sample(TOPICS, rng.randint(1, 2)),
        "entities": [],
    }


_WORDS = "grid power market policy launch model chip data climate vote court health".split()


def _day_records(
    day: int, per_day: int, rng: random.Random, deletions: bool
) -> list[dict[str, Any]]:
    base = START + timedelta(days=day)
    step = 80_000 / max(per_day, 1)  # spread over the day, before the clock's evening
    records = [
        _record(f"d{day}-{n}", base + timedelta(seconds=n * step), rng, f"Story {day}-{n}")
        for n in range(per_day)
    ]
    if day > 0:
        later = base + timedelta(seconds=82_000)
        for n in range(per_day * 5 // 100):  # 5 % edits of earlier articles
            old_day = rng.randrange(max(0, day - 60), day)
            slug = f"d{old_day}-{rng.randrange(per_day)}"
            records.append(_record(slug, later + timedelta(seconds=n), rng, f"Edited {slug}"))
        if deletions:
            for n in range(per_day // 100):  # 1 % deletions
                slug = f"d{rng.randrange(max(0, day - 60), day)}-{rng.randrange(per_day)}"
                stamp = (later + timedelta(seconds=1000 + n)).isoformat()
                records.append({"slug": slug, "deleted": True, "updated_at": stamp})
    return records


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2`."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        ).split()
    ]


def _memory() -> dict[str, float]:
    """What holds the resident set: SQLite's heap (the same library the `sqlite3`
    module uses, loaded once per process), the C allocator's in-use and
    free-but-kept bytes, and Python's allocated objects (in thousands)."""
    found: dict[str, float] = {}
    try:
        sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        found["sqlite_heap_mb"] = round(sqlite.sqlite3_memory_used() / 2**20, 1)
    except (OSError, AttributeError):
        pass  # SQLite built into the module: no separate figure
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        found["malloc_used_mb"] = round((info.uordblks + info.hblkhd) / 2**20, 1)
        found["malloc_free_mb"] = round(info.fordblks / 2**20, 1)
    except (OSError, AttributeError):
        pass  # not glibc
    found["python_kblocks"] = round(sys.getallocatedblocks() / 1000, 1)
    return found


def _table_bytes(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s "
            "LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
        ).fetchall()
    finally:
        conn.close()
    return {name: int(size) for name, size in rows}


def _counts(store: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from syndicator.store import schema as t

    with store.db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (t.articles, t.events, t.deliveries, t.attempts, t.quarantine, t.polls)
        }


def _receiver_counts(port: int) -> dict[str, Any]:
    import httpx

    with httpx.Client(trust_env=False) as client:
        data: dict[str, Any] = client.get(f"http://127.0.0.1:{port}/counts").json()
    return data


def _wait_for_port(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            _receiver_counts(port)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start")


def run_soak(
    work: Path,
    days: int,
    per_day: int,
    *,
    retention_days: float = 30,
    month_days: int = 30,
    deletions: bool = True,
    seed: int = 1,
) -> dict[str, Any]:
    """Simulate `days` days; return the monthly figures and the end-of-run checks
    (`events_created` counts every event: created, updated and deleted)."""
    from syndicator.build import Builder
    from syndicator.config import load_settings
    from syndicator.delivery.worker import DeliveryWorker
    from syndicator.ingest import Poller
    from syndicator.retention import Pruner
    from syndicator.sources.folder import FolderSource
    from syndicator.wiring import open_store

    if work.exists():
        shutil.rmtree(work)
    (work / "source").mkdir(parents=True)
    port = _free_port()
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receive", str(port), "--seed", str(seed)],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        settings = load_settings(_config(work, port, retention_days), environ={})
        store = open_store(settings)
        clock = SimClock(START)
        source = FolderSource(settings.source.path, name="dir", limits=settings.source.limits)
        poller = Poller(settings, store, source, clock)
        builder = Builder(settings, store, clock)
        pruner = Pruner(store, retention_days, pause=0)
        worker = DeliveryWorker(settings, store.outbox, owner="soak", clock=clock)
        sim = _Simulation(work, settings, store, poller, builder, pruner, worker, clock)
        months, created, longest_batch = asyncio.run(
            sim.run(days, per_day, month_days, deletions, random.Random(seed))
        )
        open_left = store.outbox.queue_depth()
        answered = _receiver_counts(port)
        counts = store.outbox.counts()
        store.close()
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    return {
        "days": days,
        "per_day": per_day,
        "retention_days": retention_days,
        "months": months,
        "events_created": created,
        "articles_deleted": sim.deleted,
        "deliveries_left": counts,
        "open_deliveries_left": open_left,
        "receiver": answered,
        "longest_prune_transaction_ms": round(longest_batch * 1000, 2),
    }


class _Simulation:
    """The daily loop, on one event loop (the worker's HTTP pools belong to it)."""

    def __init__(
        self,
        work: Path,
        settings: Any,
        store: Any,
        poller: Any,
        builder: Any,
        pruner: Any,
        worker: Any,
        clock: SimClock,
    ) -> None:
        self.work, self.settings, self.store = work, settings, store
        self.poller, self.builder, self.pruner, self.worker = poller, builder, pruner, worker
        self.clock = clock
        self.phases = dict.fromkeys(("poll", "build", "deliver", "prune"), 0.0)
        self.deleted = 0  # articles taken down by tombstone records

    async def run(
        self, days: int, per_day: int, month_days: int, deletions: bool, rng: random.Random
    ) -> tuple[list[dict[str, Any]], int, float]:
        months: list[dict[str, Any]] = []
        created, longest_batch = 0, 0.0
        started = time.monotonic()
        for day in range(days):
            self.clock.set(START + timedelta(days=day, hours=23))
            path = self.work / "source" / f"day-{day:04d}.jsonl"
            records = _day_records(day, per_day, rng, deletions)
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
            mark = time.monotonic()
            changes = self.poller.poll()
            path.unlink()
            created += changes.created + changes.updated + changes.deleted
            self.deleted += changes.deleted
            self.phases["poll"] += time.monotonic() - mark
            mark = time.monotonic()
            self.builder.build(keep_documents=False)
            self.phases["build"] += time.monotonic() - mark
            mark = time.monotonic()
            await self._deliver()
            self.phases["deliver"] += time.monotonic() - mark
            mark = time.monotonic()
            report = self.pruner.run(self.clock())
            self.phases["prune"] += time.monotonic() - mark
            longest_batch = max(longest_batch, report.longest_batch_seconds)
            if (day + 1) % month_days == 0 or day == days - 1:
                months.append(self._month(day + 1, started))
                sys.stdout.write(json.dumps(months[-1]) + "\n")
                sys.stdout.flush()
        # The end: everything due is sent (retries scheduled later fall due).
        for extra in range(1, 4):
            self.clock.set(START + timedelta(days=days + extra))
            await self._deliver()
        await self.worker.aclose()
        return months, created, longest_batch

    async def _deliver(self) -> None:
        """Send everything due now; retries (5 s or more later) fall due another day."""
        while await self.worker.drain(2.0):
            pass

    def _month(self, day: int, started: float) -> dict[str, Any]:
        self.store.checkpoint()
        sizes = _table_bytes(self.work / "state.db")
        return {
            "day": day,
            "db_mb": round((self.store.size_bytes() or 0) / 1e6, 2),
            "outbox_mb": round(sum(sizes.get(t, 0) for t in OUTBOX_TABLES) / 1e6, 2),
            "articles_mb": round(
                sum(sizes.get(t, 0) for t in ("articles", "article_topics")) / 1e6, 2
            ),
            "rss_mb": round(_rss_mb(), 1),
            "memory": _memory(),
            "rows": _counts(self.store),
            "elapsed_s": round(time.monotonic() - started, 1),
            "phase_s": {name: round(value, 1) for name, value in self.phases.items()},
        }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its figures as JSON (one line per month, then a summary)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000, help="new articles a day")
    parser.add_argument("--retention-days", type=float, default=30)
    parser.add_argument("--month-days", type=int, default=30, help="days between two reports")
    parser.add_argument(
        "--deletions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="1 %% tombstone records (default: on)",
    )
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "soak")
    parser.add_argument("--out", type=Path, default=None, help="also write the summary here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--receive", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receive is not None:
        receive(args.receive, args.seed)
        return 0
    # The flaky endpoint's expected failures would fill the output with warnings.
    logging.basicConfig(level=logging.ERROR)
    summary = run_soak(
        args.work_dir,
        args.days,
        args.per_day,
        retention_days=args.retention_days,
        month_days=args.month_days,
        deletions=args.deletions,
        seed=args.seed,
    )
    text = json.dumps(summary, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
