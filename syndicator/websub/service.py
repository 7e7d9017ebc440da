"""WebSub wiring for the daemon: one object holding the hub, distributor and publisher.

The daemon needs four things from it: :meth:`WebSub.routes` (the hub endpoint, for
``create_app(extra_routes=…)``), :meth:`WebSub.link_header` (``Link`` headers of
feeds), :meth:`WebSub.published` (called from the build thread with what a build
rendered) and the :meth:`start` / :meth:`aclose` pair around the server's life.

``published`` runs on the build thread: it finds the feeds whose bytes differ from
what is being served and reads their subscribers there, so the event loop never
waits on the database for it; then it hands the pushes and pings to the loop.
A background sweep records ended leases, refreshes the subscription gauge and
re-verifies requests whose verification a dead process never finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from syndicator.config import Settings
from syndicator.errors import StoreError
from syndicator.metrics import Metrics
from syndicator.models import Published
from syndicator.store.store import Store
from syndicator.store.websub import Subscription, Subscriptions
from syndicator.web.documents import DocumentSet
from syndicator.websub.metrics import WebSubMetrics
from syndicator.websub.topics import TopicMap

if TYPE_CHECKING:
    import httpx

    from syndicator.delivery.guard import Resolver
    from syndicator.websub.distributor import Distributor
    from syndicator.websub.hub import HubApp
    from syndicator.websub.outbound import RetryQueue
    from syndicator.websub.publisher import Publisher
    from syndicator.websub.verifier import Verifier

__all__ = ["WebSub"]

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0
#: A request still pending this long after it was made lost its verifier (a restart).
STALE_AFTER = timedelta(minutes=10)


class WebSub:
    """The publisher and the built-in hub of one daemon."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        documents: DocumentSet,
        *,
        clock: Callable[[], datetime],
        metrics: Metrics,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
        on_demand: Callable[[str], bool] | None = None,
        read_body: Callable[[str], bytes | None] | None = None,
    ) -> None:
        websub = settings.websub
        #: Whether a path not in `documents` is a feed rendered on demand (facets).
        self.on_demand = on_demand
        #: Reads a published document's bytes (relative path) when a build kept none.
        self.read_body = read_body
        self.enabled = websub.enabled
        self.hub_url = f"{settings.site.base_url}{websub.hub_path}"
        self.hub_path = websub.hub_path
        self.documents = documents
        self.clock = clock
        hubs = (self.hub_url, *websub.external_hubs) if websub.enabled else ()
        self.topics = TopicMap(settings.site.base_url, hubs, self._served)
        self.subscriptions = store.websub
        self.metrics = WebSubMetrics(metrics.registry)
        # The hub's client, queue and workers exist only when WebSub is on: a
        # daemon without it loads no httpx client or TLS context for them.
        self._parts = (
            _Parts.make(
                settings,
                self.subscriptions,
                self.topics,
                clock,
                self.metrics,
                resolver,
                rng,
            )
            if websub.enabled
            else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def hub(self) -> HubApp:
        """The hub endpoint (WebSub enabled only)."""
        return self._on().hub

    @property
    def queue(self) -> RetryQueue:
        """The retrying queue of pushes and pings (WebSub enabled only)."""
        return self._on().queue

    @property
    def verifier(self) -> Verifier:
        """The verification of intent (WebSub enabled only)."""
        return self._on().verifier

    def _on(self) -> _Parts:
        if self._parts is None:
            raise RuntimeError("WebSub is not enabled")
        return self._parts

    def _served(self, path: str) -> bool:
        if self.documents.get(path) is not None:
            return True
        return self.on_demand is not None and self.on_demand(path)

    def subscribed(self, urls: Sequence[str]) -> set[str]:
        """Which of these topic URLs have an active subscription."""
        if not self.enabled or not urls:
            return set()
        try:
            return {sub.topic for sub in self.subscriptions.active_for(list(urls), self.clock())}
        except StoreError as exc:
            log.error("websub: cannot read subscriptions: %s", exc)
            return set()

    # -- what the daemon plugs in --------------------------------------------------

    def routes(self) -> dict[str, ASGIApp]:
        """Extra routes for the app: the hub endpoint when WebSub is enabled."""
        return {} if self._parts is None else {self.hub_path: self._parts.hub}

    def link_header(self, path: str) -> str | None:
        """The ``Link`` header of a served path: ``rel="hub"`` (when enabled) and ``rel="self"``."""
        return self.topics.link_header(path)

    def published(self, documents: Sequence[Published]) -> None:
        """Push and ping the feeds a build changed; call from the build thread *before*
        the documents are served, since "changed" means "differs from what is served"."""
        loop = self._loop
        if self._parts is None or loop is None:
            return
        changed: list[tuple[str, Published]] = []
        for doc in documents:
            path = f"/{doc.path}"
            if not self.topics.is_feed_path(path):
                continue
            served = self.documents.get(path)
            digest = (doc.sha256 or _digest(doc.body))[:32]
            if served is not None and served.etag == f'"{digest}"':
                continue
            changed.append((self.topics.url(path), doc))
        if not changed:
            return
        subscribers: dict[str, list[Subscription]] = defaultdict(list)
        try:
            for sub in self.subscriptions.active_for([url for url, _ in changed], self.clock()):
                subscribers[sub.topic].append(sub)
        except StoreError as exc:
            log.error("websub: cannot read subscriptions; no pushes for this build: %s", exc)
        if self.read_body is not None:
            # A build that kept validators alone: the pushed bytes are read back.
            changed = [
                (url, self._with_body(doc) if url in subscribers else doc) for url, doc in changed
            ]
        with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
            loop.call_soon_threadsafe(self._dispatch, changed, dict(subscribers))

    def _with_body(self, doc: Published) -> Published:
        if doc.body or self.read_body is None:
            return doc
        body = self.read_body(doc.path)
        return doc if body is None else replace(doc, body=body)

    def _dispatch(
        self, changed: list[tuple[str, Published]], subscribers: dict[str, list[Subscription]]
    ) -> None:
        parts = self._on()
        for url, doc in changed:
            parts.distributor.distribute(url, doc, subscribers.get(url, []))
        parts.publisher.changed([url for url, _ in changed])

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running loop and start the sweep (before the first build)."""
        self._loop = asyncio.get_running_loop()
        if self._parts is not None:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def aclose(self) -> None:
        """Stop the sweep, verifications, pushes and pings; close the connections."""
        self._loop = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if self._parts is not None:
            await self._parts.aclose()

    async def sweep(self) -> None:
        """Record ended leases, refresh the gauge, resume abandoned verifications."""
        now = self.clock()
        await asyncio.to_thread(self.subscriptions.expire, now)
        counts = await asyncio.to_thread(self.subscriptions.counts, now)
        self.metrics.subscriptions.set(counts["active"])
        for intent in await asyncio.to_thread(
            self.subscriptions.take_stale, now - STALE_AFTER, now
        ):
            self.verifier.start(intent)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreError as exc:
                log.warning("websub sweep failed: %s", exc)
            await asyncio.sleep(SWEEP_SECONDS)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What an enabled WebSub runs: its client, queue, verifier, hub, distributor, publisher."""

    client: httpx.AsyncClient
    queue: RetryQueue
    verifier: Verifier
    hub: HubApp
    distributor: Distributor
    publisher: Publisher

    @classmethod
    def make(
        cls,
        settings: Settings,
        subscriptions: Subscriptions,
        topics: TopicMap,
        clock: Callable[[], datetime],
        metrics: WebSubMetrics,
        resolver: Resolver | None,
        rng: random.Random | None,
    ) -> _Parts:
        """Build them (and import httpx and the hub's modules, only now)."""
        from syndicator.websub.distributor import Distributor
        from syndicator.websub.hub import HubApp
        from syndicator.websub.outbound import RetryQueue, make_client
        from syndicator.websub.publisher import Publisher
        from syndicator.websub.verifier import Verifier

        websub, delivery = settings.websub, settings.delivery
        timeout = delivery.timeout_seconds
        client = make_client(
            allow_private_network=delivery.allow_private_network,
            timeout_seconds=timeout,
            max_connections=delivery.max_concurrency,
            resolver=resolver,
        )
        queue = RetryQueue(delivery.retry_schedule, concurrency=delivery.max_concurrency, rng=rng)
        verifier = Verifier(
            subscriptions, client, timeout_seconds=timeout, clock=clock, metrics=metrics
        )
        hub = HubApp(
            settings=websub,
            topics=topics,
            subscriptions=subscriptions,
            verifier=verifier,
            allow_private_network=delivery.allow_private_network,
            clock=clock,
            metrics=metrics,
            resolver=resolver,
        )
        hub_url = f"{settings.site.base_url}{websub.hub_path}"
        distributor = Distributor(
            subscriptions,
            client,
            queue,
            hub_url=hub_url,
            timeout_seconds=timeout,
            clock=clock,
            metrics=metrics,
        )
        publisher = Publisher(
            websub.external_hubs, client, queue, timeout_seconds=timeout, metrics=metrics
        )
        return cls(client, queue, verifier, hub, distributor, publisher)

    async def aclose(self) -> None:
        """Stop verifications, pushes and pings; close the connections."""
        await self.verifier.aclose()
        await self.queue.aclose()
        await self.client.aclose()


def _digest(body: bytes) -> str:
    """The part of a document's SHA-256 its ETag carries (see `Document.build`)."""
    return hashlib.sha256(body).hexdigest()[:32]
