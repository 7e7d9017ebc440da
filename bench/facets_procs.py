"""Processes of the facets benchmark: `syndicator once` and `syndicator run`, measured.

Each runs as the user runs it (``python -m syndicator --config … once|run``)
in a fresh interpreter, with JSON logs (``[log] format = "json"``) so the
benchmark can read when a poll or build ended from the log lines' own
timestamps. Resident memory is the sum over the process and all its children
(render and validation workers), read from ``/proc``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx

from bench.product import process_tree, rss_kb

__all__ = [
    "DaemonProc",
    "RssSampler",
    "disk_usage",
    "run_once",
    "summary",
    "tree_rss_mb",
    "user_env",
]

CONFIG_NAME = "syndicator.toml"


def write_config(workdir: Path, source: Path, *, port: int, title: str = "Newsroom") -> Path:
    """The config of one benchmark variant: dir source watched, JSON logs, no webhooks."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "[site]",
        f"title = {json.dumps(title)}",
        f'base_url = "http://127.0.0.1:{port}"',
        "[source]",
        'kind = "dir"',
        f"path = {json.dumps(str(source))}",
        "[poll]",
        # The scheduled poll never helps: changes arrive through the folder watcher.
        "interval_seconds = 3600",
        "[feeds]",
        f"output_dir = {json.dumps(str(workdir / 'public'))}",
        "max_entries = 50",
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "[database]",
        f"url = {json.dumps('sqlite:///' + str(workdir / 'syndicator.db'))}",
        "[log]",
        'level = "INFO"',
        'format = "json"',
    ]
    path = workdir / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def user_env() -> dict[str, str]:
    # The outer environment must not override the benchmark's config.
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    return sum(rss_kb(p) for p in process_tree(pid)) / 1024


class RssSampler:
    """The peak of `tree_rss_mb(pid)`, sampled every 50 ms until `stop`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))

    def stop(self) -> float:
        """Stop sampling; the peak seen, in MB."""
        self._stop.set()
        self._thread.join()
        return round(self.peak_mb, 1)


def log_records(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process's output (other lines skipped)."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def log_time(record: dict[str, Any]) -> float:
    """A log line's timestamp as Unix seconds."""
    return datetime.fromisoformat(str(record["time"])).timestamp()


def run_once(config: Path, timeout: float = 3600.0) -> dict[str, Any]:
    """`syndicator once` in a fresh process: wall seconds, peak RSS, counts from its logs."""
    cmd = [sys.executable, "-m", "syndicator", "--config", str(config), "once"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=config.parent,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = RssSampler(proc.pid)
    out, err = proc.communicate(timeout=timeout)
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    figures: dict[str, Any] = {"seconds": round(seconds, 3), "peak_rss_tree_mb": peak}
    for record in log_records(err):
        message = str(record.get("message", ""))
        if message.startswith("poll ok"):
            figures["counts"] = record.get("counts", {})
            figures["poll_seconds"] = float(message.rsplit(" in ", 1)[1].split()[0])
        elif message.startswith("build:"):
            figures["build"] = message
    figures["summary"] = out.strip().splitlines()[-1] if out.strip() else ""
    return figures


def disk_usage(path: Path) -> dict[str, int]:
    """Bytes on disk (allocated blocks, as `du`) and files under `path`."""
    blocks = files = 0
    for root, dirs, names in os.walk(path):
        for name in [*names, *dirs]:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            blocks += st.st_blocks
            files += name in names
    return {"bytes": blocks * 512, "files": files}


def summary(seconds: list[float]) -> dict[str, float]:
    """Count, p50, p99 and max of latencies, in ms."""
    if not seconds:
        return {"count": 0}
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


class DaemonProc:
    """A `syndicator run` subprocess on one config, with an HTTP client to it."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = config.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.started_wall = 0.0
        self._log: IO[bytes] | None = None
        self.client = httpx.Client(base_url=self.base, trust_env=False, timeout=60)

    def start(self) -> None:
        """Start the process; `started` (perf counter) and `started_wall` mark the instant."""
        self._log = self.log_path.open("ab")
        cmd = [sys.executable, "-m", "syndicator", "--config", str(self.config), "run"]
        self.started_wall = time.time()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, cwd=self.config.parent, env=user_env(), stdout=self._log, stderr=self._log
        )

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        if self.proc is None:
            raise RuntimeError("daemon not started")
        return self.proc.pid

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one GET."""
        tick = time.perf_counter()
        response = self.client.get(path, headers=headers)
        return response.status_code, response.content, time.perf_counter() - tick

    def first_200(self, path: str, timeout: float = 120.0) -> float:
        """Seconds from process start until `path` first answers 200."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"the daemon exited ({code}); see {self.log_path}")
            try:
                if self.client.get(path).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{path} not 200 within {timeout} s; see {self.log_path}")
            time.sleep(0.01)

    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far."""
        return log_records(self.log_path.read_text(encoding="utf-8", errors="replace"))

    def wait_log(
        self, match: Callable[[dict[str, Any]], bool], since: float, timeout: float = 600.0
    ) -> dict[str, Any]:
        """The first log line at or after Unix time `since` that `match`es, waited for."""
        deadline = time.perf_counter() + timeout
        while True:
            for record in self.logs():
                if log_time(record) >= since - 0.001 and match(record):
                    return record
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited; see {self.log_path}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no matching log line within {timeout} s; see {self.log_path}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, and wait (SIGKILL after 60 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.client.close()
        self.client = httpx.Client(base_url=self.base, trust_env=False, timeout=60)
