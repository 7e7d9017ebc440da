"""The real `syndicator` command polling the local API (SPEC §8 exit codes)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.sources.conftest import Api, Desk

Make = Callable[..., dict[str, Any]]


def syndicator(desk: Desk, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(desk.config), *args],
        cwd=desk.root,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_once_reads_the_api_and_writes_feeds(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(headers_env={"Authorization": "ARTICLES_TOKEN"})
    api.page_size = 2
    api.records = [
        make_record("one", topics=["energy"]),
        make_record("two", topics=["space"], updated_at="2026-06-02T10:00:00Z"),
        make_record("three", topics=["space"], updated_at="2026-06-03T10:00:00Z"),
        {"slug": "broken"},
    ]
    done = syndicator(desk, "once", ARTICLES_TOKEN="Bearer t0ken")
    assert done.returncode == 0, done.stderr
    assert "3 created" in done.stdout and "1 quarantined" in done.stdout
    assert "t0ken" not in done.stdout + done.stderr
    assert {r.headers["authorization"] for r in api.requests} == {"Bearer t0ken"}
    feeds = {p.name for p in (desk.output / "feeds").iterdir()}
    assert {"all.rss", "energy.atom", "space.json"} <= feeds
    report = json.loads(syndicator(desk, "status", "--json").stdout)
    assert report["articles"] == 3
    assert report["watermark"] == "2026-06-03T10:00:00Z"
    assert report["last_poll"]["outcome"] == "ok"
    assert [q["source"] for q in report["quarantine"]] == [f"{api.url}#broken"]


def test_once_with_the_api_down_exits_1(desk: Desk, make_record: Make) -> None:
    with socket.socket() as sock:  # a port on which nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    desk.configure(url=f"http://127.0.0.1:{port}/articles")
    done = syndicator(desk, "once")
    assert done.returncode == 1
    assert f"127.0.0.1:{port}/articles" in done.stderr and "gave up" in done.stderr
    report = json.loads(syndicator(desk, "status", "--json").stdout)
    assert report["last_poll"]["outcome"] == "failed"
    assert report["watermark"] is None


def test_once_with_a_missing_secret_is_a_usage_error(desk: Desk) -> None:
    desk.configure(headers_env={"Authorization": "ARTICLES_TOKEN"})
    done = syndicator(desk, "once")
    assert done.returncode == 2
    assert "source.headers_env.Authorization" in done.stderr
