"""`syndicator once` and `status` with an embargoed record (the real command)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicator.core.times import format_time
from tests.deployment import Deployment
from tests.integration.test_cli import syndicator

Make = Callable[..., dict[str, Any]]

#: Far enough ahead that the first `once` finishes before it on a busy machine.
AHEAD = timedelta(seconds=8)


def test_once_holds_a_future_record_and_a_later_once_publishes_it(
    deployment: Deployment, make_record: Make
) -> None:
    now = datetime.now(UTC)
    instant = now + AHEAD
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("plain"),
            make_record("launch", published_at=instant.isoformat(), updated_at=now.isoformat()),
        ],
    )
    config = ("--config", str(deployment.config))
    done = syndicator(*config, "once", cwd=deployment.root)
    assert done.returncode == 0, done.stderr
    assert datetime.now(UTC) < instant, "the first `once` took too long for this test"
    assert b"news.example.org/launch" not in deployment.feed("energy", "atom")
    shown = syndicator(*config, "status", cwd=deployment.root).stdout
    assert "embargoed:   1" in shown
    assert f"launch: goes out at {format_time(instant)} (energy)" in shown

    time.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()) + 0.1)
    done = syndicator(*config, "once", cwd=deployment.root)
    assert done.returncode == 0, done.stderr
    assert b"news.example.org/launch" in deployment.feed("energy", "atom")
    report = json.loads(syndicator(*config, "status", "--json", cwd=deployment.root).stdout)
    assert report["embargoed"] == []
    assert report["last_poll"]["counts"]["created"] == 0  # published by the build, not a poll
