"""The delivery worker: claims due deliveries, sends them, records the outcome.

It runs on the daemon's event loop (and, bounded, in `syndicator once`). Claims
are taken per endpoint up to a small budget, so a slow endpoint cannot fill
the pipeline and hold back the others; the `Sender`'s global and per-endpoint
semaphores bound the actual concurrency. Each turn of the loop records the
outcomes that finished since the last turn and claims what there is room for,
in one transaction in a worker thread, so the event loop never waits on a commit;
an attempt finishing wakes the loop, and so does a commit of new events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from syndicator.config import DeliverySettings, Settings, WebhookSettings
from syndicator.core.retry import AttemptOutcome, next_delay
from syndicator.core.signing import decode_secret
from syndicator.delivery.sender import EndpointTarget, Sender
from syndicator.errors import ConfigError, StoreError
from syndicator.metrics import Metrics
from syndicator.store.outbox import Claimed, Outbox, Outcome

__all__ = ["DeliveryWorker", "endpoint_target"]

log = logging.getLogger(__name__)

_IDLE_WAIT = 1.0  # seconds between queue checks when nothing wakes the worker
_FLUSH_EVERY = 0.02  # seconds: the longest wait with attempts in flight; also the
# shortest wait for a retry, so that a row leased by another process cannot spin us
_DEPTH_EVERY = 1.0  # seconds between queue-depth refreshes
_STORE_RETRY = 2.0  # seconds between tries while the database cannot be reached


def endpoint_target(hook: WebhookSettings, defaults: DeliverySettings) -> EndpointTarget:
    """The sender's view of one configured endpoint (secrets decoded, newest first)."""
    secrets = [s for s in (hook.secret, *hook.previous_secrets) if s is not None]
    try:
        decoded = tuple(decode_secret(s.get_secret_value()) for s in secrets)
    except ValueError as exc:
        raise ConfigError(f"webhooks.{hook.name}.secret: {exc}") from None
    return EndpointTarget(
        name=hook.name,
        url=hook.url,
        secrets=decoded,
        timeout_seconds=hook.timeout_seconds or defaults.timeout_seconds,
        allow_private_network=(
            defaults.allow_private_network
            if hook.allow_private_network is None
            else hook.allow_private_network
        ),
        concurrency=hook.max_concurrency or defaults.per_endpoint_concurrency,
    )


class DeliveryWorker:
    """Sends the outbox's deliveries, at least once, with retries and backoff."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        *,
        owner: str,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
        sender: Sender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings.delivery
        self.outbox = outbox
        self.owner = owner
        self.clock = clock
        self.metrics = metrics
        self.sender = sender or Sender(max_concurrency=self.settings.max_concurrency)
        self.rng = rng or random.Random()
        self.targets = {h.name: endpoint_target(h, self.settings) for h in settings.webhooks}
        self.schedules = {
            h.name: tuple(h.retry_schedule or self.settings.retry_schedule)
            for h in settings.webhooks
        }
        self.lease = (
            timedelta(seconds=max(t.timeout_seconds for t in self.targets.values()) + 60)
            if self.targets
            else timedelta(seconds=60)
        )
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._last_depth = 0.0

    # -- control ---------------------------------------------------------------

    def wake(self) -> None:
        """New deliveries were committed: look now (safe from any thread)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def stop(self) -> None:
        """Stop claiming; `run` returns once attempts in flight are recorded."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        """Deliver until `stop()`."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if not self.targets:
            await self._wake.wait()
            return
        failing = False
        try:
            while not self._stopping:
                # Cleared before the cycle, not after: a wake arriving while the
                # cycle is in its thread must start the next cycle, not be lost.
                self._wake.clear()
                try:
                    if await self._cycle() == 0:
                        await self._sleep()
                except StoreError as exc:
                    # A database outage (a restart, a failover) must not end
                    # deliveries for the life of the process: try again.
                    if not failing:
                        log.error("deliveries wait for the database: %s", exc)
                    failing = True
                    await self._wait(_STORE_RETRY)
                    continue
                except Exception:
                    log.exception("delivery loop failed; trying again")
                    await self._wait(_STORE_RETRY)
                    continue
                if failing:
                    log.info("deliveries resume: the database answers again")
                    failing = False
        finally:
            await self._finish()

    async def drain(self, seconds: float) -> int:
        """Send what is due now, and retries falling due, for at most `seconds`."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        deadline = time.monotonic() + seconds
        sent = 0
        try:
            while time.monotonic() < deadline:
                self._wake.clear()
                started = await self._cycle()
                sent += started
                if started:
                    continue
                if self._tasks:
                    # Woken by the next attempt to finish: a fixed sleep here capped a
                    # drain at one claim per endpoint budget per sleep (≈400/s).
                    await self._wait(min(_FLUSH_EVERY, deadline - time.monotonic()))
                    continue
                # Wait for a retry that falls due before the deadline, else stop.
                due = await asyncio.to_thread(self.outbox.next_due, list(self.targets))
                if due is None:
                    break
                wait = (due - self.clock()).total_seconds()
                if time.monotonic() + wait >= deadline:
                    break
                # At least a little: a due row leased by another process stays "due".
                await asyncio.sleep(max(wait, _FLUSH_EVERY))
        except StoreError as exc:
            log.error("deliveries stop: the database cannot be reached: %s", exc)
        finally:
            await self._finish()
        return sent

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        await self.sender.aclose()

    # -- the loop ----------------------------------------------------------------

    async def _cycle(self, *, claim: bool = True) -> int:
        """Record finished attempts and claim more in one trip to a thread; start them.

        One trip, not two: each costs a thread hop and a write transaction, and the
        claim right after the record sees the endpoints the record just paused.
        """
        outcomes, self._outcomes = self._outcomes, []
        room, limit = self._claim_room() if claim else ({}, 0)
        if not outcomes and limit == 0:
            return 0
        now = self.clock()
        try:
            paused, claimed = await asyncio.to_thread(self._store_step, outcomes, room, limit, now)
        except StoreError:
            self._outcomes = outcomes + self._outcomes  # recorded at the next try
            raise
        for name in paused:
            log.warning(
                "endpoint %s paused after %d consecutive failures; "
                "`syndicator webhooks resume %s` lifts the pause",
                name,
                self.settings.pause_after_failures,
                name,
            )
        for item in claimed:
            self._in_flight[item.endpoint] += 1
            task = asyncio.create_task(self._attempt(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._refresh_depth()
        return len(claimed)

    def _claim_room(self) -> tuple[dict[str, int], int]:
        """How many more deliveries each endpoint, and the worker in all, may claim now.

        Up to twice the concurrency is claimed, so the next attempts are ready when
        one finishes; more would only hold leases while waiting on a semaphore.
        """
        if self._stopping:
            return {}, 0
        room: dict[str, int] = {}
        for name, target in self.targets.items():
            free = 2 * target.concurrency - self._in_flight[name]
            if free > 0:
                room[name] = free
        total = 2 * self.settings.max_concurrency - sum(self._in_flight.values())
        return room, max(0, min(total, sum(room.values())))

    def _store_step(
        self, outcomes: list[Outcome], room: dict[str, int], limit: int, now: datetime
    ) -> tuple[list[str], list[Claimed]]:
        """In a worker thread: record `outcomes`, then claim up to `limit` within
        `room`. A `StoreError` reaches the loop, which tries again; attempts
        it could not record are sent again after their lease: at least once."""
        return self.outbox.record_and_claim(
            outcomes,
            self.settings.pause_after_failures,
            self.owner,
            now,
            room,
            limit,
            self.lease,
        )

    async def _attempt(self, item: Claimed) -> None:
        target = self.targets[item.endpoint]
        try:
            now = self.clock()
            result = await self.sender.send(
                target, item.webhook_id, item.body, timestamp=int(now.timestamp())
            )
            outcome, code, error = result.outcome, result.status_code, result.error
            excerpt, duration, retry_after = (
                result.response_excerpt,
                result.duration_seconds,
                result.retry_after,
            )
        except Exception as exc:  # one bad attempt must not stop the worker
            log.exception("delivery %d to %s crashed", item.id, item.endpoint)
            outcome, code, error = (
                AttemptOutcome.RETRY,
                None,
                f"internal error: {type(exc).__name__}",
            )
            excerpt, duration, retry_after = "", 0.0, None
        finished = self.clock()
        next_at: datetime | None = None
        if outcome is AttemptOutcome.RETRY:
            delay = next_delay(
                self.schedules[item.endpoint], item.attempts + 1, retry_after, self.rng
            )
            if delay is not None:
                next_at = finished + timedelta(seconds=delay)
        self._outcomes.append(
            Outcome(
                item.id, item.endpoint, finished, outcome, code, error, excerpt, duration, next_at
            )
        )
        self._in_flight[item.endpoint] -= 1
        if self.metrics is not None:
            self.metrics.attempts.labels(str(outcome)).inc()
            if outcome is AttemptOutcome.DELIVERED:
                self.metrics.deliveries.labels("delivered").inc()
                self.metrics.latency.observe((finished - item.created_at).total_seconds())
            elif next_at is None:
                self.metrics.deliveries.labels("dead").inc()
        if outcome is not AttemptOutcome.DELIVERED:
            log.warning(
                "delivery %d to %s failed (%s): %s",
                item.id,
                item.endpoint,
                "will retry" if next_at else "dead",
                error or f"HTTP {code}",
            )
        if self._wake is not None:
            self._wake.set()

    async def _refresh_depth(self) -> None:
        if self.metrics is None or time.monotonic() - self._last_depth < _DEPTH_EVERY:
            return
        self._last_depth = time.monotonic()
        try:
            depth = await asyncio.to_thread(self.outbox.queue_depth)
        except StoreError:
            return
        self.metrics.queue_depth.set(depth)

    async def _sleep(self) -> None:
        wait = _FLUSH_EVERY if self._tasks else _IDLE_WAIT
        if not self._tasks:
            due = await asyncio.to_thread(self.outbox.next_due, list(self.targets))
            if due is not None:
                # Never zero: a due row leased by another process would spin the loop.
                wait = min(wait, max(_FLUSH_EVERY, (due - self.clock()).total_seconds()))
        await self._wait(wait)

    async def _wait(self, seconds: float) -> None:
        """Until `wake()` (an attempt finished, events were committed) or `seconds`."""
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    async def _finish(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._last_depth = 0.0
        try:
            await self._cycle(claim=False)  # record what is left
        except StoreError as exc:
            # Sent again after their lease, by this process or another.
            log.error("cannot record the last delivery outcomes: %s", exc)
