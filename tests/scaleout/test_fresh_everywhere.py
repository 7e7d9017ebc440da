"""A build made beside running PostgreSQL daemons (`syndicator once`) reaches every one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from tests.daemon.conftest import DaemonProcess, Site, child_env, nodes, record, wait_for
from tests.postgres import Cluster

#: Longer than the test: each daemon's builder polls once, at start.
NEVER = 3600


@pytest.fixture
def pair(tmp_path: Path, postgres: Cluster) -> Iterator[tuple[list[DaemonProcess], str]]:
    """Two daemons sharing one database and source folder, each with its own output folder."""
    url = postgres.database()
    with nodes(tmp_path, url, 2, interval=NEVER) as procs:
        yield procs, url


def run_once(site: Site, url: str) -> None:
    """`syndicator once` for `site` against the shared database at `url`."""
    done = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(site.config), "once"],
        env=child_env(SYNDICATOR_DATABASE__URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_once_is_served_by_every_process(pair: tuple[list[DaemonProcess], str]) -> None:
    procs, url = pair
    first = procs[0].site
    first.write_records("a.jsonl", [record("alpha", topics=("energy",))])
    # Neither daemon polls again: the new records arrive through `once` alone.
    run_once(first, url)

    def served_everywhere() -> set[tuple[bytes, str, str]] | None:
        seen = set()
        for proc in procs:
            response = proc.get("/feeds/energy.atom")
            if response.status_code != 200:
                return None
            seen.add(
                (response.content, response.headers["etag"], response.headers["last-modified"])
            )
        return seen if len(seen) == 1 else None

    ((body, _etag, _modified),) = wait_for(
        served_everywhere, 5.0, "every process to serve once's build"
    )
    assert [entry.title for entry in feedparser.parse(body).entries] == ["Title of alpha"]


def test_facet_feeds_are_the_same_everywhere(pair: tuple[list[DaemonProcess], str]) -> None:
    procs, url = pair
    first = procs[0].site

    def once() -> None:
        run_once(first, url)

    first.write_records("a.jsonl", [record("alpha", entities=["Fusion Co"], lang="de")])
    once()

    def same_everywhere(path: str, needle: bytes) -> set[bytes] | None:
        # Each test node has a base URL of its own (its port); a deployment
        # shares one config, so the bytes are compared with it taken out.
        seen = set()
        for proc in procs:
            response = proc.get(path)
            if response.status_code != 200 or needle not in response.content:
                return None
            seen.add(response.content.replace(proc.site.base_url.encode(), b"BASE"))
        return seen if len(seen) == 1 else None

    wait_for(lambda: same_everywhere("/feeds/entities/fusion-co.atom", b"alpha"), 5.0, "alpha")
    wait_for(lambda: same_everywhere("/feeds/lang/de.json", b"alpha"), 5.0, "the German feed")
    # An edit elsewhere reaches both processes' cached copies.
    first.write_records(
        "b.jsonl",
        [record("beta", entities=["FUSION CO"], updated_at="2026-06-02T10:00:00+00:00")],
    )
    once()
    (body,) = wait_for(
        lambda: same_everywhere("/feeds/entities/fusion-co.atom", b"beta"), 5.0, "beta everywhere"
    )
    assert [e.title for e in feedparser.parse(body).entries] == ["Title of beta", "Title of alpha"]
