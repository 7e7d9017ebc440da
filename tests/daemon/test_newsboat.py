"""A real feed reader, Debian's newsboat, subscribes to the daemon and sees a new article."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

import feedparser
import pytest

from tests.daemon.conftest import POLL_INTERVAL, DaemonProcess, Site, record

Start = Callable[..., DaemonProcess]
#: CI installs it with `apt-get install -y newsboat` (see the report of issue 3).
NEWSBOAT = shutil.which("newsboat")


class Newsboat:
    """newsboat run non-interactively with its own url list, config and cache."""

    def __init__(self, home: Path, urls: list[str]) -> None:
        assert NEWSBOAT is not None
        self.executable = NEWSBOAT
        self.home = home
        home.mkdir()
        self.urls = home / "urls"
        self.urls.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
        self.config = home / "config"
        self.config.write_text("download-timeout 10\nreload-threads 1\n", encoding="utf-8")
        self.cache = home / "cache.db"

    def run(self, *commands: str) -> str:
        """Run `newsboat -x COMMANDS`; return its stdout."""
        done = subprocess.run(
            [
                self.executable,
                "-u",
                str(self.urls),
                "-C",
                str(self.config),
                "-c",
                str(self.cache),
                "-x",
                *commands,
            ],
            cwd=self.home,
            # No proxy variables: the daemon is on 127.0.0.1.
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"newsboat failed ({done.returncode}):\n{done.stderr}"
        return done.stdout

    def items(self) -> dict[str, str]:
        """Entry id → title of every item in newsboat's cache."""
        with closing(sqlite3.connect(self.cache)) as db:
            rows = db.execute("SELECT guid, title FROM rss_item").fetchall()
        return {str(guid): str(title) for guid, title in rows}


def test_newsboat_reads_the_feeds_and_sees_a_new_article(
    site: Site, start_daemon: Start, tmp_path: Path
) -> None:
    if NEWSBOAT is None:
        pytest.fail("newsboat is not installed: apt-get install -y newsboat")
    site.write_records("a.jsonl", [record("alpha"), record("beta", topics=("climate",))])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    # One reader per format: newsboat keeps one item per entry id across its feeds.
    rss = Newsboat(tmp_path / "rss", [f"{site.base_url}/feeds/all.rss"])
    atom = Newsboat(tmp_path / "atom", [f"{site.base_url}/feeds/energy.atom"])

    assert rss.run("reload", "print-unread").strip() == "2 unread articles"
    assert atom.run("reload", "print-unread").strip() == "1 unread articles"
    # newsboat keys items by the feed's own entry ids.
    served = feedparser.parse(daemon.get("/feeds/all.rss").content).entries
    assert rss.items() == {e.id: e.title for e in served}
    assert sorted(rss.items().values()) == ["Title of alpha", "Title of beta"]
    assert list(atom.items().values()) == ["Title of alpha"]

    site.write_records(
        "b.jsonl",
        [record("gamma", title="Breaking: gamma", updated_at="2026-06-09T00:00:00+00:00")],
    )

    def seen_by(reader: Newsboat) -> bool | None:
        reader.run("reload")
        return True if "Breaking: gamma" in reader.items().values() else None

    for reader in (rss, atom):
        daemon.wait_until(partial(seen_by, reader), 40 * POLL_INTERVAL, "newsboat to see it")
    assert rss.run("print-unread").strip() == "3 unread articles"
    assert atom.run("print-unread").strip() == "2 unread articles"
