"""`syndicator run` prunes at start-up: old finished deliveries go, open ones stay."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from syndicator.core.retry import AttemptOutcome
from syndicator.store import Outcome, Store
from tests.daemon.conftest import DaemonProcess, child_env, make_site, syndicator_command
from tests.delivery.rows import add_deliveries

Start = Callable[..., DaemonProcess]
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_the_daemon_prunes_at_start_up_and_status_shows_it(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", extra="\n[retention]\ndays = 1.5\n")
    store = Store(f"sqlite:///{site.database}")
    store.migrate()
    # "gone" is no configured endpoint: its pending deliveries are never sent, and
    # retention must keep them however old they are.
    ids = add_deliveries(store.outbox, ["gone"], 5, at=LONG_AGO)
    store.outbox.record(
        [
            Outcome(i, "gone", LONG_AGO, AttemptOutcome.DELIVERED, 200, None, "", 0.01, None)
            for i in ids[:3]
        ],
        pause_after=1000,
        now=LONG_AGO,
    )
    store.close()

    daemon = start_daemon(site)
    daemon.wait_until(
        lambda: True if "retention: pruned 3 deliveries" in daemon.stderr() else None,
        20,
        "the start-up retention pass",
    )
    done = subprocess.run(
        syndicator_command(site, "status", "--json"),
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(done.stdout)
    assert report["deliveries"] == {"pending": 2, "delivered": 0, "failed": 0, "dead": 0}
    assert report["events"] == 2
    database = report["database"]
    assert database["backend"] == "sqlite"
    assert database["size_bytes"] >= site.database.stat().st_size > 0
    assert database["oldest_delivery"] == "2020-01-01T00:00:00Z"
    assert database["retention_days"] == 1.5
    assert daemon.stop() == 0
