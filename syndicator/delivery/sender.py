"""The HTTP edge of webhook delivery: one signed attempt to one endpoint.

:class:`Sender` keeps one long-lived httpx transport per endpoint, each with a small
connection pool sized to the endpoint's concurrency. One shared pool is far slower:
httpcore's pool does work quadratic in its size on every request (≈460 req/s with 64
connections against ≈8,600 for aiohttp on the benchmark machine), and per-endpoint
pools match the per-endpoint limits anyway. Requests go to the transport directly,
not through an ``httpx.AsyncClient``, whose per-request URL, header and cookie
merging bought nothing here; all endpoints share one TLS context.

An attempt never raises for a delivery failure; it returns an :class:`AttemptResult`
whose outcome comes from :func:`syndicator.core.retry.classify_attempt`. httpx exceptions are
translated here, at the edge, into :mod:`syndicator.errors` types first.

Decisions:

* An answered status decides the outcome even if reading the body then fails or
  times out; the body error is noted in ``error`` and the excerpt is what was read.
* A forbidden destination (:class:`~syndicator.delivery.guard.DestinationForbidden`)
  is ``PERMANENT``: it is a configuration problem that retrying will not fix.
* Responses are read raw (``accept-encoding: identity`` and no decoding), so a
  compressed answer cannot expand into an unbounded body; at most
  ``max_response_bytes`` are read before the connection is dropped.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from syndicator import __version__
from syndicator.core.retry import AttemptOutcome, classify_attempt, parse_retry_after
from syndicator.core.signing import webhook_headers
from syndicator.delivery.guard import (
    DestinationForbidden,
    Resolver,
    check_url,
    make_transport,
    verified_ssl_context,
)
from syndicator.errors import DeliveryError, DeliveryTimeout

__all__ = ["AttemptResult", "EndpointTarget", "Sender"]

_MAX_ERROR_CHARS = 200


@dataclass(frozen=True, slots=True)
class EndpointTarget:
    """Where and how to deliver: one configured webhook endpoint."""

    name: str
    url: str
    secrets: tuple[bytes, ...] = field(repr=False)  # decoded; first is the newest
    timeout_seconds: float = 15.0
    allow_private_network: bool = False
    concurrency: int = 4  # per-endpoint limit

    def __post_init__(self) -> None:
        if not self.secrets or not all(self.secrets):
            raise ValueError(f"webhook endpoint {self.name!r} needs at least one non-empty secret")
        if not self.timeout_seconds > 0:
            raise ValueError(f"webhook endpoint {self.name!r}: timeout_seconds must be > 0")
        if self.concurrency < 1:
            raise ValueError(f"webhook endpoint {self.name!r}: concurrency must be at least 1")


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one delivery attempt, ready to be stored."""

    outcome: AttemptOutcome
    status_code: int | None
    retry_after: float | None  # parsed seconds
    response_excerpt: str  # at most max_response_bytes of the body, decoded leniently
    error: str | None  # short, never a secret
    duration_seconds: float


@dataclass(slots=True)
class _Endpoint:
    settings: tuple[str, float, bool, int]
    transport: httpx.AsyncBaseTransport
    url: httpx.URL  # parsed once, not on every request
    extensions: dict[str, Any]  # the request timeouts, in httpcore's form
    semaphore: asyncio.Semaphore
    in_flight: int = 0


class Sender:
    """Sends signed webhook attempts over per-endpoint keep-alive connection pools."""

    def __init__(
        self,
        *,
        max_concurrency: int = 64,
        max_response_bytes: int = 4096,
        user_agent: str = f"Syndicator/{__version__}",
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")
        self._global = asyncio.Semaphore(max_concurrency)
        self._max_response_bytes = max_response_bytes
        # What an AsyncClient would send by default, with our user agent, and raw
        # bodies (see the module docstring).
        self._headers = {
            "accept": "*/*",
            "accept-encoding": "identity",
            "connection": "keep-alive",
            "user-agent": user_agent,
        }
        self._resolver = resolver  # None: the system resolver; tests inject one
        # One context for every endpoint's pool, made on first use: building one loads
        # the CA bundle (≈30 ms), which per endpoint stalled the first fan-out to 100
        # endpoints for seconds.
        self._ssl_context = ssl_context
        # URL checks are pure, and the same few URLs are sent to all day: check each once.
        self._url_problems: dict[str, str | None] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._retired: list[_Endpoint] = []
        self._closed = False

    async def send(
        self, target: EndpointTarget, msg_id: str, body: bytes, *, timestamp: int
    ) -> AttemptResult:
        """Make one signed attempt to deliver ``body`` to ``target``; never raises for failures."""
        if self._closed:
            raise RuntimeError("Sender is closed")
        headers = webhook_headers(target.secrets, msg_id, timestamp, body)
        problem = self._url_problem(target.url)
        if problem is not None:
            return AttemptResult(AttemptOutcome.PERMANENT, None, None, "", problem, 0.0)

        endpoint = self._endpoint(target)
        endpoint.in_flight += 1
        try:
            # Waiting for a slot is not the receiver's fault: the attempt's own timeout
            # starts once both semaphores are held.
            async with self._global, endpoint.semaphore:
                return await self._attempt(endpoint, target, headers, body)
        finally:
            endpoint.in_flight -= 1
            await self._close_idle_retired()

    async def aclose(self) -> None:
        """Close every connection pool; the sender cannot be used afterwards."""
        self._closed = True
        endpoints = [*self._endpoints.values(), *self._retired]
        self._endpoints.clear()
        self._retired.clear()
        for endpoint in endpoints:
            await endpoint.transport.aclose()

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _attempt(
        self,
        endpoint: _Endpoint,
        target: EndpointTarget,
        headers: dict[str, str],
        body: bytes,
    ) -> AttemptResult:
        started = time.monotonic()
        status: int | None = None
        retry_after: float | None = None
        excerpt = bytearray()
        failure: DeliveryError | None = None
        try:
            # httpx's timeouts bound each phase; this bounds the whole attempt, so a
            # receiver dripping a byte a second cannot hold a worker forever.
            async with asyncio.timeout(target.timeout_seconds):
                # Straight to the transport: an AsyncClient adds nothing a webhook
                # wants (no redirects, no cookies, no auth, no proxies) but costs a
                # URL merge, a header merge and a cookie-jar pass on every request.
                request = httpx.Request(
                    "POST",
                    endpoint.url,
                    headers={**self._headers, **headers},
                    content=body,
                    extensions=endpoint.extensions,
                )
                resp = await endpoint.transport.handle_async_request(request)
                try:
                    status = resp.status_code
                    retry_after = parse_retry_after(
                        resp.headers.get("retry-after"), datetime.now(UTC)
                    )
                    await self._read_excerpt(resp, excerpt)
                finally:
                    await resp.aclose()
        except DestinationForbidden as exc:
            failure = exc
        except (TimeoutError, httpx.HTTPError) as exc:
            failure = _translate(exc, target)

        duration = time.monotonic() - started
        text = excerpt.decode("utf-8", errors="replace")
        if status is not None:
            error = None if failure is None else f"reading response body: {failure}"
            return AttemptResult(
                classify_attempt(status, None), status, retry_after, text, error, duration
            )
        assert failure is not None
        return AttemptResult(
            classify_attempt(None, failure), None, None, text, str(failure), duration
        )

    async def _read_excerpt(self, resp: httpx.Response, into: bytearray) -> None:
        # Raw bytes: no decompression, so the bound holds on the wire too.
        limit = self._max_response_bytes
        if limit == 0:
            return
        async for chunk in resp.aiter_raw():
            into += chunk[: limit - len(into)]
            if len(into) >= limit:
                break  # leaving the stream context drops the connection mid-body

    def _url_problem(self, url: str) -> str | None:
        try:
            return self._url_problems[url]
        except KeyError:
            pass
        try:
            check_url(url)
            problem = None
        except DestinationForbidden as exc:
            problem = str(exc)
        self._url_problems[url] = problem
        return problem

    def _endpoint(self, target: EndpointTarget) -> _Endpoint:
        settings = (
            target.url,
            target.timeout_seconds,
            target.allow_private_network,
            target.concurrency,
        )
        endpoint = self._endpoints.get(target.name)
        if endpoint is not None and endpoint.settings == settings:
            return endpoint
        if endpoint is not None:
            # The endpoint was reconfigured: finish its in-flight attempts on the old
            # pool, then close it.
            self._retired.append(endpoint)
        if self._ssl_context is None:
            self._ssl_context = verified_ssl_context()
        transport = make_transport(
            allow_private_network=target.allow_private_network,
            max_connections=target.concurrency,
            resolver=self._resolver,
            ssl_context=self._ssl_context,
        )
        # The transport never follows redirects and never consults the environment
        # (a proxy there would bypass the destination guard).
        endpoint = _Endpoint(
            settings,
            transport,
            httpx.URL(target.url),
            {"timeout": httpx.Timeout(target.timeout_seconds).as_dict()},
            asyncio.Semaphore(target.concurrency),
        )
        self._endpoints[target.name] = endpoint
        return endpoint

    async def _close_idle_retired(self) -> None:
        idle = [endpoint for endpoint in self._retired if endpoint.in_flight == 0]
        if not idle:
            return
        self._retired = [endpoint for endpoint in self._retired if endpoint.in_flight > 0]
        for endpoint in idle:
            await endpoint.transport.aclose()


def _translate(exc: BaseException, target: EndpointTarget) -> DeliveryError:
    """Map an httpx or timeout exception to a short, secret-free :mod:`errors` type."""
    error: DeliveryError
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        phases: dict[type[BaseException], str] = {
            httpx.ConnectTimeout: "connect ",
            httpx.ReadTimeout: "read ",
            httpx.WriteTimeout: "write ",
            httpx.PoolTimeout: "pool ",
        }
        phase = phases.get(type(exc), "")
        error = DeliveryTimeout(f"{phase}timeout after {target.timeout_seconds:g} s")
    elif isinstance(exc, httpx.ConnectError):
        error = DeliveryError(f"connect error: {_reason(exc)}")
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        error = DeliveryError(f"protocol error: {_reason(exc)}")
    elif isinstance(exc, httpx.NetworkError):
        error = DeliveryError(f"network error: {_reason(exc)}")
    else:
        error = DeliveryError(f"{type(exc).__name__}: {_reason(exc)}")
    error.__cause__ = exc
    return error


def _reason(exc: BaseException) -> str:
    """The most specific short reason: an OS error's text if one is underneath."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            # asyncio's "Connect call failed (addr)" hides the useful part, the errno.
            if current.errno is not None and current.errno > 0:
                return os.strerror(current.errno)
            if current.strerror:
                return current.strerror
        current = current.__cause__ or current.__context__
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
