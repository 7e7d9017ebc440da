"""Webhooks from the running daemon: prompt, and at least once across kill -9 (SPEC §6)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from syndicator.core.signing import generate_secret
from tests.daemon.conftest import DaemonProcess, Site, make_site, record, wait_for
from tests.delivery.receiver import Receiver, Reply

Start = Callable[..., DaemonProcess]


def webhook_site(root: Path, receiver: Receiver, secret: str) -> Site:
    extra = (
        "\n[delivery]\nretry_schedule = [0.3, 0.5, 1, 1, 1]\npause_after_failures = 1000\n\n"
        "[[webhooks]]\n"
        f'name = "hook"\nurl = "{receiver.url}"\nsecret = "{secret}"\n'
        "allow_private_network = true\n"
    )
    return make_site(root, extra=extra)


def created(receiver: Receiver, secret: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for request in receiver.requests:
        body = request.verify(secret)
        if body["type"] == "article.created":
            seen.setdefault(body["data"]["slug"], set()).add(request.headers["webhook-id"])
    return seen


def test_events_are_delivered_right_after_the_poll(
    tmp_path: Path, receiver: Receiver, start_daemon: Start
) -> None:
    secret = generate_secret()
    site = webhook_site(tmp_path / "site", receiver, secret)
    start_daemon(site)
    written = time.monotonic()
    site.write_records("a.jsonl", [record("fresh")])
    wait_for(lambda: receiver.requests or None, 10, "the delivery")
    elapsed = receiver.requests[0].received_at - written
    # One poll interval (0.5 s) to notice the file, then the worker is woken at once.
    assert elapsed < 1.5, f"delivered {elapsed:.2f} s after the record was written"
    assert created(receiver, secret) == {"fresh": {receiver.requests[0].headers["webhook-id"]}}


def test_kill_9_with_deliveries_pending_loses_nothing(
    tmp_path: Path, receiver: Receiver, start_daemon: Start
) -> None:
    secret = generate_secret()
    site = webhook_site(tmp_path / "site", receiver, secret)
    receiver.default = Reply(503)  # the receiver is down: everything stays queued
    first = start_daemon(site)
    site.write_records("a.jsonl", [record(f"a{i}") for i in range(30)])
    wait_for(lambda: True if len(receiver.requests) >= 30 else None, 15, "first attempts")
    assert first.proc is not None
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    first.expect_exit = True
    before = created(receiver, secret)
    receiver.clear()
    receiver.default = Reply(200)
    start_daemon(site)
    wait_for(
        lambda: True if len(created(receiver, secret)) == 30 else None,
        20,
        "every article delivered after the restart",
    )
    after = created(receiver, secret)
    for slug, ids in after.items():
        assert len(ids) == 1, f"{slug} announced with different webhook-ids"
        assert ids == before[slug], f"{slug} re-sent with a new webhook-id"
