"""Webhook fan-out: the durable outbox and worker against bare client loops.

Every figure is measured against one local receiver (aiohttp, uvloop when
installed) on 127.0.0.1 that answers ``204`` on ``/hook/N`` for 100 endpoints.

- ``fanout``: E events are committed through the real pipeline (a folder of E
  records, one poll), which fans each out to 100 endpoints as durable delivery
  rows in SQLite; then ``DeliveryWorker.drain`` is timed until the queue is empty.
- ``bare``: the same bodies (read back from the events table), posted to the
  same URLs at the same concurrency (``delivery.max_concurrency``), by a bare
  aiohttp loop and by a bare ``httpx.AsyncClient`` loop, no database.
- ``latency``: the worker runs as in the daemon; one record at a time is
  appended to the source and polled (a commit), the worker is woken, and the
  receiver's arrival time minus the time the poll returned is recorded, with
  the queue empty before each event (no backlog).

Each runs as ``python bench/webhooks.py MODE ...`` in its own process and
prints one JSON object; ``--receive PORT`` runs the receiver. Everything is
bounded: the receiver exits by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["ENDPOINTS", "hooks_config", "percentile"]

ENDPOINTS = 100
SECRET = "whsec_" + base64.b64encode(b"syndicator-bench-secret-0001").decode()


def hooks_config(port: int, endpoints: int = ENDPOINTS) -> list[dict[str, Any]]:
    """`[[webhooks]]` tables for `endpoints` endpoints on the local receiver."""
    return [
        {
            "name": f"hook-{n:03d}",
            "url": f"http://127.0.0.1:{port}/hook/{n}",
            "secret": SECRET,
            "topics": ["*"],
            "allow_private_network": True,
        }
        for n in range(endpoints)
    ]


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) by nearest rank; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# -- the receiver ------------------------------------------------------------------


def receive(port: int, max_seconds: float) -> None:
    """Serve ``/hook/N`` with 204 until SIGTERM or `max_seconds`."""
    from aiohttp import web

    state: dict[str, Any] = {"count": 0, "record": False, "arrivals": []}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        state["count"] += 1
        if state["record"]:
            slug = orjson.loads(body)["data"]["slug"]
            state["arrivals"].append((slug, time.time()))
        return web.Response(status=204)

    async def stats(_request: web.Request) -> web.Response:
        data = {"count": state["count"], "arrivals": state["arrivals"]}
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    async def count(_request: web.Request) -> web.Response:
        return web.Response(text=str(state["count"]))

    async def reset(request: web.Request) -> web.Response:
        state.update(count=0, arrivals=[], record=request.query.get("record") == "1")
        return web.Response(status=204)

    async def main() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/hook/{n}", hook)
        app.router.add_get("/stats", stats)
        app.router.add_get("/count", count)
        app.router.add_post("/reset", reset)
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        try:
            await asyncio.sleep(max_seconds)
        finally:
            await runner.cleanup()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# -- durable fan-out ------------------------------------------------------------------


def _pipeline(workdir: Path) -> tuple[Any, Any, Any]:
    from syndicator.config import load_settings
    from syndicator.wiring import make_poller, open_store

    settings = load_settings(workdir / "syndicator.toml", environ={})
    store = open_store(settings)
    return settings, store, make_poller(settings, store)


def _worker(settings: Any, store: Any) -> Any:
    from syndicator.delivery.worker import DeliveryWorker
    from syndicator.wiring import utc_now

    return DeliveryWorker(settings, store.outbox, owner="bench", clock=utc_now)


def fanout(workdir: Path) -> dict[str, Any]:
    """Commit the folder's records as events, then time draining every delivery."""
    settings, store, pipeline = _pipeline(workdir)
    tick = time.perf_counter()
    changes = pipeline.poll()
    commit_seconds = time.perf_counter() - tick
    outbox = store.outbox
    queued = outbox.queue_depth()
    worker = _worker(settings, store)

    async def drain() -> tuple[int, float]:
        started = time.perf_counter()
        try:
            sent = int(await worker.drain(300.0))
        finally:
            elapsed = time.perf_counter() - started
            await worker.aclose()
        return sent, elapsed

    sent, seconds = asyncio.run(drain())
    counts = outbox.counts()
    store.close()
    return {
        "events": changes.created,
        "deliveries_queued": queued,
        "commit_seconds": commit_seconds,
        "attempted": sent,
        "delivered": counts["delivered"],
        "not_delivered": queued - counts["delivered"],
        "seconds": seconds,
        "rate": counts["delivered"] / seconds if seconds else 0.0,
        "max_concurrency": settings.delivery.max_concurrency,
        "per_endpoint_concurrency": settings.delivery.per_endpoint_concurrency,
    }


# -- bare client loops ------------------------------------------------------------------


def _jobs(workdir: Path, port: int, endpoints: int) -> list[tuple[str, bytes]]:
    """(url, body) for every event × endpoint, bodies as stored in the outbox."""
    import sqlite3

    with sqlite3.connect(workdir / "syndicator.db") as db:
        bodies = [row[0].encode() for row in db.execute("SELECT payload FROM events ORDER BY id")]
    return [(f"http://127.0.0.1:{port}/hook/{n}", b) for b in bodies for n in range(endpoints)]


async def _pool(jobs: list[tuple[str, bytes]], concurrency: int, post: Any) -> int:
    queue = iter(jobs)
    ok = 0

    async def loop() -> None:
        nonlocal ok
        for url, body in queue:
            if 200 <= await post(url, body) < 300:
                ok += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return ok


async def _aiohttp(jobs: list[tuple[str, bytes]], concurrency: int) -> int:
    import aiohttp

    headers = {"content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(url: str, body: bytes) -> int:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        return await _pool(jobs, concurrency, post)


async def _httpx(jobs: list[tuple[str, bytes]], concurrency: int) -> int:
    import httpx

    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def post(url: str, body: bytes) -> int:
            resp = await client.post(url, content=body, headers=headers)
            return resp.status_code

        return await _pool(jobs, concurrency, post)


def bare(
    workdir: Path, port: int, client: str, concurrency: int, limit: int, endpoints: int
) -> dict[str, Any]:
    """Post the outbox's bodies with a bare client loop; at most `limit` requests."""
    jobs = _jobs(workdir, port, endpoints)[:limit]
    run = _aiohttp if client == "aiohttp" else _httpx
    started = time.perf_counter()
    ok = asyncio.run(run(jobs, concurrency))
    seconds = time.perf_counter() - started
    return {
        "client": client,
        "requests": len(jobs),
        "ok": ok,
        "seconds": seconds,
        "rate": ok / seconds if seconds else 0.0,
        "concurrency": concurrency,
        "body_bytes_avg": sum(len(b) for _, b in jobs) / max(1, len(jobs)),
    }


# -- latency with no backlog ---------------------------------------------------------------


def latency(workdir: Path, port: int, samples: int, template: dict[str, Any]) -> dict[str, Any]:
    """Commit `samples` events one at a time; arrival minus commit at the receiver."""
    import aiohttp

    settings, store, pipeline = _pipeline(workdir)
    endpoints = len(settings.webhooks)
    worker = _worker(settings, store)
    source = settings.source.path / "latency.jsonl"
    base = f"http://127.0.0.1:{port}"

    async def main() -> tuple[dict[str, float], list[tuple[str, float]]]:
        running = asyncio.create_task(worker.run())
        committed: dict[str, float] = {}
        async with aiohttp.ClientSession() as session:
            await session.post(f"{base}/reset?record=1")
            # Event -1 warms the worker up (it opens one connection pool per
            # endpoint on first use); it is reported apart, as first_event_ms.
            for k in range(-1, samples):
                slug = f"lat-{k + 1:05d}" if k >= 0 else "lat-warm-up"
                stamp = k + 1
                record = {
                    **template,
                    "slug": slug,
                    "updated_at": f"2026-01-02T{stamp // 3600:02d}:{stamp // 60 % 60:02d}:"
                    f"{stamp % 60:02d}Z",
                }
                with source.open("ab") as out:
                    out.write(orjson.dumps(record) + b"\n")
                await asyncio.to_thread(pipeline.poll)
                committed[slug] = time.time()
                worker.wake()
                want = (k + 2) * endpoints
                deadline = time.monotonic() + 10.0
                while time.monotonic() < deadline:
                    async with session.get(f"{base}/count") as resp:
                        if int(await resp.text()) >= want:
                            break
                    await asyncio.sleep(0.002)
            async with session.get(f"{base}/stats") as resp:
                arrivals = orjson.loads(await resp.read())["arrivals"]
        worker.stop()
        await asyncio.wait_for(running, timeout=30.0)
        await worker.aclose()
        return committed, arrivals

    committed, arrivals = asyncio.run(main())
    store.close()
    delays = [(t - committed[s]) * 1000 for s, t in arrivals if s in committed and "warm" not in s]
    first = [(t - committed[s]) * 1000 for s, t in arrivals if s == "lat-warm-up"]
    return {
        "endpoints": endpoints,
        "events": samples,
        "deliveries": len(delays),
        "expected": samples * endpoints,
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays, default=0.0),
        "mean_ms": statistics.fmean(delays) if delays else 0.0,
        "first_event_ms": max(first, default=0.0),
    }


def main() -> int:
    """Command-line entry point of the subprocesses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=("receive", "fanout", "bare", "latency"))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--limit", type=int, default=10**9)
    parser.add_argument("--endpoints", type=int, default=ENDPOINTS)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--template", type=Path, help="a JSON record used for latency events")
    args = parser.parse_args()
    if args.mode == "receive":
        receive(args.port, args.max_seconds)
        return 0
    if args.mode == "fanout":
        figures = fanout(args.workdir)
    elif args.mode == "bare":
        figures = bare(
            args.workdir, args.port, args.client, args.concurrency, args.limit, args.endpoints
        )
    else:
        template = json.loads(args.template.read_text())
        figures = latency(args.workdir, args.port, args.samples, template)
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
