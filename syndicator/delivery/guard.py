"""SSRF protection for webhook delivery: refuse private and otherwise unsafe destinations.

The check runs on the address actually connected to, inside the connection pool's
network backend, so a name that resolves to a public address when the URL is checked
and to ``127.0.0.1`` when connecting (DNS rebinding) is still refused. Each new
connection resolves the name once, drops every forbidden address, and connects to an
allowed IP literal; TLS still verifies and sends SNI for the original host name,
because httpcore passes the origin's host name to ``start_tls`` separately.

Refused unless ``allow_private_network`` is true: loopback, private (RFC 1918, ULA…),
link-local, reserved, shared (CGNAT) and any other not globally routable address,
also when wrapped in an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address.
Always refused: unspecified (``0.0.0.0``, ``::``) and multicast, which are never a
sensible unicast destination.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

from syndicator.delivery.addresses import address_problem
from syndicator.delivery.netio import AsyncioBackend
from syndicator.errors import DeliveryRejected

__all__ = [
    "DestinationForbidden",
    "GuardedBackend",
    "Resolver",
    "address_problem",
    "check_url",
    "make_transport",
    "system_resolver",
    "verified_ssl_context",
]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolve ``(host, port)`` to IP address strings, in preference order."""

_ALWAYS_FORBIDDEN = ("unspecified", "multicast")
# After IDNA encoding (done by httpx); underscores occur in real-world DNS names.
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


class DestinationForbidden(DeliveryRejected):
    """The webhook destination is not allowed (private address, bad scheme…)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"destination forbidden: {reason}")
        self.host = host
        self.reason = reason

    @classmethod
    def for_address(cls, host: str, address: str, problem: str) -> DestinationForbidden:
        """The error for ``host`` whose address ``address`` is of class ``problem``."""
        if host == address:
            return cls(host, f"{address} is {problem}")
        return cls(host, f"{host} resolves to {address}, which is {problem}")


def _refusal(address: str, *, allow_private_network: bool) -> str | None:
    """The class that forbids connecting to ``address``, or ``None`` when it is allowed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    problem = address_problem(ip)
    if problem is None:
        return None
    if allow_private_network and not problem.startswith(_ALWAYS_FORBIDDEN):
        return None
    return problem


def check_url(url: str) -> None:
    """Refuse a destination URL that is not a valid ``http(s)://host…`` (no address check yet)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - evaluated for its ValueError on a bad port
    except ValueError:
        raise DestinationForbidden("?", "invalid URL") from None
    if parts.scheme not in ("http", "https"):
        host = parts.hostname or "?"
        raise DestinationForbidden(host, f"{host}: only http and https URLs are allowed")
    if not parts.hostname:
        raise DestinationForbidden("?", "the URL has no host")
    try:
        raw_host = httpx.URL(url).raw_host.decode("ascii")
    except httpx.InvalidURL:
        # No detail: httpx's message may quote the URL, and with it any credentials.
        raise DestinationForbidden(parts.hostname, f"{parts.hostname}: invalid URL") from None
    # httpx percent-encodes what a host name cannot hold instead of refusing it; such a
    # name can never resolve, so refuse it now rather than retry it for a day.
    if not _HOST_NAME.fullmatch(raw_host):
        try:
            ipaddress.ip_address(raw_host)
        except ValueError:
            raise DestinationForbidden(raw_host, f"{raw_host}: invalid host name") from None


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the event loop's ``getaddrinfo`` (the OS resolver)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that only connects to allowed IP addresses."""

    def __init__(
        self,
        *,
        allow_private_network: bool,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private_network
        self._resolve: Resolver = resolver or system_resolver
        self._inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, drop forbidden addresses, and connect to an allowed one."""
        host = host.strip("[]")  # an IPv6 literal may arrive bracketed
        addresses = await self._addresses(host, port, timeout)
        allowed: list[str] = []
        refused: list[tuple[str, str]] = []
        for address in addresses:
            problem = _refusal(address, allow_private_network=self._allow_private)
            if problem is None:
                allowed.append(address)
            else:
                refused.append((address, problem))
        if not allowed:
            raise DestinationForbidden.for_address(host, *refused[0])

        last_error: Exception | None = None
        for address in allowed:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc  # try the next address, like a browser would
                continue
            await self._check_peer(host, stream)
            return stream
        assert last_error is not None
        raise last_error

    async def _addresses(self, host: str, port: int, limit: float | None) -> Sequence[str]:
        try:
            # The resolution shares the connect timeout: a dead resolver is a slow connect.
            async with asyncio.timeout(limit):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            # socket.gaierror: name unknown or resolver unreachable. A ConnectError so
            # httpx maps it to httpx.ConnectError like any other connection failure.
            reason = exc.strerror or str(exc)
            raise httpcore.ConnectError(f"cannot resolve {host}: {reason}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        return addresses

    async def _check_peer(self, host: str, stream: httpcore.AsyncNetworkStream) -> None:
        # Belt and braces: if the wrapped backend can say where it connected, check that
        # too, in case something below us resolved or redirected the connection.
        peer = stream.get_extra_info("server_addr")
        if not (isinstance(peer, tuple) and peer and isinstance(peer[0], str)):
            return
        problem = _refusal(peer[0], allow_private_network=self._allow_private)
        if problem is not None:
            await stream.aclose()
            raise DestinationForbidden.for_address(host, peer[0], problem)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refuse: webhooks go over TCP only."""
        raise DestinationForbidden(path, "only TCP destinations are allowed")

    async def sleep(self, seconds: float) -> None:
        """Sleep using the wrapped backend."""
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections go through a :class:`GuardedBackend`."""

    def __init__(
        self,
        *,
        backend: GuardedBackend,
        max_connections: int,
        keepalive_expiry: float,
        ssl_context: ssl.SSLContext,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx builds its pool without a way to pass a network backend, so replace it.
        # Same options as httpx would use, plus the guarded backend; no retries, since
        # a failed attempt is retried by the delivery schedule instead.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse non-HTTP(S) URLs, then send through the guarded pool."""
        if request.url.scheme not in ("http", "https"):
            host = request.url.host or "?"
            raise DestinationForbidden(host, f"{host}: only http and https URLs are allowed")
        return await super().handle_async_request(request)


def make_transport(
    *,
    allow_private_network: bool,
    max_connections: int,
    keepalive_expiry: float = 30.0,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncHTTPTransport:
    """Build an httpx transport that refuses forbidden destinations on every connection.

    Pass ``ssl_context`` (see :func:`verified_ssl_context`) when building many
    transports: creating a context loads the CA bundle, which costs tens of
    milliseconds each time, so one per endpoint stalls a fan-out to many endpoints.
    """
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    backend = GuardedBackend(allow_private_network=allow_private_network, resolver=resolver)
    return _GuardedTransport(
        backend=backend,
        max_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
        ssl_context=ssl_context if ssl_context is not None else verified_ssl_context(),
    )


def verified_ssl_context() -> ssl.SSLContext:
    """A certificate-verifying client context with httpx's CA bundle, safe to share.

    An ``SSLContext`` holds configuration only (per-connection state lives in the
    ``SSLObject``s it creates), so one context can serve every connection pool.
    """
    return httpx.create_ssl_context()
