"""Freshness: from a change at the source to the entry served and the webhook received.

Usage, from the repository root::

    .venv/bin/python bench/freshness.py                  # 50 samples per path
    .venv/bin/python bench/freshness.py --samples 200

Two paths, each against a real ``syndicator run`` subprocess with
``poll.interval_seconds = 60`` (so the scheduled poll never helps):

- ``folder``: a record file is written into the ``dir`` source (atomically:
  a dotfile renamed into place); the folder watcher asks for a poll;
- ``ping``: a record is added to a local ``http`` source API, which then sends
  a Standard-Webhooks-signed ``POST /hooks/source``.

For every sample, two latencies from the change: until ``/feeds/all.atom``
holds the new entry (polled every 5 ms), and until a local receiver has the
``article.created`` webhook, verified with the ``standardwebhooks`` package.
Prints p50 / p99 / max per path and writes ``bench/out/freshness.json``.
Everything listens on 127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "freshness.json"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a fixed test key, local only
PING_SECRET = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
DEADLINE = 10.0  # seconds a sample may take before the run fails
KEEP = bool(os.environ.get("FRESHNESS_KEEP"))

CONFIG = """\
[site]
title = "Freshness"
base_url = "http://127.0.0.1:{port}"

[source]
{source}

[poll]
interval_seconds = 60

[feeds]
output_dir = "{root}/public"

[server]
host = "127.0.0.1"
port = {port}

[database]
url = "sqlite:///{root}/state.db"

[[webhooks]]
name = "bench"
url = "{hook}"
secret = "{secret}"
allow_private_network = true
events = ["article.created"]
"""


@contextmanager
def _workdir() -> Iterator[str]:
    """A temporary folder, kept afterwards with FRESHNESS_KEEP=1 (to read the daemons' logs)."""
    path = tempfile.mkdtemp(prefix="freshness-")
    try:
        yield path
    finally:
        if not KEEP:
            shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _record(slug: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "slug": slug,
        "title": f"Fresh {slug}",
        "summary": "A change to be seen at once.",
        "body_md": "Body.",
        "url": f"https://news.example.org/{slug}",
        "published_at": now,
        "updated_at": now,
        "topics": ["news"],
    }


class _Local(ThreadingHTTPServer):
    """The webhook receiver and the source API, in one local server."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: list[dict[str, Any]] = []
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.hook = Webhook(SECRET)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Local

    def do_GET(self) -> None:  # the source API: every record, as a JSON array
        with self.server.lock:
            body = json.dumps(self.server.records).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # the webhook receiver
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        at = time.perf_counter()
        payload = self.server.hook.verify(body, dict(self.headers.items()))
        with self.server.lock:
            self.server.arrived.setdefault(payload["data"]["slug"], at)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _daemon(root: Path, source: str, hook: str, env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    config = root / "syndicator.toml"
    config.write_text(
        CONFIG.format(port=port, root=root, source=source, hook=hook, secret=SECRET),
        encoding="utf-8",
    )
    log = (root / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), "run"],
        cwd=root,
        env={**os.environ, **env},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(base + "/healthz") is not None, 30, "the daemon to serve")
        _until(lambda: "syndicator_polls_total" in (_get(base + "/metrics") or ""), 30, "a poll")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _get(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=2, trust_env=False)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


def _until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)
    return time.perf_counter()


def _sample(base: str, local: _Local, slug: str, change: Callable[[], None]) -> tuple[float, float]:
    started = time.perf_counter()
    change()
    with httpx.Client(base_url=base, trust_env=False, timeout=2) as client:
        served = _until(
            lambda: f"news.example.org/{slug}" in client.get("/feeds/all.atom").text,
            DEADLINE,
            f"{slug} in the feed",
        )
    _until(lambda: slug in local.arrived, DEADLINE, f"the webhook of {slug}")
    return served - started, local.arrived[slug] - started


def _ping(base: str) -> None:
    body = b'{"type":"articles.changed"}'
    msg_id = f"msg_{time.monotonic_ns()}"
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(PING_SECRET).sign(msg_id, now, body.decode()),
    }
    answer = httpx.post(base + "/hooks/source", content=body, headers=headers, trust_env=False)
    if answer.status_code != 202:
        raise SystemExit(f"ping refused: {answer.status_code} {answer.text}")


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def run(samples: int, gap: float) -> dict[str, Any]:
    """Measure both paths; return the figures."""
    local = _Local()
    threading.Thread(target=local.serve_forever, args=(0.05,), daemon=True).start()
    results: dict[str, Any] = {"samples": samples}
    try:
        with _workdir() as tmp:
            folder_root = Path(tmp, "folder")
            articles = folder_root / "articles"
            articles.mkdir(parents=True)
            source = f'kind = "dir"\npath = "{articles}"'
            feed, hook = [], []
            with _daemon(folder_root, source, local.url, {}) as base:
                for i in range(samples):
                    slug = f"file-{i}"

                    def write(slug: str = slug) -> None:
                        partial = articles / f".{slug}.json"
                        partial.write_text(json.dumps(_record(slug)), encoding="utf-8")
                        os.replace(partial, articles / f"{slug}.json")

                    served, hooked = _sample(base, local, slug, write)
                    feed.append(served)
                    hook.append(hooked)
                    time.sleep(gap)
            results["folder"] = {"feed": _summary(feed), "webhook": _summary(hook)}

            ping_root = Path(tmp, "ping")
            ping_root.mkdir()
            source = f'kind = "http"\nurl = "{local.url}/articles"\nping_secret_env = "PING"'
            feed, hook = [], []
            with _daemon(ping_root, source, local.url, {"PING": PING_SECRET}) as base:
                for i in range(samples):
                    slug = f"ping-{i}"

                    def publish(slug: str = slug, base: str = base) -> None:
                        with local.lock:
                            local.records.append(_record(slug))
                        _ping(base)

                    served, hooked = _sample(base, local, slug, publish)
                    feed.append(served)
                    hook.append(hooked)
                    time.sleep(gap)
            results["ping"] = {"feed": _summary(feed), "webhook": _summary(hook)}
    finally:
        local.shutdown()
        local.server_close()
    return results


def main() -> None:
    """Run, print the table and write `bench/out/freshness.json`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between samples")
    args = parser.parse_args()
    results = run(args.samples, args.gap)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{'path':8} {'to':8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")  # noqa: T201
    for path in ("folder", "ping"):
        for to in ("feed", "webhook"):
            f = results[path][to]
            print(f"{path:8} {to:8} {f['p50_ms']:8} {f['p99_ms']:8} {f['max_ms']:8}")  # noqa: T201
    print(f"target: p50 <= 300 ms, p99 <= 1000 ms; {OUT}")  # noqa: T201


if __name__ == "__main__":
    main()
