"""What the daemon's metrics count beyond its own builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.daemon.conftest import DaemonProcess, make_site, record

Start = Callable[..., DaemonProcess]
NEVER = 3600  # the daemon polls at start only


def test_feeds_rendered_on_demand_are_counted(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    site.write_records("a.jsonl", [record("one", entities=["Arm"])])
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    before = daemon.metric("syndicator_feeds_rendered_total")
    assert daemon.get("/feeds/entities/arm.atom").status_code == 200
    assert daemon.get("/feeds/lang/en.json").status_code == 200
    assert daemon.get("/feeds/entities/arm.atom").status_code == 200  # cached: no render
    assert daemon.metric("syndicator_feeds_rendered_total") == before + 2
