"""`article.deleted` to a real receiver, and `articles remove | show` from the command line."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from syndicator.cli import main
from syndicator.core.article import entry_id
from syndicator.core.signing import generate_secret
from syndicator.models import ALL_TOPIC
from syndicator.wiring import open_store
from tests.delivery.receiver import Receiver
from tests.deployment import Deployment
from tests.integration.test_deletion import at, deleted_entries, entry_ids, tombstone
from tests.integration.test_webhooks import add_webhook, cli

Make = Callable[..., dict[str, Any]]


class Cli:
    """`syndicator` run in this process (`cli.main`), its output captured."""

    def __init__(self, deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
        self.deployment = deployment
        self.capsys = capsys

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.capsys.readouterr()
        code = main(["--config", str(self.deployment.config), *args])
        out, err = self.capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)


def _two_endpoints(deployment: Deployment, receiver: Receiver, secret: str) -> None:
    add_webhook(
        deployment,
        receiver.url_for("/all"),
        secret,
        name="all",
        events=["article.created", "article.updated", "article.deleted"],
    )
    with deployment.config.open("a") as handle:
        # The default events: no article.deleted.
        handle.write(
            f'\n[[webhooks]]\nname = "plain"\nurl = "{receiver.url_for("/plain")}"\n'
            f'secret = "{secret}"\nallow_private_network = true\n'
        )


def test_source_tombstone_reaches_the_receiver_signed(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    _two_endpoints(deployment, receiver, secret)
    deployment.write_jsonl("a.jsonl", [make_record("gone", updated_at=at(-60))])
    assert cli(deployment, "once").returncode == 0
    receiver.wait_for(2)
    deployment.write_jsonl("b.jsonl", [tombstone("gone", -10)])
    done = cli(deployment, "once")
    assert done.returncode == 0, done.stderr
    got = receiver.wait_for(3)
    deleted = [r for r in got if r.path == "/all" and r.verify(secret)["type"] == "article.deleted"]
    assert len(deleted) == 1
    body = deleted[0].verify(secret)  # the standardwebhooks package checks the signature
    assert body["timestamp"] == at(-10)
    assert body["data"]["id"] == entry_id("gone")
    assert body["data"]["deleted_at"] == at(-10)
    assert "title" not in body["data"] and "summary" not in body["data"]
    assert not any(r.path == "/plain" and b"article.deleted" in r.body for r in got)


def test_articles_remove_and_show(
    deployment: Deployment,
    receiver: Receiver,
    make_record: Make,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = Cli(deployment, capsys)
    secret = generate_secret()
    _two_endpoints(deployment, receiver, secret)
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", updated_at=at(-60)), make_record("two", updated_at=at(-60))],
    )
    assert run("once").returncode == 0
    receiver.wait_for(4)
    before = deployment.snapshot()

    # Every slug is checked first: one unknown slug removes nothing.
    done = run("articles", "remove", "one", "nope")
    assert done.returncode == 1
    assert "'nope'" in done.stderr and "nothing removed" in done.stderr
    assert deployment.snapshot() == before
    shown = json.loads(run("articles", "show", "one", "--json").stdout)
    assert shown["state"] == "live"

    done = run("articles", "remove", "one", "--reason", "legal request")
    assert done.returncode == 0, done.stderr
    assert "one: removed" in done.stdout
    for fmt, ids in entry_ids(deployment, "energy").items():
        assert entry_id("one") not in ids and entry_id("two") in ids, fmt
    assert entry_id("one") in deleted_entries(deployment, ALL_TOPIC)
    got = receiver.wait_for(5)
    deleted = [r.verify(secret) for r in got if b"article.deleted" in r.body]
    assert [(b["type"], b["data"]["slug"]) for b in deleted] == [("article.deleted", "one")]

    done = run("articles", "show", "one", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["state"] == "deleted"
    assert shown["deleted_reason"] == "legal request"
    assert shown["title"] is None and shown["topics"] == ["energy"]
    assert shown["feeds"] == {}
    assert set(shown["deleted_from"]) == {ALL_TOPIC, "energy", "lang/en"}  # its language feed too
    assert [e["type"] for e in shown["events"]] == ["article.created", "article.deleted"]
    by_endpoint = {d["endpoint"]: d for d in shown["events"][1]["deliveries"]}
    assert set(by_endpoint) == {"all"}
    assert by_endpoint["all"]["status"] == "delivered" and by_endpoint["all"]["attempts"] == 1
    created = {d["endpoint"] for d in shown["events"][0]["deliveries"]}
    assert created == {"all", "plain"}

    text = run("articles", "show", "one")
    assert text.returncode == 0
    assert "deleted: " in text.stdout and "legal request" in text.stdout
    assert "all: delivered, 1 attempts" in text.stdout

    assert run("articles", "show", "nope").returncode == 1
    # Removing it again announces nothing more.
    first = json.loads(run("articles", "show", "one", "--json").stdout)
    done = run("articles", "remove", "one")
    # ...and changes nothing: it reports the first removal's time.
    assert done.returncode == 0
    assert f"one: already deleted at {first['deleted_at']}" in done.stdout
    shown = json.loads(run("articles", "show", "one", "--json").stdout)
    assert len(shown["events"]) == 2
    assert shown == first

    # A newer source record still restores a command-line takedown (SPEC §3b)...
    deployment.write_jsonl("b.jsonl", [make_record("one", title="Corrected", updated_at=at(30))])
    assert run("once").returncode == 0
    shown = json.loads(run("articles", "show", "one", "--json").stdout)
    assert shown["state"] == "live" and shown["title"] == "Corrected"
    assert [e["type"] for e in shown["events"]][-1] == "article.updated"
    assert entry_id("one") in entry_ids(deployment, "energy")["rss"]
    # ...but the original one, older than the takedown, does not.
    done = run("articles", "remove", "two")
    assert done.returncode == 0
    (deployment.source / "a.jsonl").touch()
    deployment.write_jsonl("a.jsonl", [make_record("two", updated_at=at(-60))])
    assert run("once").returncode == 0
    shown = json.loads(run("articles", "show", "two", "--json").stdout)
    assert shown["state"] == "deleted"


def test_a_deleted_articles_earlier_events_keep_no_content_to_send_again(
    deployment: Deployment,
    receiver: Receiver,
    make_record: Make,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SPEC §3b purges the content: a replay or a retry after the takedown must
    not hand the article's title and summary out again."""
    run = Cli(deployment, capsys)
    secret = generate_secret()
    _two_endpoints(deployment, receiver, secret)
    deployment.write_jsonl("a.jsonl", [make_record("leak", updated_at=at(-60))])
    assert run("once").returncode == 0
    receiver.wait_for(2)
    deployment.write_jsonl("b.jsonl", [tombstone("leak", -10)])
    assert run("once").returncode == 0
    receiver.wait_for(3)
    store = open_store(deployment.settings())
    try:
        stored = json.dumps([e["payload"] for e in store.outbox.events("leak")])
    finally:
        store.close()
    assert "Summary of leak" not in stored and "Title of leak" not in stored

    before = len(receiver.requests)
    done = run("deliveries", "replay", "--endpoint", "all", "--since", "2000-01-01T00:00:00Z")
    assert done.returncode == 0, done.stdout
    again = receiver.wait_for(before + 1)[before:]
    assert [r.verify(secret)["type"] for r in again] == ["article.deleted"]

    listed = json.loads(run("deliveries", "list", "--json").stdout)
    created = [d["id"] for d in listed if d["type"] == "article.created"]
    done = run("deliveries", "retry", *map(str, created))
    assert done.returncode == 1
    assert "not sent again" in done.stdout and "unknown" not in done.stdout
    assert all(b"Summary of leak" not in r.body for r in receiver.requests[before:])
