"""The operator's commands: `deliveries list`, `check-config` warnings, `webhooks test`
refusals, and a `--version` that loads nothing heavy (the real CLI, SQLite, 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from syndicator.core.retry import DEFAULT_JITTER
from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver, Reply
from tests.deployment import Deployment
from tests.integration.test_webhooks import cli

Make = Callable[..., dict[str, Any]]
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
FIELDS = {
    "id", "webhook_id", "event_id", "endpoint", "type", "slug", "status", "attempts",
    "last_status_code", "last_error", "created_at", "last_attempt_at", "next_attempt_at",
    "delivered_at",
}  # fmt: skip


def add_endpoints(deployment: Deployment, delivery: str, *hooks: dict[str, Any]) -> None:
    """Append `[delivery]` lines and one `[[webhooks]]` table per hook (secret added)."""
    text = f"\n[delivery]\n{delivery}\n"
    for hook in hooks:
        text += "\n[[webhooks]]\n" + "".join(
            f"{key} = {json.dumps(value)}\n"
            for key, value in {"secret": generate_secret(), **hook}.items()
        )
    with deployment.config.open("a") as handle:
        handle.write(text)


def utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text).astimezone(UTC)


@SQLITE
def test_deliveries_list_shows_times_and_the_last_error(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    receiver.respond_with(Reply(410), path="/gone")
    add_endpoints(
        deployment,
        "allow_private_network = true\nretry_schedule = [3600]\nonce_wait_seconds = 5",
        {"name": "good", "url": receiver.url_for("/ok")},
        {"name": "gone", "url": receiver.url_for("/gone")},
        {"name": "closed", "url": "http://127.0.0.1:9/in"},  # the discard port: refused
    )
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    before = datetime.now(UTC).replace(microsecond=0)
    assert cli(deployment, "once").returncode == 0
    listed = cli(deployment, "deliveries", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["endpoint"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {"good", "gone", "closed"}
    for row in rows.values():
        assert set(row) == FIELDS
        assert before <= utc(row["created_at"]) <= utc(row["last_attempt_at"])
    good, gone, closed = rows["good"], rows["gone"], rows["closed"]
    assert (good["status"], good["next_attempt_at"], good["last_error"]) == (
        "delivered",
        None,
        None,
    )
    assert utc(good["delivered_at"]) == utc(good["last_attempt_at"])
    assert (gone["status"], gone["last_status_code"], gone["next_attempt_at"]) == (
        "dead",
        410,
        None,
    )
    # Refused connection: no status code, an error text, and a retry an hour on, give or
    # take the schedule's ±20 % jitter.
    assert (closed["status"], closed["last_status_code"]) == ("failed", None)
    assert closed["last_error"]
    delay = (utc(closed["next_attempt_at"]) - utc(closed["last_attempt_at"])).total_seconds()
    assert 3600 * (1 - DEFAULT_JITTER) - 1 <= delay <= 3600 * (1 + DEFAULT_JITTER) + 1

    table = cli(deployment, "deliveries", "list").stdout.splitlines()
    assert table[0].split() == [
        "ID", "STATUS", "ATT", "ENDPOINT", "TYPE", "SLUG", "CREATED", "LAST", "ATTEMPT",
        "NEXT", "ATTEMPT", "LAST", "ERROR",
    ]  # fmt: skip
    by_endpoint = {line.split()[3]: line for line in table[1:]}
    assert by_endpoint["gone"].endswith("HTTP 410")
    assert by_endpoint["good"].split()[-2:] == ["-", "-"]  # no next attempt, no error
    closed_line = by_endpoint["closed"]
    assert closed_line.count(closed["created_at"][:19]) >= 1
    assert closed["next_attempt_at"][:19] in closed_line
    assert closed_line.split()[-1] != "-"


@SQLITE
def test_deliveries_list_filters_by_endpoint_and_time(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    add_endpoints(
        deployment,
        "allow_private_network = true",
        {"name": "crm", "url": receiver.url_for("/crm")},
        {"name": "search", "url": receiver.url_for("/search")},
    )
    deployment.write_jsonl("a.jsonl", [make_record("one"), make_record("two")])
    assert cli(deployment, "once").returncode == 0

    def ids(*args: str) -> list[tuple[str, str]]:
        done = cli(deployment, "deliveries", "list", "--json", *args)
        assert done.returncode == 0, done.stderr
        return [(r["endpoint"], r["slug"]) for r in json.loads(done.stdout)]

    assert len(ids()) == 4
    assert {e for e, _ in ids("--endpoint", "crm")} == {"crm"}
    assert len(ids("--endpoint", "crm", "--status", "delivered")) == 2
    assert len(ids("--since", "2h")) == 4
    assert len(ids("--since", "30m", "--endpoint", "search")) == 2
    assert ids("--since", "2999-01-01T00:00:00Z") == []
    assert len(ids("--since", "2000-01-01 00:00:00+00:00")) == 4

    unknown = cli(deployment, "deliveries", "list", "--endpoint", "crn")
    assert unknown.returncode == 2
    assert "'crn'" in unknown.stderr and "known: crm, search" in unknown.stderr
    far = cli(deployment, "deliveries", "list", "--since", "9999999w")
    assert far.returncode == 2 and "too far back" in far.stderr
    bad = cli(deployment, "deliveries", "list", "--since", "yesterday")
    assert bad.returncode == 2
    assert "--since" in bad.stderr and "'yesterday'" in bad.stderr and "7d" in bad.stderr


@SQLITE
def test_check_config_requires_the_source_folder(deployment: Deployment) -> None:
    deployment.source.rmdir()
    done = cli(deployment, "check-config")
    assert done.returncode == 2
    assert f"source.path: the folder {deployment.source} does not exist" in done.stderr
    deployment.source.write_text("not a folder")
    done = cli(deployment, "check-config")
    assert done.returncode == 2 and "is not a folder" in done.stderr


@SQLITE
def test_check_config_warns_of_private_webhook_destinations(deployment: Deployment) -> None:
    add_endpoints(
        deployment,
        "allow_private_network = false",
        {"name": "loop", "url": "http://127.0.0.1:9/in"},
        {"name": "named", "url": "http://localhost:9/in"},
        {"name": "lan", "url": "https://10.1.2.3/in"},
        {"name": "link", "url": "http://[fe80::1]/in"},
        {"name": "allowed", "url": "http://192.168.1.5/in", "allow_private_network": True},
        {"name": "public", "url": "http://93.184.216.34/in"},
    )
    done = cli(deployment, "check-config")
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout
    warnings = done.stderr.splitlines()
    assert all(line.startswith("warning: ") for line in warnings)
    named = {line.split()[1].removesuffix(":"): line for line in warnings}
    assert sorted(named) == [
        "webhooks.lan.url", "webhooks.link.url", "webhooks.loop.url", "webhooks.named.url",
    ]  # fmt: skip
    assert "127.0.0.1 is loopback" in named["webhooks.loop.url"]
    assert "localhost resolves to" in named["webhooks.named.url"]
    assert "is private" in named["webhooks.lan.url"]
    assert "fe80::1 is link-local" in named["webhooks.link.url"]
    for line in warnings:
        assert "allow_private_network = true" in line

    # Allowed for every endpoint in [delivery]: no warning at all.
    deployment.config.write_text(
        deployment.config.read_text().replace(
            "allow_private_network = false", "allow_private_network = true"
        )
    )
    quiet = cli(deployment, "check-config")
    assert quiet.returncode == 0 and quiet.stderr == ""


@SQLITE
def test_webhooks_test_names_the_setting_that_allows_a_private_address(
    deployment: Deployment, receiver: Receiver
) -> None:
    add_endpoints(deployment, "timeout_seconds = 5", {"name": "crm", "url": receiver.url})
    done = cli(deployment, "webhooks", "test", "crm")
    assert done.returncode == 1
    assert "webhooks.crm.url: 127.0.0.1 is loopback" in done.stdout
    assert "unless allow_private_network = true (on endpoint 'crm' or in [delivery])" in (
        done.stdout
    )
    assert receiver.requests == []


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_nothing_heavy(flag: str) -> None:
    script = (
        "import sys\n"
        "from syndicator.cli import main\n"
        "try:\n"
        f"    main([{flag!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('sqlalchemy', 'httpx', 'feedgen', 'pydantic', 'apscheduler', 'uvicorn')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "[]"
    assert lines[0].startswith("syndicator " if flag == "--version" else "usage: syndicator")
