"""The console on the real daemon over HTTP: off without a token (a plain 404, and
`check-config` says why), on with one: the redirect to `/console/`, the login, and
requests refused without the session cookie or the CSRF token."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.daemon.conftest import (
    DaemonProcess,
    child_env,
    make_site,
    record,
    syndicator_command,
)

Start = Callable[..., DaemonProcess]
TOKEN = "the-console-token-of-this-test-0123"
CONSOLE = '\n[console]\ntoken_env = "CONSOLE_TOKEN"\n'


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_console_is_off_while_its_variable_is_unset(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", extra=CONSOLE)
    checked = subprocess.run(
        syndicator_command(site, "check-config"),
        cwd=site.root,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0
    assert (
        "warning: console.token_env: environment variable CONSOLE_TOKEN is unset or empty; "
        "the console at /console/ is off"
    ) in checked.stderr
    daemon = start_daemon(site, env={"CONSOLE_TOKEN": "  "})  # blank counts as unset
    for path in ("/console/", "/console", "/console/login", "/console/console.css"):
        assert daemon.get(path).status_code == 404, path
    assert daemon.request("POST", "/console/login", data={"token": ""}).status_code == 404


def test_the_console_on_the_daemon_refuses_requests_without_cookie_or_csrf(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", extra=CONSOLE)
    site.write_records("a.jsonl", [record("one"), record("two", topics=("cities",))])
    daemon = start_daemon(site, env={"CONSOLE_TOKEN": TOKEN})
    daemon.wait_for_builds()
    client = daemon.client
    moved = client.get("/console")
    assert moved.status_code == 308 and moved.headers["location"] == "/console/"
    assert client.get("/console/").headers["location"] == "/console/login"
    # No cookie: a POST is refused before anything is read.
    assert client.post("/console/deliveries/retry", data={"id": "1"}).status_code == 401
    login = client.get("/console/login")
    answer = client.post("/console/login", data={"token": TOKEN, "csrf": csrf_of(login.text)})
    assert answer.status_code == 303
    feeds = client.get("/console/feeds")
    assert feeds.status_code == 200
    assert "No traffic recorded yet" in feeds.text
    assert re.search(r"<th rowspan=\"3\" scope=\"rowgroup\">cities</th>", feeds.text)
    assert re.search(r"\d+(\.\d)? kB", feeds.text)  # the built files' sizes
    # Reader analytics reach the feeds view once the recorder has flushed (5 s).
    feedly = {"user-agent": "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; )"}
    assert daemon.get("/feeds/cities.rss", headers=feedly).status_code == 200
    deadline = time.monotonic() + 20
    while "No traffic recorded yet" in feeds.text and time.monotonic() < deadline:
        time.sleep(0.5)
        feeds = client.get("/console/feeds")
    assert 'title="feedly: 42 ">42</td>' in feeds.text
    # A session but no CSRF token: refused.
    assert client.post("/console/logout", data={}).status_code == 403
    assert client.get("/console/").status_code == 200  # still logged in
    assert TOKEN not in daemon.stderr()
