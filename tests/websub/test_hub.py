"""The hub endpoint in process (httpx's ASGI transport): what it refuses, what it grants.

Callback checks run with ``allow_private_network = false`` and a stub resolver, so
no test reaches beyond 127.0.0.1; verification runs against the real subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from syndicator.store.store import Store
from syndicator.web.documents import DocumentSet
from syndicator.websub.service import WebSub
from tests.websub.conftest import BASE, feed_doc, make_settings, make_websub, serve
from tests.websub.subscriber import Subscriber

T = TypeVar("T")
TOPIC = f"{BASE}/feeds/energy.atom"


def run(make: Callable[[WebSub], Awaitable[T]], websub: WebSub) -> T:
    """Run ``make(websub)`` on a fresh loop with the service started, then close it."""

    async def main() -> T:
        await websub.start()
        try:
            return await make(websub)
        finally:
            await websub.aclose()

    return asyncio.run(main())


async def post(websub: WebSub, form: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    """One request to the hub endpoint, in process."""
    transport = httpx.ASGITransport(app=websub.hub)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        if form is not None:
            kwargs["data"] = form
        return await client.request(kwargs.pop("method", "POST"), "/websub", **kwargs)


def stub_resolver(table: dict[str, Sequence[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver answering from ``table`` (IP literals resolve to themselves)."""

    async def resolve(host: str, _port: int) -> list[str]:
        if host in table:
            return list(table[host])
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        raise OSError("name unknown")

    return resolve


@pytest.fixture
def guarded(tmp_path: Path, store: Store) -> WebSub:
    """A hub that refuses private destinations, serving energy and ai feeds."""
    settings = make_settings(tmp_path, allow_private_network=False)
    documents = DocumentSet()
    serve(documents, feed_doc("energy", "atom"), feed_doc("energy", "rss"), feed_doc("ai", "atom"))
    resolver = stub_resolver(
        {
            "localhost": ["127.0.0.1", "::1"],
            "rebind.example": ["10.1.2.3"],
            "public.example": ["93.184.216.34"],
            "mixed.example": ["127.0.0.1", "93.184.216.34"],
        }
    )
    return make_websub(settings, store, documents, resolver)


@pytest.fixture
def open_hub(tmp_path: Path, store: Store) -> WebSub:
    """A hub that may call back to 127.0.0.1 (for verification against the test subscriber)."""
    documents = DocumentSet()
    serve(documents, feed_doc("energy", "atom"))
    return make_websub(make_settings(tmp_path, allow_private_network=True), store, documents)


def form(callback: str, **extra: str) -> dict[str, str]:
    """A subscribe form for TOPIC; keyword arguments (``hub_x`` → ``hub.x``) override."""
    data = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": callback}
    data.update({key.replace("_", ".", 1): value for key, value in extra.items()})
    return data


@pytest.mark.parametrize(
    ("callback", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:9/cb", "loopback"),
        ("http://[::1]/cb", "loopback"),
        ("http://[::ffff:127.0.0.1]/cb", "embedded in IPv6"),
        ("http://10.0.0.1/cb", "private"),
        ("http://0.0.0.0/cb", "unspecified"),
        ("http://localhost/cb", "resolves to 127.0.0.1"),
        ("http://rebind.example/cb", "resolves to 10.1.2.3"),
        ("http://nowhere.example/cb", "cannot resolve"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://public.example/", "only http and https"),
        ("not a url", "only http and https"),
        ("http://public.example/" + "x" * 3000, "longer than"),
    ],
)
def test_hostile_callbacks_are_refused(guarded: WebSub, callback: str, reason: str) -> None:
    response = run(lambda ws: post(ws, form(callback)), guarded)
    assert response.status_code == 400
    assert response.text.startswith("hub.callback:") and reason in response.text
    assert guarded.subscriptions.pending() == []


def test_public_callbacks_pass_the_check(guarded: WebSub) -> None:
    hosts = ("public.example", "mixed.example", "93.184.216.34")

    async def checks(ws: WebSub) -> list[str]:
        return [(await ws.hub.check(_body(form(f"https://{h}/cb")))).callback for h in hosts]

    assert run(checks, guarded) == [f"https://{h}/cb" for h in hosts]


def _body(data: dict[str, str]) -> bytes:
    return str(httpx.QueryParams(data)).encode()


@pytest.mark.parametrize(
    "topic",
    [
        "https://example.com/feeds/energy.atom",
        f"{BASE}/feeds/unknown.atom",
        f"{BASE}/feeds/energy.json",  # the shape is right, but it is not served
        f"{BASE}/feeds/energy.atom?x=1",
        f"{BASE}/feeds/energy.atom#frag",
        f"{BASE}/feeds/../feeds/energy.atom",
        f"{BASE}/feeds.opml",
        f"{BASE}//feeds/energy.atom",
        "",
    ],
)
def test_topics_that_are_not_ours_are_refused(guarded: WebSub, topic: str) -> None:
    response = run(lambda ws: post(ws, form("https://public.example/cb", hub_topic=topic)), guarded)
    assert response.status_code == 400
    assert response.text.startswith("hub.topic:")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"hub.mode": "publish"}, "hub.mode"),
        ({"hub.mode": ""}, "hub.mode"),
        ({"hub.callback": ""}, "hub.callback: required"),
        ({"hub.lease_seconds": "abc"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "-5"}, "hub.lease_seconds"),
        ({"hub.secret": "s" * 200}, "less than 200 bytes"),
        ({"hub.secret": "é" * 100}, "less than 200 bytes"),
    ],
)
def test_invalid_requests_name_the_parameter(
    guarded: WebSub, fields: dict[str, str], reason: str
) -> None:
    data = {**form("https://public.example/cb"), **fields}
    response = run(lambda ws: post(ws, data), guarded)
    assert response.status_code == 400 and reason in response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_transport_level_refusals(guarded: WebSub) -> None:
    async def requests(ws: WebSub) -> list[httpx.Response]:
        good = form("https://public.example/cb")
        return [
            await post(ws, method="GET"),
            await post(ws, json=good),
            await post(ws, content=b"hub.mode=" + b"x" * 9000, headers=_FORM_HEADERS),
            await post(
                ws, content=b"hub.mode=subscribe&hub.mode=unsubscribe", headers=_FORM_HEADERS
            ),
            await post(ws, content=b"\xff\xfe", headers=_FORM_HEADERS),
        ]

    get, as_json, huge, twice, binary = run(requests, guarded)
    assert (get.status_code, get.headers["allow"]) == (405, "POST")
    assert as_json.status_code == 415
    assert huge.status_code == 413
    assert twice.status_code == 400 and "more than once" in twice.text
    assert binary.status_code == 400


_FORM_HEADERS = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_lease_defaults_and_ceiling(guarded: WebSub) -> None:
    async def leases(ws: WebSub) -> list[int | None]:
        granted = []
        for lease in (None, "", "50", "0", "5000"):
            extra = {} if lease is None else {"hub_lease_seconds": lease}
            request = await ws.hub.check(_body(form("https://public.example/", **extra)))
            granted.append(request.lease_seconds)
        return granted

    assert run(leases, guarded) == [100, 100, 50, 1, 1000]


def test_secret_limit_and_unsubscribe_fields(guarded: WebSub) -> None:
    async def checks(ws: WebSub) -> tuple[Any, Any]:
        ok = await ws.hub.check(_body(form("https://public.example/", hub_secret="s" * 199)))
        unsub = await ws.hub.check(
            _body(form("https://public.example/", hub_mode="unsubscribe", hub_secret="x"))
        )
        return ok, unsub

    ok, unsub = run(checks, guarded)
    assert ok.secret == "s" * 199
    assert (unsub.mode, unsub.lease_seconds, unsub.secret) == ("unsubscribe", None, None)


def test_verified_subscription_is_stored(open_hub: WebSub) -> None:
    with Subscriber() as subscriber:

        async def flow(ws: WebSub) -> httpx.Response:
            response = await post(ws, form(subscriber.url("/ok"), hub_lease_seconds="30"))
            await ws.verifier.join()
            return response

        response = run(flow, open_hub)
        assert response.status_code == 202
        [check] = subscriber.verifications_of("/ok")
    assert check.params["hub.lease_seconds"] == "30"
    [sub] = open_hub.subscriptions.all()
    assert (sub.topic, sub.callback, sub.lease_seconds, sub.state) == (
        TOPIC,
        subscriber.url("/ok"),
        30,
        "active",
    )
    assert (sub.expires_at - sub.verified_at).total_seconds() == 30
    assert open_hub.subscriptions.pending() == []
    assert open_hub.metrics.verifications.labels("verified")._value.get() == 1


def test_failed_renewal_keeps_the_running_subscription(open_hub: WebSub) -> None:
    with Subscriber() as subscriber:
        callback = subscriber.url("/renew")

        async def flow(ws: WebSub) -> None:
            await post(ws, form(callback, hub_secret="one"))
            await ws.verifier.join()
            subscriber.refuse("/renew", "404")
            await post(ws, form(callback, hub_secret="two"))
            await ws.verifier.join()

        run(flow, open_hub)
    [sub] = open_hub.subscriptions.all()
    assert sub.secret == "one" and sub.state == "active"
    assert open_hub.metrics.verifications.labels("failed")._value.get() == 1


def test_connect_time_guard_defeats_dns_rebinding(tmp_path: Path, store: Store) -> None:
    """The name looked public when checked and points at 127.0.0.1 when connected to."""
    documents = DocumentSet()
    serve(documents, feed_doc("energy", "atom"))
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def flipping(_host: str, _port: int) -> list[str]:
        return next(answers)

    settings = make_settings(tmp_path, allow_private_network=False)
    websub = make_websub(settings, store, documents, flipping)
    with Subscriber() as subscriber:
        port = subscriber.url("/").split(":")[2].rstrip("/")

        async def flow(ws: WebSub) -> httpx.Response:
            response = await post(ws, form(f"http://flip.example:{port}/cb"))
            await ws.verifier.join()
            return response

        assert run(flow, websub).status_code == 202
        assert subscriber.verifications == []
    assert websub.subscriptions.all() == [] and websub.subscriptions.pending() == []
