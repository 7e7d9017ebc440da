"""`syndicator run`: scheduled polls and builds, deliveries and the HTTP server.

One process, one asyncio loop. uvicorn serves the ASGI app; the app's
lifespan starts an APScheduler `BackgroundScheduler` whose single worker
thread runs the poll-and-build job (never two at once, missed runs coalesced,
a first run at start-up). A build hands its documents to the in-memory
`DocumentSet`, which the HTTP layer serves. SIGTERM/SIGINT stop the server,
let the job in flight finish (bounded), and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import orjson
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from syndicator.config import Settings
from syndicator.core.changes import format_time
from syndicator.delivery.worker import DeliveryWorker
from syndicator.errors import SourceUnavailable, StoreError, SyndicatorError
from syndicator.metrics import Metrics
from syndicator.pipeline import Pipeline, Published
from syndicator.progress import terminal_progress
from syndicator.render.feeds import INDEX_PATH
from syndicator.store.coordination import (
    DOCUMENTS_CHANNEL,
    EVENTS_CHANNEL,
    BuilderLock,
    Signals,
)
from syndicator.store.store import Store
from syndicator.web.app import create_app
from syndicator.web.documents import Document, DocumentSet
from syndicator.web.server import make_server, request_shutdown
from syndicator.websub import WebSub
from syndicator.wiring import make_pipeline, open_store, utc_now

__all__ = ["Daemon", "run_daemon"]

log = logging.getLogger(__name__)

JOB_ID = "poll-and-build"
#: /healthz turns 503 after this many polls failed in a row.
UNHEALTHY_AFTER = 3
#: How often a process that does not build checks whether the role is free.
ELECTION_SECONDS = 2.0
#: How long shutdown waits for a job in flight before leaving it uncommitted.
SHUTDOWN_GRACE_SECONDS = 8.0


def to_documents(published: list[Published]) -> dict[str, Document]:
    """Rendered output as served documents, keyed by URL path."""
    return {
        ("/" if doc.path == INDEX_PATH else f"/{doc.path}"): Document.build(
            doc.body, doc.content_type, doc.last_modified
        )
        for doc in published
    }


class Daemon:
    """The long-running service: owns the scheduler, the documents and the health state."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        pipeline: Pipeline,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.store = store
        self.pipeline = pipeline
        self.clock = clock
        self.metrics = Metrics()
        self.documents = DocumentSet()
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.consecutive_failures = 0
        self.last_poll: dict[str, Any] | None = None
        self._listeners: list[Callable[[], None]] = []
        self.outbox = store.outbox
        self.worker = DeliveryWorker(
            settings, self.outbox, owner=self.identity, clock=clock, metrics=self.metrics
        )
        self.on_events_committed(self.worker.wake)
        self.websub = WebSub(settings, store, self.documents, clock=clock, metrics=self.metrics)
        self.builder_lock = BuilderLock(store)
        self.is_builder = False
        self.signals = Signals(
            store, {EVENTS_CHANNEL: self.worker.wake, DOCUMENTS_CHANNEL: self.sync_documents}
        )
        self._documents_version = 0
        self._sync_lock = threading.Lock()
        self._job_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                "election": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )

    def on_events_committed(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the job thread) whenever a poll committed new events."""
        self._listeners.append(listener)

    # -- the job --------------------------------------------------------------

    def elect(self) -> None:
        """Take the poll-and-build role when it is free; start polling at once if we did."""
        try:
            held = self.builder_lock.held()
        except Exception:
            log.exception("builder election failed")
            held = False
        if held and not self.is_builder:
            log.info("this process (%s) now polls and builds", self.identity)
            self._register()
            self.is_builder = True
            if self.scheduler.running:
                self.scheduler.modify_job(JOB_ID, next_run_time=self.clock())
        elif not held and self.is_builder:
            log.warning("this process (%s) lost the builder role", self.identity)
            self.is_builder = False

    def sync_documents(self) -> None:
        """Serve the documents the builder published in the database (PostgreSQL only)."""
        if not self.builder_lock.shared:
            return
        with self._sync_lock:
            try:
                version, docs = self.store.feeds.load_documents(self._documents_version)
            except StoreError as exc:
                log.warning("cannot load published documents: %s", exc)
                return
            if docs:
                self.documents.update(
                    to_documents([Published(p, b, ct, lm) for p, b, ct, lm in docs])
                )
            self._documents_version = version

    def poll_and_build(self) -> None:
        """One scheduled run; never raises (a failing poll must not stop the schedule)."""
        if self.builder_lock.shared:
            self.elect()
        if not self.is_builder:
            self.sync_documents()  # in case a NOTIFY was missed
            return
        with self._job_lock:
            started = self.clock()
            with self.metrics.poll_seconds.time():
                self._run_job(started)

    def _run_job(self, started: datetime) -> None:
        try:
            changes = self.pipeline.poll()
        except SourceUnavailable as exc:
            self._poll_failed(started, str(exc))
            self._build()  # a new process still publishes what the store holds
            return
        except SyndicatorError as exc:
            log.error("poll failed: %s", exc)
            self._poll_failed(started, str(exc))
            return
        except Exception as exc:  # the schedule must survive any bug in one poll
            log.exception("poll crashed")
            self._poll_failed(started, f"internal error: {type(exc).__name__}")
            return
        self.consecutive_failures = 0
        self.metrics.consecutive_poll_failures.set(0)
        self.metrics.polls.labels("ok").inc()
        self.metrics.count_changes(changes)
        self.last_poll = {
            "time": format_time(self.clock()),
            "outcome": "ok",
            "counts": changes.as_dict(),
        }
        if changes.changed:
            for listener in self._listeners:
                listener()
            self.signals.notify(EVENTS_CHANNEL)
        self._build()

    def _poll_failed(self, started: datetime, error: str) -> None:
        self.consecutive_failures += 1
        self.metrics.consecutive_poll_failures.set(self.consecutive_failures)
        self.metrics.polls.labels("failed").inc()
        self.last_poll = {"time": format_time(started), "outcome": "failed", "error": error}

    def _build(self) -> None:
        try:
            result = self.pipeline.build()
        except (SyndicatorError, OSError) as exc:
            log.error("build failed: %s", exc)
            return
        except Exception:
            log.exception("build crashed")
            return
        if result.documents:
            self.websub.published(result.documents)  # first: it must see the old bytes
            self.documents.update(to_documents(result.documents))
            self.metrics.feeds_rendered.inc(len(result.documents))
            if self.builder_lock.shared:
                self._share(result.documents)
        with contextlib.suppress(StoreError):
            self.metrics.articles.set(self.store.articles.counts()["articles"])

    def _share(self, published: list[Published]) -> None:
        """Publish documents whose bytes changed to the other processes."""
        changed = [(doc.path, doc.body, doc.content_type, doc.last_modified) for doc in published]
        try:
            self.store.feeds.save_documents(changed, self.clock())
        except StoreError as exc:
            log.error("cannot share documents: %s", exc)
            return
        self.signals.notify(DOCUMENTS_CHANNEL)

    # -- health ---------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while the database answers and polls are not failing in a row."""
        body: dict[str, Any] = {
            "status": "ok",
            "process": self.identity,
            "role": "builder" if self.is_builder else "standby",
            "last_poll": self.last_poll,
            "consecutive_poll_failures": self.consecutive_failures,
            "documents": len(self.documents),
        }
        try:
            self.store.ping()
            body["database"] = "ok"
        except StoreError:
            body["database"] = "unreachable"
            body["status"] = "unhealthy"
        if self.consecutive_failures >= UNHEALTHY_AFTER:
            body["status"] = "unhealthy"
        return body["status"] == "ok", body

    # -- lifecycle ------------------------------------------------------------

    def _register(self) -> None:
        now = self.clock()
        value = orjson.dumps({"id": self.identity, "since": format_time(now)}).decode()
        self.store.polls.set_meta("builder", value, now)

    def start(self) -> None:
        """Serve what is already published, then start the schedule (first run now)."""
        if self.builder_lock.shared:
            self.sync_documents()
            self.elect()
            self.signals.start()
            self.scheduler.add_job(
                self.elect,
                "interval",
                seconds=ELECTION_SECONDS,
                id="builder-election",
                executor="election",
                replace_existing=True,
            )
        else:
            # One process per SQLite file: it builds, and claims left by a
            # killed run are its own to retake.
            self.is_builder = True
            self._register()
            self.outbox.release_claims(self.clock())
            try:
                self.documents.update(to_documents(self.pipeline.load_published()))
            except (SyndicatorError, OSError) as exc:
                log.warning("could not load published feeds: %s", exc)
        self.scheduler.add_job(
            self.poll_and_build,
            "interval",
            seconds=self.settings.poll.interval_seconds,
            id=JOB_ID,
            replace_existing=True,
            next_run_time=self.clock(),
        )
        self.scheduler.start()

    def stop(self, timeout: float = SHUTDOWN_GRACE_SECONDS) -> bool:
        """Stop scheduling; wait up to `timeout` for the job in flight (False: still running)."""
        self.scheduler.shutdown(wait=False)
        self.signals.stop()
        finished = self._job_lock.acquire(timeout=timeout)
        if finished:
            self._job_lock.release()
            self.builder_lock.release()
        return finished

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """ASGI lifespan: the scheduler runs exactly while the server does."""
        await self.websub.start()
        await asyncio.to_thread(self.start)
        delivering = asyncio.create_task(self.worker.run())
        try:
            yield
        finally:
            self.worker.stop()
            try:
                await asyncio.wait_for(asyncio.shield(delivering), timeout=3.0)
            except TimeoutError:
                delivering.cancel()  # unrecorded attempts are re-sent after restart
            await self.worker.aclose()
            await self.websub.aclose()
            finished = await asyncio.to_thread(self.stop)
            if not finished:
                log.warning("poll still running at shutdown; its uncommitted work is discarded")
                self.abandoned = True

    abandoned = False

    def app(self) -> Any:
        """The ASGI application of this daemon."""
        return create_app(
            self.documents,
            health=self.health,
            metrics=self.metrics.export,
            extra_routes=self.websub.routes(),
            link_headers=self.websub.link_header,
            lifespan=self.lifespan,
        )


async def _serve(daemon: Daemon) -> None:
    server_settings = daemon.settings.server
    server = make_server(daemon.app(), server_settings.host, server_settings.port)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_shutdown, server)
    log.info(
        "serving feeds on http://%s:%d/ (for example /feeds/all.atom); public base URL %s",
        server_settings.host,
        server_settings.port,
        daemon.settings.site.base_url,
    )
    try:
        await server.serve()
    except SystemExit as exc:
        # uvicorn ends a failed start-up (port in use, lifespan error) with
        # sys.exit(3); SPEC §8 wants exit 1 for a runtime failure, and the
        # SystemExit would otherwise bypass the check below.
        raise SyndicatorError(
            f"could not listen on {server_settings.host}:{server_settings.port}"
        ) from exc
    if not server.started:
        raise SyndicatorError(f"could not listen on {server_settings.host}:{server_settings.port}")


def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    store = open_store(settings)
    pipeline = make_pipeline(settings, store, terminal_progress())
    daemon = Daemon(settings, store, pipeline)
    try:
        asyncio.run(_serve(daemon))
    finally:
        if not daemon.abandoned:
            store.close()
    if daemon.abandoned:
        # Worker threads are joined at interpreter exit; do not wait for the
        # in-flight poll, whose transaction was never committed.
        logging.shutdown()
        os._exit(0)
    log.info("stopped")
    return 0
