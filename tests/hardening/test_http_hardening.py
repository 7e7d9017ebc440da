"""The HTTP edge of the real daemon against hostile clients, and secrets kept out of logs.

One daemon serves the whole module (start-up costs a second). Raw sockets are
used wherever an HTTP client library would refuse to send the hostile bytes.
Every socket has a timeout, so no test can hang.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver, Reply
from tests.hardening.harness import Daemon, Site, daemons, make_site, wait_for, webhook_config

SOCKET_TIMEOUT = 5.0
FEEDS = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds.opml", "/"]
_TRACE_MARKERS = ("Traceback", 'File "', '.py"', "line ", "Exception", "Error:")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    site = make_site(tmp_path_factory.mktemp("http") / "site")
    site.write_records(
        "a.jsonl",
        [
            {
                "slug": f"s{i}",
                "title": f"Title {i}",
                "url": f"https://news.example.org/{i}",
                "published_at": "2026-01-01T00:00:00Z",
                "updated_at": f"2026-01-01T00:00:{i:02d}Z",
                "topics": ["energy"],
            }
            for i in range(5)
        ],
    )
    with daemons() as start:
        daemon = start(site)
        daemon.wait_until(
            lambda: True if daemon.client.get("/feeds/all.atom").status_code == 200 else None,
            20,
            "the first build",
        )
        yield daemon


def raw_exchange(port: int, payload: bytes, *, read_for: float = SOCKET_TIMEOUT) -> bytes:
    """Send raw bytes, then read until the server closes or `read_for` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            return b""  # the server already hung up on us: that is a refusal
        sock.settimeout(0.5)
        received = b""
        deadline = time.monotonic() + read_for
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if received:
                    break  # a complete answer and a kept-alive connection
                continue
            except OSError:
                break  # reset by the server
            if not chunk:
                break
            received += chunk
        return received


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "headers",
    [
        [b"X-Big: " + b"a" * (16 * 1024)],
        [b"X-H%d: " % i + b"b" * 1000 for i in range(20)],
        [b"Cookie: " + b"c" * (64 * 1024)],
    ],
    ids=["one-16k-header", "twenty-1k-headers", "one-64k-header"],
)
def test_oversized_request_headers_are_refused(served: Daemon, headers: list[bytes]) -> None:
    payload = b"GET /feeds/all.rss HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"\r\n".join(headers)
    started = time.monotonic()
    answer = raw_exchange(served.site.port, payload + b"\r\n\r\n")
    assert time.monotonic() - started < SOCKET_TIMEOUT + 1, "the server held the connection"
    status = status_of(answer)
    assert status in (None, 400, 413, 431), answer[:200]
    assert served.client.get("/healthz").status_code == 200


def test_oversized_request_line_is_refused(served: Daemon) -> None:
    answer = raw_exchange(served.site.port, b"GET /" + b"x" * 20_000 + b" HTTP/1.1\r\n\r\n")
    assert status_of(answer) in (None, 400, 413, 414, 431), answer[:200]


@pytest.mark.parametrize("path", FEEDS)
def test_nosniff_on_every_document(served: Daemon, path: str) -> None:
    for method in ("GET", "HEAD"):
        response = served.client.request(method, path)
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "charset=utf-8" in response.headers["content-type"]


@pytest.mark.parametrize("path", ["/nope", "/feeds/nope.rss", "/healthz", "/metrics"])
def test_nosniff_on_other_answers(served: Daemon, path: str) -> None:
    assert served.client.get(path).headers["x-content-type-options"] == "nosniff"


def test_slow_clients_do_not_block_others(served: Daemon) -> None:
    """Slowloris: connections trickling their headers a byte a second starve no one."""
    slow: list[socket.socket] = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", served.site.port), timeout=SOCKET_TIMEOUT)
            sock.sendall(b"GET /feeds/all.rss HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        latencies = []
        for _ in range(4):
            for sock in slow:
                sock.sendall(b"a")  # one more byte of a header that never ends
            started = time.monotonic()
            response = served.client.get("/feeds/all.atom")
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(1.0)
        assert max(latencies) < 1.0, latencies
    finally:
        for sock in slow:
            sock.close()
    assert served.client.get("/healthz").status_code == 200


def test_many_idle_connections_do_not_block_others(served: Daemon) -> None:
    idle = [
        socket.create_connection(("127.0.0.1", served.site.port), timeout=SOCKET_TIMEOUT)
        for _ in range(100)
    ]
    try:
        started = time.monotonic()
        assert served.client.get("/feeds/all.json").status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in idle:
            sock.close()


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%zz%00%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/\xff\xfe.rss HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: \x00\x01\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /feeds/all.rss HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + b'"' * 5000 + b"\r\n\r\n",
    b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: \xff\xff 99999\r\n\r\n",
    b"GET /feeds/all.rss HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=nan, *;q=1e999\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://evil.example/feeds/all.rss HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
]


@pytest.mark.parametrize("payload", MALFORMED, ids=[f"malformed{i}" for i in range(len(MALFORMED))])
def test_malformed_requests_get_no_stack_trace(served: Daemon, payload: bytes) -> None:
    answer = raw_exchange(served.site.port, payload, read_for=3.0)
    status = status_of(answer)
    assert status is None or status < 500 or status == 505, answer[:300]
    text = answer.decode("latin-1")
    for marker in _TRACE_MARKERS:
        assert marker not in text, f"{marker!r} in the answer to {payload[:60]!r}:\n{text[:500]}"
    assert b"/etc/passwd" not in payload or b"root:" not in answer
    assert served.client.get("/healthz").status_code == 200


def test_daemon_log_has_no_traceback_after_hostile_clients(served: Daemon) -> None:
    # Runs after the tests above in file order; hostile input is not a crash.
    log = served.log()
    assert "Traceback" not in log, log[-3000:]


# -- secrets -------------------------------------------------------------------------


def _secret_forms(secret: str) -> list[str]:
    """The secret as written, its base64 body, and the raw key in hex and base64url."""
    body = secret.removeprefix("whsec_")
    key = base64.b64decode(body)
    return [secret, body, key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("=")]


def _assert_nowhere(texts: dict[str, str], secret: str) -> None:
    for where, text in texts.items():
        for form in _secret_forms(secret):
            assert form not in text, f"the webhook secret ({form[:10]}…) appears in {where}"


@pytest.mark.timeout(120)
def test_secrets_never_in_logs_status_or_listings(tmp_path: Path) -> None:
    secret, env_secret, old_secret = generate_secret(), generate_secret(), generate_secret()
    # The receiver echoes every request header back in its body: a hostile
    # receiver must not get the secret into our stored responses either.
    with Receiver(default=Reply(status=500, body=b"nope")) as receiver:
        site: Site = make_site(
            tmp_path / "site",
            extra='\n[log]\nlevel = "DEBUG"\n'
            + webhook_config(
                "failing",
                receiver.url_for("/fail"),
                secret,
                previous_secrets=[old_secret],
            )
            + webhook_config("refused", f"http://127.0.0.1:{_closed_port()}/x", secret)
            + '\n[[webhooks]]\nname = "fromenv"\n'
            + f'url = "{receiver.url_for("/env")}"\nsecret_env = "HOOK_SECRET"\n',
        )
        site.write_records(
            "a.jsonl",
            [
                {
                    "slug": "s1",
                    "title": "One",
                    "url": "https://news.example.org/1",
                    "published_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:00Z",
                }
            ],
        )
        env = {"HOOK_SECRET": env_secret}
        with daemons() as start:
            daemon = start(site, env=env)

            def attempts() -> bool | None:
                rows = site.query("SELECT count(*) FROM attempts")
                return True if rows[0][0] >= 6 else None  # retries happened on all three

            wait_for(attempts, 30, "failed attempts", lambda: daemon.log()[-3000:])
            outputs: dict[str, str] = {"daemon log": daemon.log()}
            assert daemon.terminate() == 0
            outputs["daemon log after stop"] = daemon.log()
        for args in (
            ("status", "--json"),
            ("status",),
            ("deliveries", "list", "--json"),
            ("deliveries", "list"),
            ("check-config",),
            ("webhooks", "test", "failing"),
            ("webhooks", "test", "fromenv"),
            ("once",),
        ):
            done = site.cli(*args, env=env)
            outputs[" ".join(args)] = done.stdout + done.stderr
        assert "s1" in outputs["deliveries list --json"]  # the listing did show something
        assert "failing" in outputs["status --json"]
        # What the receiver got back from us is fine to hold signatures, not secrets.
        outputs["stored responses"] = json.dumps(site.query("SELECT * FROM attempts"))
        # The database (and its WAL) may leak too: it must not hold the secrets.
        for path in site.database.parent.glob(site.database.name + "*"):
            outputs[path.name] = path.read_bytes().decode("latin-1")
    for secret_value in (secret, env_secret, old_secret):
        _assert_nowhere(outputs, secret_value)


@pytest.mark.parametrize(
    "bad_secret",
    ["whsec_not*base64!", "nothing-like-a-secret-1234567890", "whsec_"],
    ids=["not-base64", "no-prefix", "empty"],
)
def test_config_errors_do_not_echo_the_secret(tmp_path: Path, bad_secret: str) -> None:
    site = make_site(
        tmp_path / "site", extra=webhook_config("hook", "https://hooks.example.org/", bad_secret)
    )
    # `check-config` only checks the prefix (see docs/security.md, known limits);
    # `once` and `run` decode the secret and refuse it. None of them prints it.
    for args in (("check-config",), ("once",), ("run",)):
        done = site.cli(*args)
        printed = done.stdout + done.stderr
        if args != ("check-config",) or not bad_secret.startswith("whsec_"):
            assert done.returncode == 2, (args, printed)
            assert "webhooks" in printed  # the message names the key
        if len(bad_secret) > len("whsec_"):
            assert bad_secret not in printed
            assert bad_secret.removeprefix("whsec_") not in printed


def _closed_port() -> int:
    """A port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
