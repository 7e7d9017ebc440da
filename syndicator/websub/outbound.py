"""Outgoing WebSub requests: the guarded HTTP client, one attempt, and the retry queue.

Built from the webhook engine's parts: the SSRF-guarded transport
(:func:`~syndicator.delivery.guard.make_transport`, checked on the address actually
connected to), the outcome rules of :func:`~syndicator.core.retry.classify_attempt` and the
backoff of :func:`~syndicator.core.retry.next_delay`. Redirects are not followed and
response bodies are read only up to a small bound, as for webhooks (SPEC §6).

:class:`RetryQueue` keeps at most one job per key (a subscription, or a hub and feed
pair). Submitting again while a job waits replaces what it will send with the newest
version: a subscriber that is down gets the latest feed once it is back, not every
version in between, and its retry count keeps running so that the schedule stays
bounded even while the feed keeps changing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from syndicator import __version__
from syndicator.core.retry import AttemptOutcome, classify_attempt, next_delay, parse_retry_after
from syndicator.delivery.guard import DestinationForbidden, Resolver, check_url, make_transport

__all__ = ["Answer", "Attempt", "RetryQueue", "make_client", "send"]

log = logging.getLogger(__name__)

#: Bytes of a response read at most; enough for any challenge a sane subscriber echoes.
MAX_RESPONSE_BYTES = 4096
_MAX_ERROR_CHARS = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one request: classified, with what the peer said."""

    outcome: AttemptOutcome
    status_code: int | None
    retry_after: float | None = None
    body: bytes = b""  # at most MAX_RESPONSE_BYTES
    error: str | None = None


#: Makes attempt ``n`` (1-based); ``last`` is true when no retry would follow a failure.
#: ``None`` means there is nothing to send any more (say, the subscription ended).
Attempt = Callable[[int, bool], Awaitable[Answer | None]]


def make_client(
    *,
    allow_private_network: bool,
    timeout_seconds: float,
    max_connections: int,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """An httpx client that refuses forbidden destinations on every connection."""
    return httpx.AsyncClient(
        transport=make_transport(
            allow_private_network=allow_private_network,
            max_connections=max_connections,
            resolver=resolver,
        ),
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,  # an environment proxy would bypass the destination guard
        headers={"user-agent": f"Syndicator/{__version__} (WebSub)", "accept-encoding": "identity"},
    )


def _describe(exc: BaseException) -> str:
    # Short and free of URLs: httpx messages may quote a callback with its credentials.
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, DestinationForbidden):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    timeout_seconds: float,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Make one request; never raises for a failure, which is classified instead."""
    try:
        check_url(str(url))
        # httpx bounds each phase; this bounds the whole exchange, so a peer dripping a
        # byte a second cannot hold a slot forever.
        async with asyncio.timeout(timeout_seconds):
            async with client.stream(method, url, content=content, headers=headers) as resp:
                body = bytearray()
                async for chunk in resp.aiter_raw():
                    body += chunk[: MAX_RESPONSE_BYTES - len(body)]
                    if len(body) >= MAX_RESPONSE_BYTES:
                        break
                retry_after = parse_retry_after(resp.headers.get("retry-after"), datetime.now(UTC))
                return Answer(
                    classify_attempt(resp.status_code, None),
                    resp.status_code,
                    retry_after,
                    bytes(body),
                )
    except (TimeoutError, httpx.HTTPError, DestinationForbidden) as exc:
        return Answer(classify_attempt(None, exc), None, error=_describe(exc))


class RetryQueue:
    """Runs keyed jobs with retries and backoff, at most one per key, bounded concurrency."""

    def __init__(
        self,
        schedule: Sequence[float],
        *,
        concurrency: int,
        rng: random.Random | None = None,
    ) -> None:
        self.schedule = tuple(schedule)
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()
        self._latest: dict[Hashable, Attempt] = {}
        self._fresh: set[Hashable] = set()
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, key: Hashable, attempt: Attempt) -> None:
        """Send ``attempt`` for ``key``; replaces a job for the same key that has not run yet."""
        self._latest[key] = attempt
        self._fresh.add(key)
        if key not in self._tasks:
            self._idle.clear()
            self._tasks[key] = asyncio.create_task(self._run(key))

    def __len__(self) -> int:
        return len(self._tasks)

    async def join(self) -> None:
        """Wait until no job is left (tests and `once`-style callers)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Cancel every job; what was not sent yet is dropped."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, key: Hashable) -> None:
        attempts = 0
        try:
            while True:
                self._fresh.discard(key)
                job = self._latest[key]
                attempts += 1
                last = attempts > len(self.schedule)
                async with self._slots:
                    answer = await job(attempts, last)
                if answer is not None and answer.outcome is AttemptOutcome.RETRY and not last:
                    delay = next_delay(self.schedule, attempts, answer.retry_after, self._rng)
                    assert delay is not None  # not the last attempt, so the schedule has one
                    await asyncio.sleep(delay)
                    continue
                if key not in self._fresh:
                    return
                attempts = 0  # a newer version arrived while this one was sent: send it too
        except Exception:  # one broken job must not take the others down
            log.exception("websub job %r crashed", key)
        finally:
            del self._tasks[key]
            self._latest.pop(key, None)
            self._fresh.discard(key)
            if not self._tasks:
                self._idle.set()
