"""One truth for what is served, validators that mean what they say, start-up order.

A real `syndicator run` with a poll interval far longer than any test, so
whatever it serves that it did not poll itself came from another command's
build through the store.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx

from tests.daemon.conftest import (
    DaemonProcess,
    Site,
    child_env,
    make_site,
    record,
    syndicator_command,
)

Start = Callable[..., DaemonProcess]
#: Longer than any test here: the daemon polls once, at start.
NEVER = 3600


def run_cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        syndicator_command(site, *args),
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status(site: Site) -> dict[str, Any]:
    done = run_cli(site, "status", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def entry_titles(body: bytes) -> list[str]:
    return [entry.title for entry in feedparser.parse(body).entries]


def served_within(
    daemon: DaemonProcess, path: str, check: Callable[[httpx.Response], bool]
) -> float:
    """Seconds until `path` answers as `check` wants (fails after 5 s)."""
    started = time.monotonic()

    def ready() -> bool | None:
        return True if check(daemon.get(path)) else None

    daemon.wait_until(ready, 5.0, f"{path} to be served as expected")
    return time.monotonic() - started


def test_once_beside_the_daemon_is_served_within_a_second(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    # The daemon must not see the new file itself: only `once` does.
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text.replace('kind = "dir"\n', 'kind = "dir"\nwatch = false\n'))
    site.write_records("a.jsonl", [record("alpha", topics=("energy",))])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    assert daemon.get("/feeds/fusion.atom").status_code == 404

    site.write_records(
        "b.jsonl",
        [
            record(
                "beta",
                title="Beta arrives",
                topics=("fusion",),
                updated_at="2026-06-02T10:00:00+00:00",
            )
        ],
    )
    done = run_cli(site, "once")
    assert done.returncode == 0, done.stderr
    fusion = served_within(
        daemon,
        "/feeds/fusion.atom",
        lambda r: r.status_code == 200 and "Beta arrives" in entry_titles(r.content),
    )
    everything = served_within(
        daemon, "/feeds/all.atom", lambda r: "Beta arrives" in entry_titles(r.content)
    )
    listed = served_within(daemon, "/feeds.opml", lambda r: b"fusion" in r.content)
    # Checked every 0.5 s: served well within two seconds of `once` ending.
    assert max(fusion, everything, listed) < 2.0, (fusion, everything, listed)
    # The daemon itself polled once, at start: it served a build it did not make.
    assert daemon.metric("syndicator_polls_total", outcome="ok") == 1
    # What is served is what is on disk.
    assert (
        daemon.get("/feeds/fusion.rss").content == (site.output / "feeds/fusion.rss").read_bytes()
    )


def test_a_back_dated_record_changes_both_validators(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    site.write_records(
        "a.jsonl",
        [
            record("early", title="Early", updated_at="2026-06-01T09:00:00+00:00"),
            record("late", title="Late", updated_at="2026-06-01T12:00:00+00:00"),
        ],
    )
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    first = daemon.get("/feeds/energy.atom")
    assert first.status_code == 200
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "public, max-age=300"
    rss = daemon.get("/feeds/energy.rss")
    assert b"<ttl>5</ttl>" in rss.content

    # Older than the feed's newest entry: the feed-level dates do not move.
    site.write_records(
        "b.jsonl", [record("middle", title="Middle", updated_at="2026-06-01T10:00:00+00:00")]
    )
    assert run_cli(site, "once").returncode == 0
    served_within(daemon, "/feeds/energy.atom", lambda r: "Middle" in entry_titles(r.content))
    second = daemon.get("/feeds/energy.atom")
    assert second.headers["etag"] != etag
    assert second.headers["last-modified"] != last_modified
    assert parsedate_to_datetime(second.headers["last-modified"]) > parsedate_to_datetime(
        last_modified
    )
    # A client (or cache) that only knows the old Last-Modified gets the new entry.
    revalidated = daemon.get("/feeds/energy.atom", headers={"if-modified-since": last_modified})
    assert revalidated.status_code == 200
    assert "Middle" in entry_titles(revalidated.content)
    # And with the new one, a 304, as with the new ETag.
    fresh = daemon.get(
        "/feeds/energy.atom", headers={"if-modified-since": second.headers["last-modified"]}
    )
    assert fresh.status_code == 304
    assert (
        daemon.get(
            "/feeds/energy.atom", headers={"if-none-match": second.headers["etag"]}
        ).status_code
        == 304
    )


def test_unchanged_bytes_keep_last_modified_across_restarts(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    site.write_records("a.jsonl", [record("alpha")])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    paths = ["/feeds/energy.rss", "/feeds/all.json", "/feeds.opml", "/"]
    before = {
        p: (daemon.get(p).headers["etag"], daemon.get(p).headers["last-modified"]) for p in paths
    }
    assert daemon.stop() == 0
    time.sleep(1.1)  # a new whole second: a clock-based date would differ
    again = start_daemon(site)
    again.wait_for_polls(1)
    after = {
        p: (again.get(p).headers["etag"], again.get(p).headers["last-modified"]) for p in paths
    }
    assert after == before


def test_run_on_a_busy_port_changes_nothing(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    site.write_records("a.jsonl", [record("alpha")])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    builder = status(site)["builder"]
    assert builder["id"].endswith(f":{daemon.pid}") and builder["running"]

    # A second deployment (its own database) on the same port.
    other = make_site(tmp_path / "other", interval=NEVER)
    other.config.write_text(
        other.config.read_text(encoding="utf-8").replace(
            f"port = {other.port}", f"port = {site.port}"
        ),
        encoding="utf-8",
    )
    other.write_records("a.jsonl", [record("beta")])
    started = time.monotonic()
    done = run_cli(other, "run")
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 10
    assert f"could not listen on 127.0.0.1:{site.port}" in done.stderr
    assert "serving feeds on" not in done.stderr
    assert not other.database.exists(), "the database was opened"
    assert not other.output.exists(), "something was built"

    # The same deployment started twice: the second never becomes the builder.
    second = run_cli(site, "run")
    assert second.returncode == 1, second.stderr
    assert "serving feeds on" not in second.stderr
    report = status(site)
    assert report["builder"] == builder
    assert [p["id"] for p in report["processes"]] == [builder["id"]]


def test_status_says_a_stopped_daemon_is_not_running(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    daemon = start_daemon(site)
    running = status(site)
    (process,) = running["processes"]
    assert process["id"].endswith(f":{daemon.pid}")
    assert process["role"] == "builder" and process["running"]
    assert daemon.stop() == 0
    stopped = status(site)
    assert stopped["builder"]["id"] == process["id"]
    assert stopped["builder"]["running"] is False
    assert stopped["processes"][0]["running"] is False
    text = run_cli(site, "status").stdout
    assert f"builder:     {process['id']}" in text and "(not running)" in text


def test_status_says_a_killed_daemon_is_not_running(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    daemon = start_daemon(site)
    assert status(site)["builder"]["running"]
    daemon.expect_exit = True
    assert daemon.proc is not None
    daemon.proc.kill()
    daemon.proc.wait(10)
    report = status(site)
    assert report["builder"]["running"] is False
    assert report["processes"][0]["running"] is False
