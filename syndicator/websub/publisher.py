"""Publisher pings (WebSub §6, the hubs' common ``publish`` extension): tell external hubs.

When a feed's bytes change, each hub in ``websub.external_hubs`` gets ``POST``
``hub.mode=publish&hub.url=<feed URL>`` (form-encoded), one request per feed, so a
hub that only reads one ``hub.url`` misses nothing. A ping is retried on the
delivery schedule like a push; a newer change of the same feed while one waits just
rides on it, since the hub fetches the feed itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from urllib.parse import urlencode

import httpx

from syndicator.core.retry import AttemptOutcome
from syndicator.websub.metrics import WebSubMetrics
from syndicator.websub.outbound import Answer, RetryQueue, send

__all__ = ["Publisher", "ping_body"]

log = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"


def ping_body(topic_url: str) -> bytes:
    """The form body announcing that ``topic_url`` changed."""
    return urlencode({"hub.mode": "publish", "hub.url": topic_url}).encode("ascii")


class Publisher:
    """Pings the configured external hubs about changed feeds."""

    def __init__(
        self,
        hubs: Sequence[str],
        client: httpx.AsyncClient,
        queue: RetryQueue,
        *,
        timeout_seconds: float,
        metrics: WebSubMetrics,
    ) -> None:
        self.hubs = tuple(hubs)
        self.client = client
        self.queue = queue
        self.timeout_seconds = timeout_seconds
        self.metrics = metrics

    def changed(self, topic_urls: Sequence[str]) -> None:
        """Queue pings about ``topic_urls`` to every hub (event loop)."""
        for hub in self.hubs:
            for url in topic_urls:
                self.queue.submit(("ping", hub, url), partial(self._ping, hub, url))

    async def _ping(self, hub: str, url: str, number: int, last: bool) -> Answer:
        answer = await send(
            self.client,
            "POST",
            hub,
            content=ping_body(url),
            headers={"content-type": _FORM},
            timeout_seconds=self.timeout_seconds,
        )
        self.metrics.pings.labels(answer.outcome.value).inc()
        if answer.outcome is not AttemptOutcome.DELIVERED:
            detail = answer.error or f"status {answer.status_code}"
            give_up = last or answer.outcome is AttemptOutcome.PERMANENT
            log.warning(
                "websub: ping %d to %s about %s failed (%s)%s",
                number,
                hub,
                url,
                detail,
                "; giving up" if give_up else "",
            )
        return answer
