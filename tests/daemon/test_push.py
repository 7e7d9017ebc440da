"""Every "poll now" reaches the running daemon: file changes, SIGHUP,
`syndicator poll` and signed source pings (the scheduled poll is a minute away)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from syndicator.core.signing import generate_secret
from tests.daemon.conftest import (
    DaemonProcess,
    Site,
    child_env,
    make_site,
    record,
    syndicator_command,
    webhook_config,
)
from tests.delivery.receiver import Receiver
from tests.sources.conftest import Api, api  # noqa: F401  (the source API fixture)

Start = Callable[..., DaemonProcess]

#: Far longer than any wait below: only a push can make these tests pass.
SLOW_INTERVAL = 60
PING_ENV = "SOURCE_PING_SECRET"


def in_feed(daemon: DaemonProcess, slug: str) -> bool | None:
    """True once the served `all` feed holds the article (its URL ends with the slug)."""
    return True if f"news.example.org/{slug}" in daemon.get("/feeds/all.atom").text else None


def http_site(root: Path, api: Api, *, ping: bool = False) -> Site:  # noqa: F811
    site = make_site(root, interval=SLOW_INTERVAL)
    text = site.config.read_text(encoding="utf-8")
    source = f'kind = "http"\nurl = "{api.url}"\n'
    if ping:
        source += f'ping_secret_env = "{PING_ENV}"\n'
    text = text.replace(f'kind = "dir"\npath = "{site.source}"\n', source)
    site.config.write_text(text, encoding="utf-8")
    return site


def first_poll_done(daemon: DaemonProcess) -> None:
    daemon.wait_for_polls(1)


def test_a_file_written_into_the_folder_reaches_feed_and_webhook(
    tmp_path: Path, receiver: Receiver, start_daemon: Start
) -> None:
    secret = generate_secret()
    extra = webhook_config(receiver.url, secret)
    site = make_site(tmp_path / "site", interval=SLOW_INTERVAL, extra=extra)
    daemon = start_daemon(site)
    first_poll_done(daemon)
    site.write_records("a.jsonl", [record("watched")])
    daemon.wait_until(lambda: in_feed(daemon, "watched"), 10, "the entry in /feeds/all.atom")
    [delivery] = receiver.wait_for(1, timeout=10)
    assert delivery.verify(secret)["data"]["slug"] == "watched"


def test_sighup_polls_now(tmp_path: Path, api: Api, start_daemon: Start) -> None:  # noqa: F811
    site = http_site(tmp_path / "site", api)
    daemon = start_daemon(site)
    first_poll_done(daemon)
    api.records.append(record("hup"))
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_until(lambda: in_feed(daemon, "hup"), 10, "the entry after SIGHUP")


def test_syndicator_poll_asks_the_running_daemon(
    tmp_path: Path,
    api: Api,  # noqa: F811
    start_daemon: Start,
) -> None:
    site = http_site(tmp_path / "site", api)
    daemon = start_daemon(site)
    first_poll_done(daemon)
    api.records.append(record("asked"))
    done = subprocess.run(
        syndicator_command(site, "poll"),
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout
    # It returns once the poll's build is served: readers see the entry now.
    assert in_feed(daemon, "asked")


def test_syndicator_poll_without_a_daemon_says_so(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    done = subprocess.run(
        [*syndicator_command(site, "poll"), "--wait", "0.5"],
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no daemon polled" in done.stderr


def signed(secret: str, body: bytes, *, msg_id: str = "msg_ping1") -> dict[str, str]:
    """Standard Webhooks headers for a ping, signed by the `standardwebhooks` package."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        "content-type": "application/json",
    }


def test_a_signed_source_ping_polls_now_and_a_bad_one_does_not(
    tmp_path: Path,
    api: Api,  # noqa: F811
    start_daemon: Start,
) -> None:
    secret = generate_secret()
    site = http_site(tmp_path / "site", api, ping=True)
    daemon = start_daemon(site, env={PING_ENV: secret})
    first_poll_done(daemon)
    polls = daemon.metric("syndicator_polls_total", outcome="ok")
    api.records.append(record("pinged"))

    body = json.dumps({"type": "articles.changed"}).encode()
    forged = signed(generate_secret(), body, msg_id="msg_forged")
    refused = daemon.request("POST", "/hooks/source", content=body, headers=forged)
    assert refused.status_code == 401
    time.sleep(1.0)  # a poll would have started well within this
    assert daemon.metric("syndicator_polls_total", outcome="ok") == polls
    assert in_feed(daemon, "pinged") is None

    accepted = daemon.request("POST", "/hooks/source", content=body, headers=signed(secret, body))
    assert accepted.status_code == 202, accepted.text
    daemon.wait_until(lambda: in_feed(daemon, "pinged"), 10, "the entry after the ping")


def test_the_ping_route_is_absent_unless_configured(site: Site, start_daemon: Start) -> None:
    daemon = start_daemon(site)
    response = daemon.request("POST", "/hooks/source", content=b"{}")
    assert response.status_code == 404
