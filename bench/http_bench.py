"""Requests/s of the feed route against nginx serving the same bytes (not run in CI).

Usage, from the repository root::

    .venv/bin/python bench/http_bench.py [--duration 10] [--threads 2] [--connections 32]

Needs ``nginx`` and ``wrk`` on PATH (Debian: ``apt-get install -y nginx wrk``);
says so and exits 2 when they are missing. Everything listens on 127.0.0.1 and
every step is bounded in time. The daemon's app runs in a subprocess, one
uvicorn worker with the production settings of ``make_server``, once per HTTP
stack available (h11 + asyncio always; httptools + uvloop when importable);
nginx runs one worker process with ``bench/nginx.conf.template``. Scenarios: a
200 with the identity body, a 200 with gzip (nginx: ``gzip_static``), and a 304
for ``If-None-Match`` with each server's own ETag. With ``--readers``, each
stack also runs with the reader analytics observer (a `Recorder` flushing to a
SQLite file every few seconds), to show what counting readers costs. Figures go
to ``bench/out/http.json``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FEED_PATH = "/feeds/bench.rss"
CONTENT_TYPE = "application/rss+xml; charset=utf-8"
LAST_MODIFIED = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [13, 9, 8, 8, 7, 7, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    return ["".join(rng.choices(letters, weights, k=rng.randint(2, 11))) for _ in range(size)]


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def make_feed(entries: int = 50) -> bytes:
    """A deterministic RSS 2.0 feed of ``entries`` items, ~2 KB each, ~100 KB in all.

    Pseudo-words drawn with Zipf-like frequencies, so gzip shrinks it about as
    much as real prose (a repeated phrase would compress far better).
    """
    rng = random.Random(50)
    vocab = _vocabulary(rng)
    zipf = [1 / (rank + 1) for rank in range(len(vocab))]

    def sentence(n: int) -> str:
        return " ".join(rng.choices(vocab, zipf, k=n)).capitalize() + "."

    items = []
    for i in range(entries):
        paragraphs = "".join(
            f"&lt;p&gt;{' '.join(sentence(14) for _ in range(5))}&lt;/p&gt;" for _ in range(3)
        )
        when = LAST_MODIFIED - timedelta(hours=i)
        items.append(
            f"<item><title>{sentence(6)}</title>"
            f"<link>https://example.org/articles/article-{i}</link>"
            f'<guid isPermaLink="false">urn:syndicator:article-{i}</guid>'
            f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
            f"<category>bench</category><description>{sentence(25)}</description>"
            f"<content:encoded>{paragraphs}</content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>bench</title><link>https://example.org/</link>"
        f"<description>Benchmark feed</description>{''.join(items)}</channel></rss>\n"
    ).encode()


def serve(port: int, feed_file: Path, http: str, loop: str, readers: Path | None = None) -> None:
    """Subprocess mode: serve the feed with the daemon's app until SIGTERM (with
    `readers`, a SQLite file, counting readers as the daemon does)."""
    sys.path.insert(0, str(ROOT))
    from syndicator.analytics import Recorder
    from syndicator.store.store import Store
    from syndicator.web import Document, DocumentSet, create_app, make_server

    doc = Document.build(feed_file.read_bytes(), CONTENT_TYPE, LAST_MODIFIED)
    recorder = None
    if readers is not None:
        store = Store(f"sqlite:///{readers}")
        store.migrate()
        recorder = Recorder(store.readers, clock=lambda: datetime.now(UTC))
        recorder.start()
    app = create_app(
        DocumentSet({FEED_PATH: doc}),
        health=lambda: (True, {}),
        observer=None if recorder is None else recorder.observe,
    )
    make_server(app, "127.0.0.1", port, http=http, loop=loop, handle_signals=True).run()
    if recorder is not None:
        recorder.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def _probe(port: int, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{FEED_PATH}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, _lower(response.headers.items()), len(response.read())
    except urllib.error.HTTPError as exc:  # 304 arrives as an "error"
        return exc.code, _lower(exc.headers.items()), 0


def _lower(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


def _wrk(
    port: int, headers: dict[str, str], args: argparse.Namespace, path: str = FEED_PATH
) -> dict[str, Any]:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=args.duration + 30, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    latency = re.search(r"Latency\s+(\S+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
        "latency_avg": latency.group(1) if latency else "",
    }


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _stacks() -> list[tuple[str, str]]:
    stacks = [("h11", "asyncio")]
    if importlib.util.find_spec("httptools") and importlib.util.find_spec("uvloop"):
        stacks.append(("httptools", "uvloop"))
    return stacks


def run(args: argparse.Namespace) -> int:
    """Start nginx and the app, run wrk against each, print and save the figures."""
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        _say(f"missing: {', '.join(missing)}; install with: apt-get install -y nginx wrk")
        return 2
    body = make_feed(args.entries)
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "www"
        (root / "feeds").mkdir(parents=True)
        feed_file = root / FEED_PATH.lstrip("/")
        feed_file.write_bytes(body)
        # Same compressed bytes the daemon sends, for nginx's gzip_static.
        Path(f"{feed_file}.gz").write_bytes(gzip.compress(body, compresslevel=9, mtime=0))
        # nginx's worker drops to an unprivileged user when started as root.
        for path in (tmp, root, root / "feeds"):
            path.chmod(0o755)
        nginx_port = _free_port()
        conf = tmp / "nginx.conf"
        template = string.Template((ROOT / "bench" / "nginx.conf.template").read_text())
        conf.write_text(template.substitute(tmp=tmp, root=root, port=nginx_port))

        servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
        try:
            proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)])
            servers["nginx"] = (nginx_port, proc)
            for http, loop in _stacks():
                port = _free_port()
                cmd = [sys.executable, __file__, "--serve", str(port), "--feed", str(feed_file)]
                proc = subprocess.Popen([*cmd, "--http", http, "--loop", loop])
                servers[f"syndicator ({http}+{loop})"] = (port, proc)
                if args.readers:
                    port = _free_port()
                    db = tmp / f"readers-{http}.db"
                    cmd = [sys.executable, __file__, "--serve", str(port), "--feed", str(feed_file)]
                    proc = subprocess.Popen(
                        [*cmd, "--http", http, "--loop", loop, "--readers-db", str(db)]
                    )
                    servers[f"syndicator ({http}+{loop}) readers"] = (port, proc)
            for port, proc in servers.values():
                _wait_listening(port, proc)
            results = _measure(servers, args)
        finally:
            for _, proc in servers.values():
                _stop(proc)
    _report(results, len(body), args)
    return 0


def _measure(
    servers: dict[str, tuple[int, subprocess.Popen[bytes]]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for scenario in ("200", "200 gzip", "304"):
        nginx_rps = 0.0
        for name, (port, _) in servers.items():
            headers = {"Accept-Encoding": "gzip"} if scenario == "200 gzip" else {}
            if scenario == "304":
                etag = _probe(port, {})[1]["etag"]
                headers = {"If-None-Match": etag}
            status, got, size = _probe(port, headers)
            if status != int(scenario[:3]):
                raise RuntimeError(f"{name}: expected {scenario}, got {status}")
            _wrk(port, headers, argparse.Namespace(**{**vars(args), "duration": 1}))  # warm-up
            figures = _wrk(port, headers, args)
            if name == "nginx":
                nginx_rps = figures["rps"]
            ratio = figures["rps"] / nginx_rps if nginx_rps else None
            results.append(
                {
                    "scenario": scenario,
                    "server": name,
                    "body_bytes": size,
                    "content_encoding": got.get("content-encoding", ""),
                    **figures,
                    "ratio_to_nginx": round(ratio, 3) if ratio is not None else None,
                }
            )
            _say(f"  {scenario:8} {name:34} {figures['rps']:>10.0f} req/s")
    return results


def _report(results: list[dict[str, Any]], feed_size: int, args: argparse.Namespace) -> None:
    _say()
    _say(f"{'scenario':9} {'server':34} {'req/s':>10} {'vs nginx':>9}  bytes")
    for row in results:
        ratio = row["ratio_to_nginx"]
        shown = f"{ratio:.0%}" if ratio is not None else "-"
        _say(
            f"{row['scenario']:9} {row['server']:34} {row['rps']:>10.0f} {shown:>9}"
            f"  {row['body_bytes']}"
        )
    versions = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "nginx": versions.stderr.strip(),
        },
        "wrk": {"threads": args.threads, "connections": args.connections, "seconds": args.duration},
        "feed": {"entries": args.entries, "bytes": feed_size, "path": FEED_PATH},
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _say(f"\nwritten to {out}")


def main() -> int:
    """Parse arguments; either run the benchmark or serve (subprocess mode)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "http.json"))
    parser.add_argument(
        "--readers", action="store_true", help="also run each stack with reader analytics"
    )
    parser.add_argument("--readers-db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--feed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--http", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.feed, args.http, args.loop, args.readers_db)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
