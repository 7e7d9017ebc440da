"""``POST /hooks/source``: signed pings, signed by the reference ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from starlette.types import ASGIApp

from syndicator.core.signing import decode_secret
from syndicator.triggers import PollTrigger
from syndicator.web import DocumentSet, create_app
from syndicator.web.ping import (
    FAILURES_ALLOWED,
    MAX_BODY_BYTES,
    PING_PATH,
    PingRoute,
    make_ping_route,
)
from tests.web.conftest import serve

SECRET = "whsec_" + base64.b64encode(b"source-ping-key-0123456789abcdef").decode()
OTHER = "whsec_" + base64.b64encode(b"some-other-key-0123456789abcdef!").decode()
BODY = b'{"changed": ["ai-chips"]}'


class Client:
    """A synchronous in-process client of one ASGI app (httpx's ASGITransport)."""

    def __init__(self, app: ASGIApp, address: tuple[str, int] = ("203.0.113.5", 5000)) -> None:
        self.app = app
        self.address = address

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=self.address)
            async with httpx.AsyncClient(transport=transport, base_url="http://ping.test") as http:
                return await http.request(method, path, **kwargs)

        return asyncio.run(send())

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


class Counter:
    """A trigger that counts its calls."""

    def __init__(self, answer: object = True) -> None:
        self.calls = 0
        self.answer = answer

    def __call__(self) -> object:
        self.calls += 1
        return self.answer


def healthy() -> tuple[bool, dict[str, object]]:
    return True, {"status": "ok"}


def app_with(route: ASGIApp | None) -> ASGIApp:
    """The real application, with the ping route mounted when given."""
    extra = {PING_PATH: route} if route is not None else None
    return create_app(DocumentSet(), health=healthy, extra_routes=extra)


def signed(
    body: bytes = BODY,
    *,
    secret: str = SECRET,
    msg_id: str = "msg_ping_1",
    at: float | None = None,
) -> dict[str, str]:
    """Headers of a ping as a source using the reference library sends it."""
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        "content-type": "application/json",
    }


@pytest.fixture
def trigger() -> Counter:
    return Counter()


@pytest.fixture
def client(trigger: Counter) -> Client:
    return Client(app_with(make_ping_route(decode_secret(SECRET), trigger)))


def test_a_signed_ping_triggers_a_poll(client: Client, trigger: Counter) -> None:
    response = client.post(PING_PATH, content=BODY, headers=signed())
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == "accepted"
    assert trigger.calls == 1


def test_an_empty_body_is_a_valid_ping(client: Client, trigger: Counter) -> None:
    response = client.post(PING_PATH, content=b"", headers=signed(b""))
    assert response.status_code == 202
    assert trigger.calls == 1


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (lambda: signed(), BODY + b" ", "no signature matches"),
        (lambda: signed(secret=OTHER), BODY, "no signature matches"),
        (lambda: signed(at=time.time() - 360), BODY, "too old"),
        (lambda: signed(at=time.time() + 360), BODY, "too far in the future"),
        (lambda: {**signed(), "webhook-id": "msg_other"}, BODY, "no signature matches"),
        (lambda: {"content-type": "application/json"}, BODY, "missing"),
        (lambda: {**signed(), "webhook-signature": "v1,bm90IGl0"}, BODY, "no signature matches"),
    ],
    ids=["tampered", "wrong-secret", "stale", "future", "other-id", "unsigned", "garbage"],
)
def test_a_bad_signature_is_401_and_triggers_nothing(
    client: Client,
    trigger: Counter,
    headers: Callable[[], dict[str, str]],
    body: bytes,
    reason: str,
) -> None:
    response = client.post(PING_PATH, content=body, headers=headers())
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert SECRET not in response.text
    assert trigger.calls == 0


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_other_methods_are_405(client: Client, trigger: Counter, method: str) -> None:
    response = client.request(method, PING_PATH, headers=signed())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert trigger.calls == 0


def test_a_large_body_is_413(client: Client, trigger: Counter) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = client.post(PING_PATH, content=big, headers=signed(big))
    assert response.status_code == 413
    assert trigger.calls == 0


def test_a_large_streamed_body_is_413(client: Client, trigger: Counter) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    response = client.post(PING_PATH, content=chunks(), headers=signed())
    assert response.status_code == 413
    assert trigger.calls == 0


def test_the_route_is_absent_unless_configured() -> None:
    response = Client(app_with(None)).post(PING_PATH, content=BODY, headers=signed())
    assert response.status_code == 404


def test_a_repeated_ping_id_triggers_once(client: Client, trigger: Counter) -> None:
    headers = signed()
    assert client.post(PING_PATH, content=BODY, headers=headers).status_code == 202
    again = client.post(PING_PATH, content=BODY, headers=headers)
    assert again.status_code == 202
    assert again.json()["status"] == "duplicate"
    assert trigger.calls == 1
    assert client.post(PING_PATH, content=BODY, headers=signed(msg_id="msg_2")).status_code == 202
    assert trigger.calls == 2


def test_any_of_several_secrets_verifies(trigger: Counter) -> None:
    route = make_ping_route([decode_secret(OTHER), decode_secret(SECRET)], trigger)
    client = Client(app_with(route))
    assert client.post(PING_PATH, content=BODY, headers=signed()).status_code == 202
    assert (
        client.post(PING_PATH, content=BODY, headers=signed(secret=OTHER, msg_id="m2")).status_code
        == 202
    )
    assert trigger.calls == 2


def test_repeated_failures_from_one_address_are_429_without_verifying(trigger: Counter) -> None:
    now = [1_900_000_000.0]
    route = PingRoute([decode_secret(SECRET)], trigger, clock=lambda: now[0])
    client = Client(app_with(route))
    for _ in range(FAILURES_ALLOWED):
        bad = signed(secret=OTHER, at=now[0])
        assert client.post(PING_PATH, content=BODY, headers=bad).status_code == 401
    good = signed(at=now[0], msg_id="msg_good")
    blocked = client.post(PING_PATH, content=BODY, headers=good)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert trigger.calls == 0
    # Another address is not affected.
    other = Client(app_with(route), ("192.0.2.7", 4000))
    assert other.post(PING_PATH, content=BODY, headers=good).status_code == 202
    assert trigger.calls == 1
    # Once the minute has passed, the first address may ping again.
    now[0] += 61
    later = signed(at=now[0], msg_id="msg_later")
    assert client.post(PING_PATH, content=BODY, headers=later).status_code == 202
    assert trigger.calls == 2


def test_failures_older_than_the_window_are_forgotten(trigger: Counter) -> None:
    now = [1_900_000_000.0]
    route = PingRoute([decode_secret(SECRET)], trigger, clock=lambda: now[0])
    client = Client(app_with(route))
    for _ in range(FAILURES_ALLOWED * 3):
        bad = signed(secret=OTHER, at=now[0])
        assert client.post(PING_PATH, content=BODY, headers=bad).status_code == 401
        now[0] += 7  # under 10 failures in any minute


def test_a_refusing_trigger_is_503() -> None:
    route = make_ping_route(decode_secret(SECRET), Counter(answer=False))
    response = Client(app_with(route)).post(PING_PATH, content=BODY, headers=signed())
    assert response.status_code == 503
    assert "retry-after" in response.headers


def test_a_failing_trigger_is_503(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("scheduler gone")

    route = make_ping_route(decode_secret(SECRET), broken)
    response = Client(app_with(route)).post(PING_PATH, content=BODY, headers=signed())
    assert response.status_code == 503
    assert "poll trigger failed" in caplog.text


def test_a_route_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_ping_route([], Counter())
    with pytest.raises(ValueError, match="secret"):
        make_ping_route(b"", Counter())


def test_a_ping_over_a_real_server_runs_a_poll() -> None:
    polled = threading.Event()
    trigger = PollTrigger(polled.set)
    route = make_ping_route(decode_secret(SECRET), trigger.request)
    try:
        with serve(extra_routes={PING_PATH: route}) as served:
            url = served.base_url + PING_PATH
            response = httpx.post(url, content=BODY, headers=signed(), timeout=10)
            assert response.status_code == 202
            assert polled.wait(10)
            bad = httpx.post(url, content=BODY, headers=signed(secret=OTHER), timeout=10)
            assert bad.status_code == 401
    finally:
        trigger.stop()
    assert trigger.polls == 1
