"""Starting and stopping `syndicator run` (SPEC §8): signals, bad config, a busy port."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.conftest import (
    STOP_TIMEOUT,
    DaemonProcess,
    Site,
    child_env,
    record,
    syndicator_command,
)

Start = Callable[..., DaemonProcess]
#: The text log format: `2026-06-01 10:00:00,123 INFO syndicator.daemon: message`.
LOG_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S.*"
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_with_exit_0(site: Site, start_daemon: Start, signum: int) -> None:
    site.write_records("a.jsonl", [record("alpha")])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    started = time.monotonic()
    assert daemon.stop(signum, timeout=STOP_TIMEOUT) == 0
    assert time.monotonic() - started < STOP_TIMEOUT
    log = daemon.stderr()
    lines = log.splitlines()
    assert lines, "the daemon logged nothing"
    for line in lines:
        assert LOG_LINE.fullmatch(line), f"not a one-line log record: {line!r}\n{log}"
    assert "Traceback" not in log
    assert "poll ok" in log
    assert "stopped" in lines[-1]
    # Nothing listens any more.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", site.port), timeout=2):
        pass


def test_bad_config_exits_2_before_serving(site: Site) -> None:
    site.config.write_text(
        site.config.read_text(encoding="utf-8").replace(
            "interval_seconds = 0.5", "interval_seconds = -1"
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        syndicator_command(site, "run"),
        cwd=site.root,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "poll.interval_seconds" in done.stderr
    assert "serving" not in done.stderr
    assert not site.database.exists() and not site.output.exists()


def test_bad_environment_override_exits_2(site: Site) -> None:
    done = subprocess.run(
        syndicator_command(site, "run"),
        cwd=site.root,
        env=child_env(SYNDICATOR_SERVER__PORT="eighty"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "server.port" in done.stderr


def test_port_in_use_exits_1_with_a_clear_message(site: Site, start_daemon: Start) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", site.port))
        holder.listen()
        daemon = start_daemon(site, ready=False)
        code = daemon.wait_exit(timeout=30)
    log = daemon.stderr()
    assert code == 1, log
    assert "address already in use" in log.lower()
    assert f"could not listen on 127.0.0.1:{site.port}" in log
    assert "Traceback" not in log


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _is_worker(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_daemon_keeps_its_render_worker_and_it_ends_with_the_daemon(
    site: Site, start_daemon: Start, signum: int
) -> None:
    site.write_records("a.jsonl", [record("alpha")])
    daemon = start_daemon(site, env={"SYNDICATOR_POLL__PROCESSES": "2"})
    daemon.wait_for_builds()
    # Started with the daemon and kept between builds.
    workers = daemon.wait_until(
        lambda: {pid for pid in _children(daemon.pid) if _is_worker(pid)} or None,
        15,
        "the worker process to start",
    )
    assert len(workers) == 1
    assert all(_alive(pid) for pid in workers)
    if signum == signal.SIGKILL:
        daemon.expect_exit = True
        assert daemon.proc is not None
        daemon.proc.kill()
        daemon.proc.wait(timeout=STOP_TIMEOUT)
    else:
        assert daemon.stop(signum, timeout=STOP_TIMEOUT) == 0
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "a worker outlived the daemon"
