"""The built-in hub endpoint (W3C WebSub §5.1): subscribe and unsubscribe requests.

A raw ASGI app mounted at ``websub.hub_path``. It takes ``POST``
``application/x-www-form-urlencoded`` with ``hub.mode``, ``hub.topic``,
``hub.callback`` and optionally ``hub.lease_seconds`` and ``hub.secret``; checks
them at once (a ``400`` with a ``text/plain`` reason for anything refused, as §5.1
allows); records the request and answers ``202 Accepted``; then verifies intent in
the background (:mod:`syndicator.websub.verifier`).

Refused: a topic that is not exactly one of the feed URLs this site serves; a
callback that is not ``http(s)``, and, unless ``delivery.allow_private_network``,
one whose host resolves only to private, loopback or link-local addresses (the
transport re-checks the address actually connected to, so DNS rebinding gains
nothing); a secret of 200 bytes or more (§5.1). Requests are small, so the body is
read up to a bound, and the number of requests awaiting verification is capped, so
the hub cannot be made to flood third parties with verification requests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs

import httpx
from starlette.types import Receive, Scope, Send

from syndicator.config import WebSubSettings
from syndicator.delivery.guard import (
    DestinationForbidden,
    Resolver,
    address_problem,
    check_url,
    system_resolver,
)
from syndicator.errors import StoreError
from syndicator.store.websub import MODES, Subscriptions, TooManyPending
from syndicator.websub.metrics import WebSubMetrics
from syndicator.websub.topics import TopicMap
from syndicator.websub.verifier import Verifier

__all__ = ["HubApp", "HubRequest", "Refused"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8192
MAX_CALLBACK_CHARS = 2048
MAX_SECRET_BYTES = 199  # "MUST be less than 200 bytes" (§5.1)
MAX_PENDING = 1000
_RESOLVE_TIMEOUT = 5.0
_FORM = b"application/x-www-form-urlencoded"


class Refused(ValueError):
    """A request the hub will not take; the message is the reason sent back."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class HubRequest:
    """A checked subscribe or unsubscribe request."""

    mode: str
    topic: str
    callback: str
    lease_seconds: int | None
    secret: str | None


class HubApp:
    """ASGI app of the hub endpoint."""

    def __init__(
        self,
        *,
        settings: WebSubSettings,
        topics: TopicMap,
        subscriptions: Subscriptions,
        verifier: Verifier,
        allow_private_network: bool,
        clock: Callable[[], datetime],
        metrics: WebSubMetrics,
        resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.subscriptions = subscriptions
        self.verifier = verifier
        self.allow_private_network = allow_private_network
        self.clock = clock
        self.metrics = metrics
        self._resolve: Resolver = resolver or system_resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request to the hub endpoint."""
        if scope["type"] != "http":
            return
        status, text, extra = await self._handle(scope, receive)
        body = text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, str, list[tuple[bytes, bytes]]]:
        if scope["method"] != "POST":
            return 405, "Method Not Allowed: the hub takes POST requests\n", [(b"allow", b"POST")]
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if content_type.split(b";")[0].strip().lower() != _FORM:
            return 415, f"expected {_FORM.decode()}\n", []
        try:
            body = await _read_body(receive, MAX_BODY_BYTES)
            request = await self.check(body)
        except Refused as exc:
            self.metrics.requests.labels("refused").inc()
            return exc.status, exc.reason + "\n", []
        try:
            intent = await asyncio.to_thread(
                self.subscriptions.request,
                topic=request.topic,
                callback=request.callback,
                mode=request.mode,
                secret=request.secret,
                lease_seconds=request.lease_seconds,
                token=secrets.token_hex(16),
                now=self.clock(),
                max_pending=MAX_PENDING,
            )
        except TooManyPending:
            self.metrics.requests.labels("busy").inc()
            return (
                503,
                "too many requests awaiting verification; retry later\n",
                [(b"retry-after", b"60")],
            )
        except StoreError as exc:
            log.error("websub: could not record a request: %s", exc)
            return 503, "the hub cannot record requests right now\n", [(b"retry-after", b"60")]
        self.verifier.start(intent)
        self.metrics.requests.labels(request.mode).inc()
        return 202, "Accepted: verification of intent follows\n", []

    async def check(self, body: bytes) -> HubRequest:
        """Parse and check a form body; raise :class:`Refused` with the reason."""
        try:
            form = parse_qs(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=32,
            )
        except (UnicodeDecodeError, ValueError):
            raise Refused("the body is not a valid form") from None

        def one(name: str) -> str | None:
            values = form.get(name)
            if values is None:
                return None
            if len(values) > 1:
                raise Refused(f"{name}: given more than once")
            return values[0]

        mode = one("hub.mode")
        if mode not in MODES:
            raise Refused(f"hub.mode: must be subscribe or unsubscribe, got {mode!r}")
        topic = one("hub.topic")
        if not topic:
            raise Refused("hub.topic: required")
        if self.topics.path_of(topic) is None:
            raise Refused(f"hub.topic: not a feed of this site: {topic[:300]}")
        callback = one("hub.callback")
        if not callback:
            raise Refused("hub.callback: required")
        await self._check_callback(callback)
        lease = self._lease(one("hub.lease_seconds")) if mode == "subscribe" else None
        secret = one("hub.secret") or None
        if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
            raise Refused("hub.secret: must be less than 200 bytes")
        return HubRequest(mode, topic, callback, lease, secret if mode == "subscribe" else None)

    def _lease(self, raw: str | None) -> int:
        """The lease granted: the request's, within (0, max]; the default when not asked."""
        ceiling = self.settings.max_lease_seconds
        if raw is None or raw == "":
            return min(self.settings.default_lease_seconds, ceiling)
        if not raw.isdigit() or len(raw) > 12:
            raise Refused("hub.lease_seconds: must be a positive whole number of seconds")
        return min(max(int(raw), 1), ceiling)

    async def _check_callback(self, callback: str) -> None:
        if len(callback) > MAX_CALLBACK_CHARS:
            raise Refused(f"hub.callback: longer than {MAX_CALLBACK_CHARS} characters")
        try:
            check_url(callback)
        except DestinationForbidden as exc:
            raise Refused(f"hub.callback: {exc.reason}") from None
        if self.allow_private_network:
            return  # the transport still refuses unspecified and multicast addresses
        url = httpx.URL(callback)
        host = url.host
        try:
            async with asyncio.timeout(_RESOLVE_TIMEOUT):
                addresses = await self._resolve(
                    host, url.port or (443 if url.scheme == "https" else 80)
                )
        except (OSError, TimeoutError):
            raise Refused(f"hub.callback: cannot resolve {host}") from None
        problems = []
        for address in addresses:
            try:
                problem = address_problem(ipaddress.ip_address(address))
            except ValueError:
                problem = "not an IP address"
            if problem is None:
                return  # one reachable public address is enough; connects are re-checked
            problems.append((address, problem))
        if not problems:
            raise Refused(f"hub.callback: cannot resolve {host}")
        reason = DestinationForbidden.for_address(host, *problems[0])
        raise Refused(f"hub.callback: {reason}")


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused("the client went away", status=400)
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refused(f"request body larger than {limit} bytes", status=413)
        if not message.get("more_body", False):
            return bytes(body)
