"""``POST /hooks/source``: a signed ping from the source asks for a poll now (SPEC §5).

The source signs its ping the way we sign our webhooks (Standard Webhooks:
``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), keyed by the
secret named by ``[source] ping_secret_env``. The body is not interpreted: the
ping only says "something changed", and the poll finds out what.

Answers: ``202`` (JSON) when the signature verifies, after calling the trigger;
``401`` (JSON, the reason, never a secret) for a missing, bad or expired
signature, trigger not called; ``405`` for anything but ``POST``; ``413`` for
a body over 64 KiB; ``429`` without reading or verifying anything once an
address has failed verification 10 times within a minute; ``503`` when the
trigger refuses (the daemon is stopping). A ping whose ``webhook-id`` was
already accepted is answered ``202`` again but triggers nothing, so a captured
ping cannot be replayed to keep the poller busy.

The route is only mounted when a secret is configured; without one the path
is unknown to the app and answers ``404``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from syndicator.core.signing import DEFAULT_TOLERANCE_SECONDS, WebhookVerificationError, verify

__all__ = ["FAILURES_ALLOWED", "MAX_BODY_BYTES", "PING_PATH", "PingRoute", "make_ping_route"]

log = logging.getLogger(__name__)

PING_PATH = "/hooks/source"
MAX_BODY_BYTES = 64 * 1024
#: Failed verifications an address may have within the window before it gets 429.
FAILURES_ALLOWED = 10
FAILURE_WINDOW_SECONDS = 60.0
# Bounds on what strangers can make us remember.
_MAX_TRACKED_ADDRESSES = 10_000
_MAX_SEEN_IDS = 4096

_Headers = list[tuple[bytes, bytes]]


class _FailureLimiter:
    """Failed attempts per client address in a sliding window."""

    def __init__(self, allowed: int, window: float) -> None:
        self._allowed = allowed
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds until `address` may try again, or None if it may now."""
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        if len(times) < self._allowed:
            return None
        return times[0] + self._window - now

    def failed(self, address: str, now: float) -> bool:
        """Record a failure; True when it is the one that blocks the address."""
        times = self._failures.get(address)
        if times is None:
            if len(self._failures) >= _MAX_TRACKED_ADDRESSES:
                self._forget_oldest(now)
            times = self._failures[address] = deque(maxlen=self._allowed)
        times.append(now)
        return len(times) == self._allowed

    def _forget_oldest(self, now: float) -> None:
        for address in [a for a, t in self._failures.items() if t[-1] <= now - self._window]:
            del self._failures[address]
        if len(self._failures) >= _MAX_TRACKED_ADDRESSES:
            del self._failures[next(iter(self._failures))]


class PingRoute:
    """ASGI app answering signed source pings; calls `trigger` for each new valid one."""

    def __init__(
        self,
        secrets: Sequence[bytes],
        trigger: Callable[[], object],
        *,
        clock: Callable[[], float] = time.time,
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
        failures_allowed: int = FAILURES_ALLOWED,
        failure_window: float = FAILURE_WINDOW_SECONDS,
    ) -> None:
        if not secrets or not all(secrets):
            raise ValueError("a source ping route needs at least one non-empty secret")
        if failures_allowed < 1 or failure_window <= 0:
            raise ValueError("failures_allowed and failure_window must be positive")
        self._secrets = tuple(secrets)
        self._trigger = trigger
        self._clock = clock
        self._tolerance = tolerance
        self._limiter = _FailureLimiter(failures_allowed, failure_window)
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        if scope["type"] != "http":
            return
        status, answer, extra = await self._handle(scope, receive)
        body = json.dumps(answer).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, str], _Headers]:
        if scope["method"] != "POST":
            return 405, {"error": "method not allowed: send POST"}, [(b"allow", b"POST")]
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        now = self._clock()
        wait = self._limiter.retry_after(address, now)
        if wait is not None:
            retry = str(max(1, int(wait + 0.999))).encode()
            return 429, {"error": "too many failed pings; retry later"}, [(b"retry-after", retry)]
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in (
                b"webhook-id",
                b"webhook-timestamp",
                b"webhook-signature",
                b"content-length",
            ):
                text = value.decode("latin-1")
                # A repeated signature header is one more space-separated list entry.
                headers[name] = f"{headers[name]} {text}" if name in headers else text
        declared = headers.get(b"content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}, []
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:
            return 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}, []
        msg_id = headers.get(b"webhook-id")
        try:
            verify(
                self._secrets,
                msg_id,
                headers.get(b"webhook-timestamp"),
                headers.get(b"webhook-signature"),
                body,
                now=now,
                tolerance=self._tolerance,
            )
        except WebhookVerificationError as exc:
            if self._limiter.failed(address, now):
                log.warning("source ping: %s failed too often; refusing it for a while", address)
            else:
                log.info("source ping from %s refused: %s", address, exc)
            return 401, {"error": str(exc)}, []
        assert msg_id is not None
        if self._already_seen(msg_id, now):
            return 202, {"status": "duplicate", "detail": "this ping was already accepted"}, []
        try:
            accepted = self._trigger()
        except Exception:
            log.exception("source ping: the poll trigger failed")
            return 503, {"error": "cannot schedule a poll now"}, [(b"retry-after", b"5")]
        if accepted is False:
            return 503, {"error": "not accepting polls now"}, [(b"retry-after", b"5")]
        return 202, {"status": "accepted", "detail": "a poll starts now"}, []

    def _already_seen(self, msg_id: str, now: float) -> bool:
        """Remember accepted ids while their timestamps could still verify."""
        horizon = now - 2 * self._tolerance
        while self._seen and next(iter(self._seen.values())) < horizon:
            self._seen.popitem(last=False)
        if msg_id in self._seen:
            return True
        if len(self._seen) >= _MAX_SEEN_IDS:
            self._seen.popitem(last=False)
        self._seen[msg_id] = now
        return False


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return bytes(body)  # nobody reads the answer; verification just fails
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def make_ping_route(secret: bytes | Sequence[bytes], trigger: Callable[[], object]) -> ASGIApp:
    """The ``/hooks/source`` app: `secret` (or several, while rotating) and the poll trigger."""
    secrets = (secret,) if isinstance(secret, bytes) else tuple(secret)
    return PingRoute(secrets, trigger)
