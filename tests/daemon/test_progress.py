"""A first import of many records shows a progress bar on a terminal, and only there."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.daemon.conftest import Site, child_env, make_site, record, syndicator_command

RECORDS = 1500
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 52  # ~3 KB


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A source folder of ~5 MB of JSONL records (the bar shows from 4 MB)."""
    source = tmp_path_factory.mktemp("progress") / "articles"
    source.mkdir()
    with (source / "bulk.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(RECORDS):
            handle.write(json.dumps(record(f"bulk-{i}", body_md=BODY)) + "\n")
    assert (source / "bulk.jsonl").stat().st_size > 4_500_000
    return source


def run_with_terminal_stderr(site: Site, timeout: float = 60.0) -> tuple[int, bytes]:
    """Run `syndicator once` with stderr on a pseudo-terminal; return the code and the output."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            syndicator_command(site, "once"),
            cwd=site.root,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
    finally:
        os.close(slave)  # the child holds its own copy; EOF comes when it exits
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            output += chunk
        code = proc.wait(max(0.1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, bytes(output)


def test_once_on_a_terminal_shows_a_progress_bar(big_source: Path, tmp_path: Path) -> None:
    site = make_site(tmp_path / "tty", source=big_source)
    code, output = run_with_terminal_stderr(site)
    text = output.decode("utf-8", "replace")
    assert code == 0, text[-2000:]
    assert "importing [" in text
    assert "100%" in text
    assert "poll ok: 1500 created" in text
    # Every terminal line after the bar is a normal log line: the bar ended its line.
    bar_end = text.rindex("100%")
    assert "\n" in text[bar_end:]


def test_once_without_a_terminal_stays_quiet(big_source: Path, tmp_path: Path) -> None:
    site = make_site(tmp_path / "pipe", source=big_source)
    done = subprocess.run(
        syndicator_command(site, "once"),
        cwd=site.root,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert b"1500 created" in done.stdout
    assert b"importing" not in done.stderr and b"importing" not in done.stdout
    assert b"\r" not in done.stderr
