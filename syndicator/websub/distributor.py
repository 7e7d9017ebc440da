"""Content distribution (W3C WebSub §7): push each changed feed to its subscribers.

Every push is a ``POST`` of the full feed with its own ``Content-Type``, a ``Link``
header naming this hub (``rel="hub"``) and the topic (``rel="self"``), and, when the
subscriber gave a secret, ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``.

Failures follow the webhook rules (:func:`~syndicator.core.retry.classify_attempt`): network
errors, timeouts, ``408``, ``429`` and ``5xx`` are retried on the configured
schedule; once it is exhausted the hub "terminates the subscription" (§7). ``410
Gone`` ends the subscription at once. Other answers drop that one push and keep the
subscription, since the next change may well be accepted. Before every attempt the
subscription is read again, so a lease that ended, an unsubscribe or an operator's
``websub drop`` stops pushes even in the middle of a retry schedule.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

import httpx

from syndicator.core.retry import AttemptOutcome
from syndicator.errors import StoreError
from syndicator.models import Published
from syndicator.store.websub import Subscription, Subscriptions
from syndicator.websub.metrics import WebSubMetrics
from syndicator.websub.outbound import Answer, RetryQueue, send
from syndicator.websub.topics import link_value

__all__ = ["Distributor", "signature"]

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value for ``body``: ``sha256=`` and the hex HMAC."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Distributor:
    """Sends feeds to the subscribers of their topics, through the retry queue."""

    def __init__(
        self,
        subscriptions: Subscriptions,
        client: httpx.AsyncClient,
        queue: RetryQueue,
        *,
        hub_url: str,
        timeout_seconds: float,
        clock: Callable[[], datetime],
        metrics: WebSubMetrics,
    ) -> None:
        self.subscriptions = subscriptions
        self.client = client
        self.queue = queue
        self.hub_url = hub_url
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.metrics = metrics

    def distribute(self, topic: str, doc: Published, subscribers: list[Subscription]) -> None:
        """Queue a push of ``doc`` (the feed at ``topic``) to each subscriber (event loop)."""
        for sub in subscribers:
            self.queue.submit(("push", sub.id), partial(self._push, sub.id, topic, doc))

    async def _push(
        self, sub_id: int, topic: str, doc: Published, number: int, last: bool
    ) -> Answer | None:
        try:
            sub = await asyncio.to_thread(self.subscriptions.get, sub_id)
        except StoreError as exc:
            log.warning("websub: cannot read subscription %d: %s", sub_id, exc)
            return Answer(AttemptOutcome.RETRY, None, error=str(exc))
        if sub is None or not sub.active(self.clock()) or sub.topic != topic:
            return None  # unsubscribed, dropped or expired since: nothing to send
        headers = {
            "content-type": doc.content_type,
            "link": link_value((self.hub_url,), topic),
        }
        if sub.secret is not None:
            headers["x-hub-signature"] = signature(sub.secret, doc.body)
        answer = await send(
            self.client,
            "POST",
            sub.callback,
            content=doc.body,
            headers=headers,
            timeout_seconds=self.timeout_seconds,
        )
        await self._settle(sub, answer, number, last)
        return answer

    async def _settle(self, sub: Subscription, answer: Answer, number: int, last: bool) -> None:
        now = self.clock()
        outcome = answer.outcome.value
        ended = ""
        try:
            await asyncio.to_thread(self.subscriptions.record_push, sub.id, answer.status_code, now)
            if answer.status_code == 410:
                outcome, ended = "gone", "the subscriber answered 410 Gone"
            elif answer.outcome is AttemptOutcome.RETRY and last:
                outcome, ended = "terminated", f"no success after {number} attempts"
            if ended:
                await asyncio.to_thread(self.subscriptions.remove, sub.id, now)
        except StoreError as exc:
            log.warning("websub: cannot record push to %s: %s", sub.callback, exc)
        self.metrics.pushes.labels(outcome).inc()
        if ended:
            log.warning("websub: subscription %d of %s removed: %s", sub.id, sub.callback, ended)
        elif answer.outcome is not AttemptOutcome.DELIVERED:
            log.info(
                "websub: push %d to %s failed (%s)",
                number,
                sub.callback,
                answer.error or f"status {answer.status_code}",
            )
