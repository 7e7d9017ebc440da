"""The SSRF guard: address classes, and the network backend that checks what it connects to."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import httpcore
import httpx
import pytest

from syndicator.delivery.guard import (
    DestinationForbidden,
    GuardedBackend,
    address_problem,
    check_url,
    make_transport,
    system_resolver,
)
from syndicator.errors import DeliveryRejected

T = TypeVar("T")
PUBLIC = "93.184.216.34"  # never actually connected to: the inner backend is fake


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeStream(httpcore.AsyncNetworkStream):
    """A stream that records TLS setup and ends the request there."""

    def __init__(self, peer: tuple[str, int] | None = None) -> None:
        self.peer = peer
        self.server_hostname: str | None = None
        self.closed = False

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        self.server_hostname = server_hostname
        raise httpcore.ConnectError("fake TLS stops here")

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:
        return self.peer if info == "server_addr" else None


class FakeBackend(httpcore.AsyncNetworkBackend):
    """Records connect_tcp calls; fails for addresses in `refuse`."""

    def __init__(self, refuse: Sequence[str] = (), peer: tuple[str, int] | None = None) -> None:
        self.connected: list[tuple[str, int]] = []
        self.refuse = set(refuse)
        self.peer = peer
        self.streams: list[FakeStream] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        if host in self.refuse:
            raise httpcore.ConnectError(f"refused {host}")
        stream = FakeStream(self.peer)
        self.streams.append(stream)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def resolver_for(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "not globally routable"),  # CGNAT
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback (embedded in IPv6)"),
        ("::ffff:10.1.1.1", "private (embedded in IPv6)"),
        ("64:ff9b::a9fe:a9fe", "link-local (embedded in IPv6)"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", "loopback (embedded in IPv6)"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private (embedded in IPv6)"),  # 6to4 of 192.168.1.1
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_teredo_with_private_client_is_refused() -> None:
    teredo = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:3f57:fefe")  # client 192.168.1.1
    assert teredo.teredo is not None
    assert address_problem(teredo) is not None


def test_rebinding_name_to_loopback_is_refused_before_connecting() -> None:
    inner = FakeBackend()
    backend = GuardedBackend(
        allow_private_network=False,
        resolver=resolver_for({"hooks.example.com": ["127.0.0.1"]}),
        inner=inner,
    )
    with pytest.raises(DestinationForbidden) as info:
        run(backend.connect_tcp("hooks.example.com", 443))
    assert str(info.value) == (
        "destination forbidden: hooks.example.com resolves to 127.0.0.1, which is loopback"
    )
    assert isinstance(info.value, DeliveryRejected)
    assert inner.connected == []


def test_forbidden_addresses_are_dropped_and_an_allowed_one_is_used() -> None:
    inner = FakeBackend()
    backend = GuardedBackend(
        allow_private_network=False,
        resolver=resolver_for({"mixed.example": ["10.0.0.7", "::1", PUBLIC]}),
        inner=inner,
    )
    run(backend.connect_tcp("mixed.example", 80))
    assert inner.connected == [(PUBLIC, 80)]


def test_allowed_addresses_are_tried_in_turn() -> None:
    inner = FakeBackend(refuse=["2606:4700:4700::1111"])
    backend = GuardedBackend(
        allow_private_network=False,
        resolver=resolver_for({"dual.example": ["2606:4700:4700::1111", PUBLIC]}),
        inner=inner,
    )
    run(backend.connect_tcp("dual.example", 80))
    assert inner.connected == [("2606:4700:4700::1111", 80), (PUBLIC, 80)]

    inner.refuse.add(PUBLIC)
    with pytest.raises(httpcore.ConnectError, match=f"refused {PUBLIC}"):
        run(backend.connect_tcp("dual.example", 80))


def test_private_network_allowed_when_configured_but_not_multicast() -> None:
    inner = FakeBackend()
    backend = GuardedBackend(
        allow_private_network=True,
        resolver=resolver_for({"lan": ["192.168.1.20"], "mc": ["239.1.1.1"], "any": ["0.0.0.0"]}),
        inner=inner,
    )
    run(backend.connect_tcp("lan", 8080))
    assert inner.connected == [("192.168.1.20", 8080)]
    with pytest.raises(DestinationForbidden, match="multicast"):
        run(backend.connect_tcp("mc", 80))
    with pytest.raises(DestinationForbidden, match="unspecified"):
        run(backend.connect_tcp("any", 80))


def test_peer_address_is_checked_after_connecting() -> None:
    # Whatever the wrapped backend did, the socket ended up on loopback: refuse and close.
    inner = FakeBackend(peer=("127.0.0.1", 80))
    backend = GuardedBackend(
        allow_private_network=False,
        resolver=resolver_for({"sneaky.example": [PUBLIC]}),
        inner=inner,
    )
    with pytest.raises(DestinationForbidden, match="127.0.0.1, which is loopback"):
        run(backend.connect_tcp("sneaky.example", 80))
    assert inner.streams[0].closed


def test_tls_uses_the_host_name_while_connecting_to_the_checked_ip() -> None:
    inner = FakeBackend()
    backend = GuardedBackend(
        allow_private_network=False,
        resolver=resolver_for({"hooks.example.com": [PUBLIC]}),
        inner=inner,
    )

    async def request() -> None:
        async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
            await pool.request("POST", "https://hooks.example.com/in", content=b"{}")

    with pytest.raises(httpcore.ConnectError, match="fake TLS"):
        run(request())
    assert inner.connected == [(PUBLIC, 443)]
    assert inner.streams[0].server_hostname == "hooks.example.com"


def test_resolution_failure_is_a_connect_error() -> None:
    async def broken(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    async def empty(host: str, port: int) -> list[str]:
        return []

    for resolver in (broken, empty):
        backend = GuardedBackend(
            allow_private_network=False, resolver=resolver, inner=FakeBackend()
        )
        with pytest.raises(httpcore.ConnectError, match="cannot resolve nowhere.invalid"):
            run(backend.connect_tcp("nowhere.invalid", 80))


def test_slow_resolution_is_a_connect_timeout() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return [PUBLIC]

    backend = GuardedBackend(allow_private_network=False, resolver=slow, inner=FakeBackend())
    with pytest.raises(httpcore.ConnectTimeout):
        run(backend.connect_tcp("slow.example", 80, timeout=0.05))


def test_unix_sockets_are_refused() -> None:
    backend = GuardedBackend(allow_private_network=True, inner=FakeBackend())
    with pytest.raises(DestinationForbidden):
        run(backend.connect_unix_socket("/run/docker.sock"))


def test_system_resolver_on_literals() -> None:
    assert run(system_resolver("127.0.0.1", 80)) == ["127.0.0.1"]
    assert run(system_resolver("::1", 80)) == ["::1"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com",
        "http:///path",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://[::1/",
    ],
)
def test_check_url_refuses_non_http(url: str) -> None:
    with pytest.raises(DestinationForbidden):
        check_url(url)


def test_check_url_accepts_http_and_https() -> None:
    check_url("http://example.com/hook")
    check_url("https://[2606:4700::1111]:8443/hook")
    check_url("https://ex\u00e4mple.com/hook")  # IDNA
    check_url("http://a_b.example.com./hook")


def test_transport_refuses_loopback_and_other_schemes() -> None:
    async def attempt(url: str) -> None:
        transport = make_transport(allow_private_network=False, max_connections=1)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(url, content=b"{}")

    # Port 9 (discard) is never reached: the guard refuses before connecting.
    with pytest.raises(DestinationForbidden, match="127.0.0.1 is loopback"):
        run(attempt("http://127.0.0.1:9/hook"))
    with pytest.raises(DestinationForbidden, match=r"::1 is loopback"):
        run(attempt("http://[::1]:9/hook"))
    with pytest.raises(DestinationForbidden, match="only http and https"):
        run(attempt("ftp://127.0.0.1:9/hook"))


def test_make_transport_validates_pool_size() -> None:
    with pytest.raises(ValueError):
        make_transport(allow_private_network=False, max_connections=0)
