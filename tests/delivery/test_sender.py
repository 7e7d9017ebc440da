"""The HTTP sender against a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import pytest

from syndicator.core.retry import AttemptOutcome
from syndicator.core.signing import decode_secret, generate_secret, new_message_id
from syndicator.delivery.sender import AttemptResult, EndpointTarget, Sender
from tests.delivery.receiver import Receiver, Reply

T = TypeVar("T")
BODY = json.dumps(
    {"type": "article.created", "timestamp": "2026-06-30T12:31:01Z", "data": {"slug": "a-b"}}
).encode()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def target(url: str, secret: str, **overrides: Any) -> EndpointTarget:
    settings: dict[str, Any] = {"allow_private_network": True, "timeout_seconds": 5.0}
    settings.update(overrides)
    return EndpointTarget(name="test", url=url, secrets=(decode_secret(secret),), **settings)


def send_once(
    endpoint: EndpointTarget, *, msg_id: str = "msg_1", **sender_args: Any
) -> AttemptResult:
    async def go() -> AttemptResult:
        async with Sender(**sender_args) as sender:
            return await sender.send(endpoint, msg_id, BODY, timestamp=int(time.time()))

    return run(go())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_2xx_is_delivered_and_verifies(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=202, body=b'{"ok": true}'))
    result = send_once(target(receiver.url_for("/hook"), secret), msg_id="msg_abc")

    assert result.outcome is AttemptOutcome.DELIVERED
    assert result.status_code == 202
    assert result.response_excerpt == '{"ok": true}'
    assert result.error is None
    assert result.retry_after is None
    assert 0 < result.duration_seconds < 5
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook", BODY)
    assert request.verify(secret) == json.loads(BODY)
    assert request.headers["webhook-id"] == "msg_abc"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Syndicator/")
    assert request.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, AttemptOutcome.RETRY),
        (503, AttemptOutcome.RETRY),
        (408, AttemptOutcome.RETRY),
        (410, AttemptOutcome.PERMANENT),
        (400, AttemptOutcome.PERMANENT),
    ],
)
def test_status_outcomes(receiver: Receiver, secret: str, status: int, outcome: str) -> None:
    receiver.respond_with(Reply(status=status, body=b"nope"))
    result = send_once(target(receiver.url_for(), secret))
    assert (result.outcome, result.status_code, result.response_excerpt) == (
        outcome,
        status,
        "nope",
    )
    assert result.error is None
    [request] = receiver.requests
    request.verify(secret)


def test_429_retry_after_seconds(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=429, headers={"Retry-After": "120"}))
    result = send_once(target(receiver.url_for(), secret))
    assert (result.outcome, result.status_code, result.retry_after) == (
        AttemptOutcome.RETRY,
        429,
        120.0,
    )


def test_503_retry_after_http_date(receiver: Receiver, secret: str) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    receiver.respond_with(Reply(status=503, headers={"Retry-After": when}))
    result = send_once(target(receiver.url_for(), secret))
    assert result.outcome is AttemptOutcome.RETRY
    assert result.retry_after is not None and 590 <= result.retry_after <= 600


def test_redirect_is_not_followed(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(
        Reply(status=301, headers={"Location": receiver.url_for("/elsewhere")}), path="/hook"
    )
    result = send_once(target(receiver.url_for("/hook"), secret))
    assert (result.outcome, result.status_code) == (AttemptOutcome.PERMANENT, 301)
    time.sleep(0.1)  # give a (wrongly) followed redirect the chance to arrive
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_slow_answer_times_out_quickly(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(delay=30))
    started = time.monotonic()
    result = send_once(target(receiver.url_for(), secret, timeout_seconds=0.5))
    assert time.monotonic() - started < 3
    assert result.outcome is AttemptOutcome.RETRY
    assert result.status_code is None
    assert result.error is not None and "timeout after 0.5 s" in result.error
    assert 0.4 < result.duration_seconds < 2


@pytest.mark.parametrize(
    ("status", "outcome"), [(200, AttemptOutcome.DELIVERED), (503, AttemptOutcome.RETRY)]
)
def test_slow_drip_body_is_cut_by_the_overall_timeout(
    receiver: Receiver, secret: str, status: int, outcome: str
) -> None:
    # A byte every 0.1 s never trips the read timeout; only the overall bound stops it.
    receiver.respond_with(Reply(status=status, body=b"z" * 200, drip_interval=0.1))
    started = time.monotonic()
    result = send_once(target(receiver.url_for(), secret, timeout_seconds=0.6))
    assert time.monotonic() - started < 3
    # The answer decides; the body error is only noted.
    assert (result.outcome, result.status_code) == (outcome, status)
    assert result.error == "reading response body: timeout after 0.6 s"
    assert 0 < len(result.response_excerpt) < 200
    assert set(result.response_excerpt) == {"z"}


def test_connection_refused_is_retried() -> None:
    secret = generate_secret()
    result = send_once(target(f"http://127.0.0.1:{closed_port()}/hook", secret))
    assert result.outcome is AttemptOutcome.RETRY
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("connect error:")
    assert "refused" in result.error.lower()


def test_huge_response_body_is_bounded(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=200, body_size=50 * 1024 * 1024))
    started = time.monotonic()
    result = send_once(target(receiver.url_for(), secret), max_response_bytes=4096)
    assert time.monotonic() - started < 2
    assert result.outcome is AttemptOutcome.DELIVERED
    assert result.response_excerpt == "x" * 4096


def test_excerpt_decodes_invalid_utf8_leniently(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=500, body=b"bad \xff\xfe bytes"))
    result = send_once(target(receiver.url_for(), secret))
    assert result.response_excerpt == "bad \ufffd\ufffd bytes"


def test_loopback_refused_without_allow_private_network(receiver: Receiver, secret: str) -> None:
    endpoint = target(receiver.url_for(), secret, allow_private_network=False)
    result = send_once(endpoint)
    assert result.outcome is AttemptOutcome.PERMANENT
    assert result.error == "destination forbidden: 127.0.0.1 is loopback"
    assert result.status_code is None
    time.sleep(0.05)
    assert receiver.requests == []


def test_dns_rebinding_through_the_sender(receiver: Receiver, secret: str) -> None:
    # A public-looking name that resolves to loopback when the connection is made.
    async def rebinding(host: str, port: int) -> list[str]:
        assert host == "hooks.example.com"
        return ["127.0.0.1"]

    url = f"http://hooks.example.com:{receiver.port}/hook"
    refused = send_once(target(url, secret, allow_private_network=False), resolver=rebinding)
    assert refused.outcome is AttemptOutcome.PERMANENT
    assert refused.error == (
        "destination forbidden: hooks.example.com resolves to 127.0.0.1, which is loopback"
    )
    assert receiver.requests == []

    allowed = send_once(target(url, secret, allow_private_network=True), resolver=rebinding)
    assert allowed.outcome is AttemptOutcome.DELIVERED
    [request] = receiver.requests
    # Connected to the checked IP, but the request still names the host.
    assert request.headers["host"] == f"hooks.example.com:{receiver.port}"
    request.verify(secret)


def test_non_http_url_is_permanent() -> None:
    result = send_once(target("ftp://127.0.0.1/hook", generate_secret()))
    assert result.outcome is AttemptOutcome.PERMANENT
    assert result.error == "destination forbidden: 127.0.0.1: only http and https URLs are allowed"


def test_secret_rotation_both_secrets_verify(receiver: Receiver) -> None:
    old, new = generate_secret(), generate_secret()
    endpoint = EndpointTarget(
        name="rotating",
        url=receiver.url_for(),
        secrets=(decode_secret(new), decode_secret(old)),
        allow_private_network=True,
    )
    assert send_once(endpoint).outcome is AttemptOutcome.DELIVERED
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verify(new)
    request.verify(old)


def test_same_msg_id_on_every_retry(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=500), Reply(status=503), Reply(status=200))
    endpoint = target(receiver.url_for(), secret)
    msg_id = new_message_id()

    async def go() -> list[AttemptResult]:
        async with Sender() as sender:
            results = []
            for offset in range(3):
                stamp = int(time.time()) + offset  # a fresh timestamp per attempt
                results.append(await sender.send(endpoint, msg_id, BODY, timestamp=stamp))
            return results

    outcomes = [r.outcome for r in run(go())]
    assert outcomes == [AttemptOutcome.RETRY, AttemptOutcome.RETRY, AttemptOutcome.DELIVERED]
    requests = receiver.requests
    assert [r.headers["webhook-id"] for r in requests] == [msg_id] * 3
    assert len({r.headers["webhook-timestamp"] for r in requests}) == 3
    for request in requests:
        request.verify(secret)


def test_keep_alive_connection_is_reused(receiver: Receiver, secret: str) -> None:
    endpoint = target(receiver.url_for(), secret, concurrency=1)

    async def go() -> None:
        async with Sender() as sender:
            for _ in range(5):
                await sender.send(endpoint, new_message_id(), BODY, timestamp=int(time.time()))

    run(go())
    assert len({r.client_port for r in receiver.requests}) == 1


def concurrent_sends(
    endpoints: list[EndpointTarget], count: int, sender_factory: Callable[[], Sender]
) -> list[AttemptResult]:
    async def go() -> list[AttemptResult]:
        async with sender_factory() as sender:
            return await asyncio.gather(
                *(
                    sender.send(
                        endpoints[i % len(endpoints)],
                        new_message_id(),
                        BODY,
                        timestamp=int(time.time()),
                    )
                    for i in range(count)
                )
            )

    return run(go())


def test_per_endpoint_concurrency_limit(receiver: Receiver, secret: str) -> None:
    receiver.default = Reply(delay=0.15)
    endpoint = target(receiver.url_for(), secret, concurrency=2)
    results = concurrent_sends([endpoint], 8, Sender)
    assert all(r.outcome is AttemptOutcome.DELIVERED for r in results)
    assert receiver.max_in_flight == 2
    for request in receiver.requests:
        request.verify(secret)


def test_global_concurrency_limit(receiver: Receiver, secret: str) -> None:
    receiver.default = Reply(delay=0.15)
    endpoints = [
        EndpointTarget(
            name=f"ep{i}",
            url=receiver.url_for(f"/ep{i}"),
            secrets=(decode_secret(secret),),
            allow_private_network=True,
            concurrency=4,
        )
        for i in range(2)
    ]
    results = concurrent_sends(endpoints, 10, lambda: Sender(max_concurrency=3))
    assert all(r.outcome is AttemptOutcome.DELIVERED for r in results)
    assert receiver.max_in_flight == 3
    assert {r.path for r in receiver.requests} == {"/ep0", "/ep1"}


def test_reconfigured_endpoint_gets_a_new_pool(receiver: Receiver, secret: str) -> None:
    first = target(receiver.url_for("/a"), secret)
    second = target(receiver.url_for("/b"), secret, concurrency=1)

    async def go() -> list[AttemptResult]:
        async with Sender() as sender:
            one = await sender.send(first, "msg_1", BODY, timestamp=int(time.time()))
            two = await sender.send(second, "msg_1", BODY, timestamp=int(time.time()))
            return [one, two]

    assert [r.outcome for r in run(go())] == [AttemptOutcome.DELIVERED] * 2
    assert [r.path for r in receiver.requests] == ["/a", "/b"]
    # The first pool was closed once idle, so the second request used a new connection.
    assert receiver.requests[0].client_port != receiver.requests[1].client_port


def test_secrets_never_leak_into_results_or_reprs(receiver: Receiver, secret: str) -> None:
    receiver.respond_with(Reply(status=500))
    endpoint = target(receiver.url_for(), secret)
    result = send_once(endpoint)
    key = decode_secret(secret)
    for text in (repr(endpoint), repr(result), result.error or ""):
        assert secret not in text
        assert secret.removeprefix("whsec_") not in text
        assert repr(key) not in text


def test_closed_sender_refuses_to_send(secret: str) -> None:
    async def go() -> None:
        sender = Sender()
        await sender.aclose()
        await sender.send(target("http://127.0.0.1:9/", secret), "msg_1", BODY, timestamp=1)

    with pytest.raises(RuntimeError, match="closed"):
        run(go())


@pytest.mark.parametrize(
    "overrides",
    [{"secrets": ()}, {"secrets": (b"",)}, {"timeout_seconds": 0}, {"concurrency": 0}],
)
def test_endpoint_target_validates(overrides: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"name": "x", "url": "http://example.com/", "secrets": (b"k",)}
    settings.update(overrides)
    with pytest.raises(ValueError):
        EndpointTarget(**settings)
