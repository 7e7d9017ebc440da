"""Webhooks end to end: pipeline → outbox → real receiver on 127.0.0.1 (SPEC §6)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver, Reply
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]


def add_webhook(deployment: Deployment, url: str, secret: str, **extra: Any) -> None:
    lines = [
        "[[webhooks]]",
        'name = "{}"'.format(extra.pop("name", "hook")),
        f'url = "{url}"',
        f'secret = "{secret}"',
        "allow_private_network = true",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    with deployment.config.open("a") as handle:
        handle.write("\n[delivery]\nretry_schedule = [0.2, 0.2, 0.2]\nonce_wait_seconds = 10\n")
        handle.write("pause_after_failures = 3\n\n" + "\n".join(lines) + "\n")


def cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(deployment.config), *args],
        cwd=deployment.root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def deliveries(deployment: Deployment) -> list[dict[str, Any]]:
    done = cli(deployment, "deliveries", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_once_delivers_signed_events(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_webhook(deployment, receiver.url_for("/in"), secret)
    deployment.write_jsonl("a.jsonl", [make_record("one", topics=["energy"]), make_record("two")])
    done = cli(deployment, "once")
    assert done.returncode == 0, done.stderr
    got = receiver.wait_for(2)
    bodies = [r.verify(secret) for r in got]
    assert sorted(b["data"]["slug"] for b in bodies) == ["one", "two"]
    assert {b["type"] for b in bodies} == {"article.created"}
    first = bodies[0]
    assert first["data"]["feeds"]["energy"]["rss"] == "http://127.0.0.1:8080/feeds/energy.rss"
    assert len({r.headers["webhook-id"] for r in got}) == 2
    rows = deliveries(deployment)
    assert {r["status"] for r in rows} == {"delivered"}
    # SPEC §8's fields, and more (every field of the delivery).
    assert set(rows[0]) >= {
        "id", "webhook_id", "endpoint", "type", "slug", "status", "attempts",
        "last_status_code", "next_attempt_at",
    }  # fmt: skip
    # An update is announced too; an unchanged poll sends nothing.
    deployment.write_jsonl(
        "b.jsonl", [make_record("one", title="Edited", updated_at="2026-06-02T00:00:00Z")]
    )
    assert cli(deployment, "once").returncode == 0
    update = receiver.wait_for(3)[-1].verify(secret)
    assert update["type"] == "article.updated" and update["data"]["title"] == "Edited"
    assert cli(deployment, "once").returncode == 0
    assert len(receiver.requests) == 3


def test_filters(deployment: Deployment, receiver: Receiver, make_record: Make) -> None:
    secret = generate_secret()
    add_webhook(
        deployment, receiver.url_for("/space"), secret, topics=["space"], events=["article.updated"]
    )
    deployment.write_jsonl(
        "a.jsonl", [make_record("s", topics=["space"]), make_record("e", topics=["energy"])]
    )
    assert cli(deployment, "once").returncode == 0
    assert receiver.requests == []
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record("s", title="S2", topics=["space"], updated_at="2026-06-03T00:00:00Z"),
            make_record("e", title="E2", topics=["energy"], updated_at="2026-06-03T00:00:00Z"),
        ],
    )
    assert cli(deployment, "once").returncode == 0
    got = receiver.wait_for(1)
    assert [r.verify(secret)["data"]["slug"] for r in got] == ["s"]


def test_retry_keeps_the_webhook_id(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_webhook(deployment, receiver.url, secret)
    receiver.respond_with(Reply(500), Reply(503, headers={"Retry-After": "0"}), Reply(200))
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    assert cli(deployment, "once").returncode == 0
    got = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    for request in got:
        request.verify(secret)
    row = deliveries(deployment)[0]
    assert row["status"] == "delivered" and row["attempts"] == 3


def one_gone_delivery(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> dict[str, Any]:
    """One new article announced to an endpoint that answers `410`: its delivery."""
    add_webhook(deployment, receiver.url, generate_secret())
    receiver.respond_with(Reply(410))
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    assert cli(deployment, "once").returncode == 0
    return deliveries(deployment)[0]


def test_gone_is_dead_at_once_then_retry_and_replay_resend(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    row = one_gone_delivery(deployment, receiver, make_record)
    assert len(receiver.wait_for(1)) == 1
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("dead", 1, 410)
    dead = cli(deployment, "deliveries", "list", "--status", "dead", "--json")
    assert [r["id"] for r in json.loads(dead.stdout)] == [row["id"]]
    again = cli(deployment, "deliveries", "retry", str(row["id"]))
    assert again.returncode == 0, again.stdout + again.stderr
    replay = cli(
        deployment, "deliveries", "replay", "--endpoint", "hook", "--since", "2000-01-01T00:00:00Z"
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    got = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert cli(deployment, "deliveries", "retry", "999999").returncode == 1


def test_loopback_refused_without_permission(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_webhook(deployment, receiver.url, secret)
    text = deployment.config.read_text().replace("allow_private_network = true", "")
    deployment.config.write_text(text)
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    assert cli(deployment, "once").returncode == 0
    assert receiver.requests == []
    row = deliveries(deployment)[0]
    assert row["status"] == "dead"
    listing = cli(deployment, "deliveries", "list")
    assert "dead" in listing.stdout


def test_pause_after_sustained_failure_and_resume(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_webhook(deployment, receiver.url, secret)
    receiver.default = Reply(500)
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    assert cli(deployment, "once").returncode == 0
    report = json.loads(cli(deployment, "status", "--json").stdout)
    assert report["endpoints"] == [{"name": "hook", "state": "paused", "consecutive_failures": 3}]
    assert report["deliveries"]["failed"] + report["deliveries"]["dead"] == 1
    receiver.default = Reply(200)
    resumed = cli(deployment, "webhooks", "resume", "hook")
    assert resumed.returncode == 0 and "resumed" in resumed.stdout


def test_webhooks_test_command(deployment: Deployment, receiver: Receiver) -> None:
    secret = generate_secret()
    add_webhook(deployment, receiver.url, secret, topics=["nothing-matches"])
    done = cli(deployment, "webhooks", "test", "hook")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "delivered" in done.stdout
    body = receiver.wait_for(1)[0].verify(secret)
    assert body["type"] == "webhook.test"
    unknown = cli(deployment, "webhooks", "test", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    receiver.respond_with(Reply(404))
    assert cli(deployment, "webhooks", "test", "hook").returncode == 1


def test_secrets_never_printed(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_webhook(deployment, "http://127.0.0.1:9/closed", secret)
    deployment.write_jsonl("a.jsonl", [make_record("one")])
    outputs = [
        cli(deployment, "once"),
        cli(deployment, "status", "--json"),
        cli(deployment, "check-config"),
    ]
    outputs.append(cli(deployment, "deliveries", "list", "--json"))
    for done in outputs:
        assert secret not in done.stdout and secret not in done.stderr
        assert secret.removeprefix("whsec_") not in done.stdout + done.stderr
    _ = Path  # keep import for type hints in helpers


def test_once_delivers_when_its_build_fails(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    """The events are committed with the poll: a build that cannot write the
    feeds (the output folder is a file) fails alone, in one line."""
    secret = generate_secret()
    add_webhook(deployment, receiver.url_for("/in"), secret)
    blocked = deployment.root / "not-a-folder"
    blocked.write_text("x", encoding="utf-8")
    deployment.config.write_text(
        deployment.config.read_text().replace(str(deployment.output), blocked.as_posix()),
        encoding="utf-8",
    )
    deployment.write_jsonl("a.jsonl", [make_record("one"), make_record("two")])
    done = cli(deployment, "once")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "syndicator: build failed: " in done.stderr
    assert "build failed; 2 deliveries attempted" in done.stdout
    assert sorted(r.verify(secret)["data"]["slug"] for r in receiver.wait_for(2)) == ["one", "two"]


def test_retry_of_a_delivery_whose_endpoint_left_the_config_says_so(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    row = one_gone_delivery(deployment, receiver, make_record)
    assert row["status"] == "dead"
    text = deployment.config.read_text()
    deployment.config.write_text(text[: text.index("[[webhooks]]")])
    again = cli(deployment, "deliveries", "retry", str(row["id"]))
    assert again.returncode == 1
    assert f"not sent again: {row['id']} (endpoint no longer configured: hook;" in again.stdout
    # Left as it was, not queued for a send that can never happen.
    assert deliveries(deployment)[0]["status"] == "dead"
    assert len(receiver.requests) == 1
