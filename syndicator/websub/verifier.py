"""Verification of intent (W3C WebSub §5.3): ask the callback whether it meant the request.

The hub sends ``GET callback?hub.mode=…&hub.topic=…&hub.challenge=…`` (plus
``hub.lease_seconds`` when subscribing). The request is verified only if the answer
is ``2xx`` and its body is exactly the challenge; anything else (another status, a
different body, a network error, a forbidden address) fails it, and a failed
request changes nothing stored. Verifications run as tasks on the event loop, a
bounded number at once; their database writes go to a thread.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

import httpx

from syndicator.core.retry import AttemptOutcome
from syndicator.errors import StoreError
from syndicator.store.websub import Intent, Subscriptions
from syndicator.websub.metrics import WebSubMetrics
from syndicator.websub.outbound import send

__all__ = ["Verifier", "challenge_url"]

log = logging.getLogger(__name__)

_CONCURRENCY = 16


def challenge_url(intent: Intent, challenge: str) -> httpx.URL:
    """The callback URL with the verification parameters added to its own query."""
    params = {"hub.mode": intent.mode, "hub.topic": intent.topic, "hub.challenge": challenge}
    if intent.mode == "subscribe":
        params["hub.lease_seconds"] = str(intent.lease_seconds)
    return httpx.URL(intent.callback).copy_merge_params(params)


class Verifier:
    """Verifies requests in the background and applies the verified ones."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        clock: Callable[[], datetime],
        metrics: WebSubMetrics,
    ) -> None:
        self.subscriptions = subscriptions
        self.client = client
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.metrics = metrics
        self._slots = asyncio.Semaphore(_CONCURRENCY)
        self._tasks: set[asyncio.Task[bool]] = set()

    def start(self, intent: Intent) -> asyncio.Task[bool]:
        """Verify ``intent`` in the background; the task's result says whether it was applied."""
        task = asyncio.create_task(self.verify(intent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def verify(self, intent: Intent) -> bool:
        """Ask the subscriber, then apply or discard the request; True when applied."""
        # Unguessable, so only the real holder of the callback can echo it.
        challenge = secrets.token_urlsafe(32)
        async with self._slots:
            answer = await send(
                self.client,
                "GET",
                challenge_url(intent, challenge),
                timeout_seconds=self.timeout_seconds,
            )
        confirmed = answer.outcome is AttemptOutcome.DELIVERED and answer.body == challenge.encode()
        try:
            if confirmed:
                applied = await asyncio.to_thread(self.subscriptions.confirm, intent, self.clock())
            else:
                await asyncio.to_thread(self.subscriptions.discard, intent, self.clock())
                applied = False
        except StoreError as exc:
            # The request stays pending; the sweep verifies it again later.
            log.error("websub: could not record verification of %s: %s", intent.callback, exc)
            return False
        self.metrics.verifications.labels("verified" if confirmed else "failed").inc()
        log.info(
            "websub %s of %s to %s: %s",
            intent.mode,
            intent.callback,
            intent.topic,
            "verified" if confirmed else f"not verified ({_why(answer.status_code, answer.error)})",
        )
        return applied

    async def join(self) -> None:
        """Wait for the verifications started so far (tests, orderly shutdown)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel verifications in flight; their requests stay pending for the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _why(status: int | None, error: str | None) -> str:
    if error is not None:
        return error
    if status is not None and 200 <= status <= 299:
        return "the body was not the challenge"
    return f"status {status}"
