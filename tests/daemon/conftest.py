"""Run the real daemon (`python -m syndicator run`) on a temporary site and a free port.

Every daemon started here is killed when its fixture ends, and a daemon that
exited on its own while a test expected it to run fails that test with its
stderr. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

#: Short enough for live-update tests, long enough not to busy the machine.
POLL_INTERVAL = 0.5
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

CONFIG = """\
[site]
title = "Daemon Desk"
base_url = "http://127.0.0.1:{port}"

[source]
kind = "dir"
path = "{source}"

[poll]
interval_seconds = {interval}

[feeds]
output_dir = "{output}"
max_entries = 50

[server]
host = "127.0.0.1"
port = {port}

[database]
url = "sqlite:///{database}"
{extra}"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def record(
    slug: str,
    *,
    title: str | None = None,
    updated_at: str = "2026-06-01T10:00:00+00:00",
    topics: tuple[str, ...] = ("energy",),
    **fields: Any,
) -> dict[str, Any]:
    """A valid article record; keyword arguments override fields."""
    data: dict[str, Any] = {
        "slug": slug,
        "title": title or f"Title of {slug}",
        "summary": f"Summary of {slug}",
        "body_md": f"Body of *{slug}*.",
        "url": f"https://news.example.org/{slug}",
        "published_at": "2026-06-01T09:00:00+00:00",
        "updated_at": updated_at,
        "lang": "en",
        "topics": list(topics),
    }
    data.update(fields)
    return data


@dataclass
class Site:
    """One temporary deployment: config, source folder, output folder, database, port."""

    root: Path
    config: Path
    source: Path
    output: Path
    database: Path
    port: int

    @property
    def base_url(self) -> str:
        """Where the daemon of this site listens."""
        return f"http://127.0.0.1:{self.port}"

    def write_records(self, name: str, records: list[dict[str, Any]]) -> Path:
        """Write a JSONL file into the source folder atomically (a poll never sees half)."""
        path = self.source / name
        partial = self.source / f".{name}.partial"
        partial.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        os.replace(partial, path)
        return path

    def output_state(self) -> dict[str, tuple[int, int, bytes]]:
        """Every file under the output folder: (mtime_ns, inode, bytes)."""
        state: dict[str, tuple[int, int, bytes]] = {}
        for path in sorted(self.output.rglob("*")):
            if path.is_file():
                st = path.stat()
                state[str(path.relative_to(self.output))] = (
                    st.st_mtime_ns,
                    st.st_ino,
                    path.read_bytes(),
                )
        return state


def make_site(
    root: Path,
    *,
    interval: float = POLL_INTERVAL,
    extra: str = "",
    source: Path | None = None,
) -> Site:
    """Create the folders and config of a site under `root` (source may be shared)."""
    root.mkdir(parents=True, exist_ok=True)
    if source is None:
        source = root / "articles"
        source.mkdir()
    site = Site(
        root=root,
        config=root / "syndicator.toml",
        source=source,
        output=root / "public",
        database=root / "state.db",
        port=free_port(),
    )
    site.config.write_text(
        CONFIG.format(
            port=site.port,
            source=site.source,
            interval=interval,
            output=site.output,
            database=site.database,
            extra=extra,
        ),
        encoding="utf-8",
    )
    return site


def webhook_config(url: str, secret: str, name: str = "hook") -> str:
    """A `[[webhooks]]` block for a local receiver (private addresses allowed)."""
    return (
        "\n[[webhooks]]\n"
        f'name = "{name}"\nurl = "{url}"\nsecret = "{secret}"\n'
        "allow_private_network = true\n"
    )


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without SYNDICATOR_* overrides, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env.update(extra)
    return env


def syndicator_command(site: Site, *args: str) -> list[str]:
    """The command line of `syndicator --config <site> ARGS`."""
    return [sys.executable, "-m", "syndicator", "--config", str(site.config), *args]


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
    interval: float = 0.05,
) -> T:
    """Call `condition` until it returns something other than None (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            more = f"\n{detail()}" if detail is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{more}")
        time.sleep(interval)


def metric(text: str, sample: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None if absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


class DaemonProcess:
    """A `syndicator run` subprocess and an HTTP client for it."""

    def __init__(self, site: Site, env: dict[str, str] | None = None) -> None:
        self.site = site
        self.env = child_env(**(env or {}))
        self.stderr_path = site.root / f"daemon-{time.monotonic_ns()}.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.expect_exit = False
        self._stderr: IO[bytes] | None = None
        self.client = httpx.Client(
            base_url=site.base_url,
            timeout=5.0,
            trust_env=False,  # never a proxy: 127.0.0.1 only
            headers={"accept-encoding": "identity"},
        )

    def start(self) -> DaemonProcess:
        """Start the process (not waiting for it to serve)."""
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            syndicator_command(self.site, "run"),
            cwd=self.site.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
        )
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    def stderr(self) -> str:
        """Everything the daemon logged so far."""
        if not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def _check_alive(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"daemon exited unexpectedly with {code}; stderr:\n{self.stderr()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> DaemonProcess:
        """Wait until `/healthz` answers 200."""

        def healthy() -> bool | None:
            self._check_alive()
            try:
                return True if self.client.get("/healthz").status_code == 200 else None
            except httpx.TransportError:
                return None

        self.wait_until(healthy, timeout, f"the daemon on port {self.site.port} to become healthy")
        return self

    def wait_until(self, condition: Callable[[], T | None], timeout: float, what: str) -> T:
        """`wait_for` that shows the daemon's stderr when it times out."""
        return wait_for(condition, timeout, what, lambda: f"daemon stderr:\n{self.stderr()}")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET `path`; a dead daemon fails the test with its stderr."""
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a dead daemon fails the test with its stderr."""
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TransportError:
            self._check_alive()
            raise

    def metrics(self) -> str:
        """The `/metrics` text."""
        response = self.get("/metrics")
        assert response.status_code == 200, response.text
        return response.text

    def metric(self, sample: str, **labels: str) -> float:
        """One sample of `/metrics` (0 when absent)."""
        return metric(self.metrics(), sample, **labels) or 0.0

    def wait_for_builds(self, count: int = 1, timeout: float = 15.0) -> None:
        """Wait until builds have rendered at least `count` feed documents in this process."""
        self.wait_until(
            lambda: True if self.metric("syndicator_feeds_rendered_total") >= count else None,
            timeout,
            "a build",
        )

    def wait_for_polls(self, count: int, outcome: str = "ok", timeout: float = 15.0) -> None:
        """Wait until this process has counted `count` polls with `outcome`."""
        self.wait_until(
            lambda: (
                True if self.metric("syndicator_polls_total", outcome=outcome) >= count else None
            ),
            timeout,
            f"{count} {outcome} polls",
        )

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `signum` and return the exit code (fail if it takes over `timeout`)."""
        assert self.proc is not None
        self._check_alive()
        self.expect_exit = True
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"daemon still running {timeout} s after signal {signum}:\n{self.stderr()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for a daemon expected to exit on its own; return its exit code."""
        assert self.proc is not None
        self.expect_exit = True
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"daemon did not exit within {timeout} s:\n{self.stderr()}")

    def died_unexpectedly(self) -> str | None:
        """A description of an unexpected exit, or None."""
        if self.proc is None or self.expect_exit:
            return None
        code = self.proc.poll()
        if code is None:
            return None
        return f"daemon (pid {self.proc.pid}) exited with {code}; stderr:\n{self.stderr()}"

    def kill(self) -> None:
        """Kill the process if still running and release every resource."""
        self.client.close()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT)
        if self._stderr is not None:
            self._stderr.close()


@contextlib.contextmanager
def daemons() -> Iterator[Callable[..., DaemonProcess]]:
    """Start daemons on demand; kill them all at the end, failing if one died by itself."""
    started: list[DaemonProcess] = []

    def start(
        site: Site, *, env: dict[str, str] | None = None, ready: bool = True
    ) -> DaemonProcess:
        daemon = DaemonProcess(site, env)
        started.append(daemon)
        daemon.start()
        return daemon.wait_ready() if ready else daemon

    try:
        yield start
    finally:
        problems = [p for p in (d.died_unexpectedly() for d in started) if p]
        for daemon in started:
            daemon.kill()
    if problems:
        pytest.fail("\n\n".join(problems))


@contextlib.contextmanager
def nodes(root: Path, database_url: str, count: int, **site: Any) -> Iterator[list[DaemonProcess]]:
    """`count` daemons on one database and one source folder, each with its own
    output folder and port; all ready (or the test fails), all killed at the end."""
    source = root / "articles"
    source.mkdir()
    env = {"SYNDICATOR_DATABASE__URL": database_url}
    procs = [
        DaemonProcess(make_site(root / f"node{index}", source=source, **site), env)
        for index in range(count)
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout=30)
        yield procs
    finally:  # tests may kill a node themselves: no check of how each ended
        for proc in procs:
            proc.kill()


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., DaemonProcess]]:
    """A factory `start_daemon(site, env=None, ready=True)`; every daemon dies at the end."""
    with daemons() as start:
        yield start


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A fresh site with an empty source folder."""
    return make_site(tmp_path / "site")
