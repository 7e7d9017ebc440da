"""Three daemons over one PostgreSQL behave as one service (SPEC §9)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.core.signing import generate_secret
from tests.daemon.conftest import DaemonProcess, child_env, make_site, nodes, record, wait_for
from tests.delivery.receiver import Receiver
from tests.postgres import Cluster


@pytest.fixture
def daemons(
    tmp_path: Path, postgres: Cluster, receiver: Receiver
) -> Iterator[tuple[list[DaemonProcess], str]]:
    """Three daemons sharing one database and one source folder, one webhook receiver."""
    secret = generate_secret()
    url = postgres.database()
    hook = (
        '\n[delivery]\nretry_schedule = [0.2, 0.5, 1]\n\n[[webhooks]]\nname = "hub"\n'
        f'url = "{receiver.url}"\nsecret = "{secret}"\nallow_private_network = true\n'
    )
    with nodes(tmp_path, url, 3, extra=hook) as procs:
        yield procs, secret


def builder_pid(proc: DaemonProcess) -> int:
    """The pid of the process that holds the builder role, from `status --json`."""
    done = subprocess.run(
        [*_cli(proc), "status", "--json"],
        env=child_env(SYNDICATOR_DATABASE__URL=proc.env["SYNDICATOR_DATABASE__URL"]),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    builder = json.loads(done.stdout)["builder"]
    return int(builder["id"].rsplit(":", 1)[1])


def _cli(proc: DaemonProcess) -> list[str]:
    return [sys.executable, "-m", "syndicator", "--config", str(proc.site.config)]


def delivered_slugs(receiver: Receiver, secret: str) -> dict[str, set[str]]:
    """slug → webhook-ids of the article.created events received."""
    seen: dict[str, set[str]] = {}
    for request in receiver.requests:
        body = request.verify(secret)
        if body["type"] == "article.created":
            seen.setdefault(body["data"]["slug"], set()).add(request.headers["webhook-id"])
    return seen


def same_feed_everywhere(procs: list[DaemonProcess], path: str) -> bytes | None:
    bodies = set()
    for proc in procs:
        response = proc.get(path)
        if response.status_code != 200:
            return None
        bodies.add((response.content, response.headers["etag"]))
    return next(iter(bodies))[0] if len(bodies) == 1 else None


def newest_feed_everywhere(procs: list[DaemonProcess], path: str, newest: bytes) -> bytes | None:
    """The feed every daemon serves, once it is one and the same and mentions `newest`."""
    body = same_feed_everywhere(procs, path)
    return body if body is not None and newest in body else None


@pytest.mark.timeout(180)
def test_three_daemons_one_database(
    daemons: tuple[list[DaemonProcess], str], receiver: Receiver
) -> None:
    procs, secret = daemons
    site = procs[0].site
    site.write_records("a.jsonl", [record(f"first-{i}") for i in range(20)])
    wait_for(
        lambda: True if len(delivered_slugs(receiver, secret)) == 20 else None,
        30,
        "20 deliveries",
    )
    # Deliveries can finish before the build that follows the poll is served: wait
    # for the feed that holds the new items, then check every daemon serves it.
    body = wait_for(
        lambda: newest_feed_everywhere(procs, "/feeds/all.rss", b"first-19"), 20, "identical feeds"
    )
    assert body.count(b"<item>") == 20
    # Exactly one builder; every delivery sent once in the normal path.
    ids = [i for ids in delivered_slugs(receiver, secret).values() for i in ids]
    assert len(ids) == 20
    assert len(receiver.requests) == 20, "a delivery was sent twice"

    # The builder dies; another takes over and delivers new events within 30 s.
    pid = builder_pid(procs[0])
    victim = next(p for p in procs if p.pid == pid)
    assert victim.proc is not None
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)
    survivors = [p for p in procs if p is not victim]
    site.write_records("b.jsonl", [record(f"second-{i}") for i in range(10)])
    wait_for(
        lambda: True if len(delivered_slugs(receiver, secret)) == 30 else None,
        30,
        "10 more deliveries after the builder died",
    )
    assert builder_pid(survivors[0]) != pid
    body = wait_for(
        lambda: newest_feed_everywhere(survivors, "/feeds/all.rss", b"second-9"),
        20,
        "identical feeds",
    )
    assert body.count(b"<item>") == 30
    for slug, ids in delivered_slugs(receiver, secret).items():
        assert len(ids) == 1, f"{slug} announced with {len(ids)} webhook-ids"


@pytest.mark.timeout(120)
def test_a_standby_asks_the_builder_on_sighup_and_follows_its_builds(
    tmp_path: Path, postgres: Cluster
) -> None:
    """SIGHUP asks the process it is sent to for a poll; a standby cannot poll,
    so it asks the builder, as `syndicator poll` does. The daemons here poll
    only at start and do not watch the folder."""
    source = tmp_path / "articles"
    source.mkdir()
    env = {"SYNDICATOR_DATABASE__URL": postgres.database(), "SYNDICATOR_SOURCE__WATCH": "false"}
    procs = [
        DaemonProcess(make_site(tmp_path / f"node{i}", source=source, interval=3600), env)
        for i in range(2)
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout=30)
        leader = builder_pid(procs[0])
        standby = next(proc for proc in procs if proc.pid != leader)
        procs[0].site.write_records("a.jsonl", [record("hup-standby")])
        standby.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        wait_for(
            lambda: True if b"hup-standby" in standby.get("/feeds/all.rss").content else None,
            20,
            "the entry polled by the builder after SIGHUP to the standby",
        )
        assert "SIGHUP: asked the builder to poll" in standby.stderr()
        # Its own output folder follows the builder's builds (each process may have one).
        wait_for(
            lambda: (
                True
                if b"hup-standby" in (standby.site.output / "feeds" / "all.rss").read_bytes()
                else None
            ),
            10,
            "the standby's static copy",
        )
        # The standby's gauge follows the builder's builds too.
        wait_for(
            lambda: True if standby.metric("syndicator_articles") == 1 else None,
            10,
            "the standby's article count",
        )
    finally:
        for proc in procs:
            proc.kill()
