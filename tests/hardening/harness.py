"""A real `syndicator run` process on a temporary site, for crash and HTTP hardening tests.

Self-contained on purpose: these tests kill the process at random instants and
must control every wait, so nothing here depends on other suites' fixtures.
Every wait has a deadline; every process started is killed when its test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest

from tests.daemon.conftest import Site as BaseSite
from tests.daemon.conftest import (
    child_env,
    syndicator_command,
    wait_for,
)
from tests.daemon.conftest import make_site as make_daemon_site

T = TypeVar("T")

READY_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0

# Appended to the daemon tests' site config: fast retries, loopback receivers.
DELIVERY = """
[delivery]
allow_private_network = true
retry_schedule = [0.2, 0.5, 1]
once_wait_seconds = 5
"""


@dataclass
class Site(BaseSite):
    """A daemon test site, plus the command line and direct reads of its SQLite file."""

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `syndicator --config <site> ARGS` to completion (bounded)."""
        return subprocess.run(
            syndicator_command(self, *args),
            cwd=self.root,
            env=child_env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    def status(self) -> dict[str, Any]:
        """`syndicator status --json`, decoded."""
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the SQLite file directly (WAL: safe beside a running daemon)."""
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()


def make_site(root: Path, *, interval: float = 0.5, extra: str = "") -> Site:
    """Create the folders and config of a site under `root`."""
    base = make_daemon_site(root, interval=interval, extra=DELIVERY + extra)
    return Site(**{f.name: getattr(base, f.name) for f in fields(base)})


def webhook_config(name: str, url: str, secret: str, **extra: Any) -> str:
    """A `[[webhooks]]` table for the config file."""
    lines = ["", "[[webhooks]]", f'name = "{name}"', f'url = "{url}"', f'secret = "{secret}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def integrity_check(database: Path) -> str:
    """`PRAGMA integrity_check` on a copy of the database and its WAL.

    A copy, because opening the live file would replay and checkpoint the WAL
    here, in the test, instead of in the daemon that restarts after a crash.
    """
    if not database.exists():
        return "absent"  # killed before the store was created
    scratch = database.parent / f".integrity-{time.monotonic_ns()}"
    scratch.mkdir()
    try:
        copy = scratch / database.name
        shutil.copyfile(database, copy)
        wal = database.with_name(database.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        conn = sqlite3.connect(copy)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
        return "; ".join(str(row[0]) for row in rows)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Daemon:
    """One `syndicator run` subprocess, its log file and an HTTP client for it."""

    def __init__(self, site: Site, env: dict[str, str] | None = None) -> None:
        self.site = site
        self.env = child_env(**(env or {}))
        self.log_path = site.root / f"daemon-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.client = httpx.Client(base_url=site.base_url, timeout=5.0, trust_env=False)

    def start(self) -> Daemon:
        """Start the process (without waiting for it to serve)."""
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            syndicator_command(self.site, "run"),
            cwd=self.site.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        return self

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def _check_alive(self) -> None:
        if not self.alive():
            assert self.proc is not None
            pytest.fail(f"daemon exited with {self.proc.returncode}; log:\n{self.log()[-5000:]}")

    def wait_until(self, condition: Callable[[], T | None], timeout: float, what: str) -> T:
        """`wait_for` that fails fast if the daemon died and shows its log on timeout."""

        def check() -> T | None:
            self._check_alive()
            return condition()

        return wait_for(check, timeout, what, lambda: f"daemon log:\n{self.log()[-5000:]}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Daemon:
        """Wait until `/healthz` answers 200."""

        def healthy() -> bool | None:
            try:
                return True if self.client.get("/healthz").status_code == 200 else None
            except httpx.TransportError:
                return None

        self.wait_until(healthy, timeout, "the daemon to become healthy")
        return self

    def kill9(self) -> None:
        """SIGKILL: no handler, no cleanup, no flush - the crash under test."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_log()

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait for a clean exit; return the exit code."""
        assert self.proc is not None
        self._check_alive()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"daemon still running {timeout} s after SIGTERM:\n{self.log()[-5000:]}")
        self._close_log()
        return code

    def close(self) -> None:
        """Kill the process if it still runs and release every resource."""
        self.client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def daemons() -> Iterator[Callable[..., Daemon]]:
    """A factory `start(site, env=None, ready=True)`; every daemon is killed at the end."""
    started: list[Daemon] = []

    def start(site: Site, *, env: dict[str, str] | None = None, ready: bool = True) -> Daemon:
        daemon = Daemon(site, env).start()
        started.append(daemon)
        return daemon.wait_ready() if ready else daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.close()
