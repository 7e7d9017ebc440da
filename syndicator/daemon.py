"""`syndicator run`: scheduled polls and builds, deliveries and the HTTP server.

One process, one asyncio loop. uvicorn serves the ASGI app; the app's
lifespan starts an APScheduler `BackgroundScheduler` whose single worker
thread runs the poll-and-build job (never two at once, missed runs coalesced,
a first run at start-up); a second thread runs the retention pass
(`syndicator.retention`) at start-up and every minute. A build hands its documents to the in-memory
`DocumentSet`, which the HTTP layer serves. Which process builds and how its
documents reach the others is the `syndicator.coordination` strategy's,
chosen once in `run_daemon`. SIGTERM/SIGINT stop the server, let the job in
flight finish (bounded), and exit 0.

Start-up order: the listening socket is bound first, before the database is
opened, so a `run` that cannot serve (a busy port) exits 1 having polled,
built, registered and changed nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

from syndicator.analytics import Recorder, SubscriberCollector
from syndicator.build import Builder
from syndicator.build.export import exported, facet_loaders, write_changed
from syndicator.build.reuse import sha256
from syndicator.config import Settings, ping_secrets
from syndicator.config import console_token as configured_console_token
from syndicator.coordination import Coordination, Hooks, for_store
from syndicator.coordination.base import process_identity
from syndicator.coordination.presence import Heartbeat
from syndicator.core.times import db_time, format_time
from syndicator.delivery.worker import DeliveryWorker
from syndicator.errors import SourceUnavailable, StoreError, SyndicatorError
from syndicator.ingest import Poller
from syndicator.metrics import Metrics
from syndicator.models import ALL_TOPIC, Published
from syndicator.processes import collect_idle
from syndicator.progress import terminal_progress
from syndicator.push import REQUESTS_SECONDS, Push
from syndicator.render.feeds import INDEX_PATH
from syndicator.retention import Pruner
from syndicator.store.polls import SERVED_KEY
from syndicator.store.store import Store
from syndicator.web.app import create_app
from syndicator.web.documents import (
    DEFAULT_CACHE_CONTROL,
    Document,
    DocumentSet,
    DocumentUnavailable,
    cache_control,
    stand_in,
    without_body,
)
from syndicator.web.server import make_server, request_shutdown, run_loop
from syndicator.websub.service import WebSub
from syndicator.wiring import make_builder, make_poller, make_workers, open_store, utc_now

if TYPE_CHECKING:
    from syndicator.console import Console, FeedTraffic

__all__ = ["Daemon", "Shutdown", "run_daemon"]

log = logging.getLogger(__name__)

JOB_ID = "poll-and-build"
REQUESTS_JOB_ID = "poll-requests"
#: The one-off build at the next embargo instant, replaced after every build.
RELEASE_JOB_ID = "embargo-release"
PRUNE_JOB_ID = "prune"
FACET_REFRESH_JOB_ID = "facet-refresh"
#: Seconds between two checks for facet feeds changed by another process.
FACET_REFRESH_SECONDS = 0.5
#: Seconds between two retention passes (the first runs at start-up).
PRUNE_INTERVAL_SECONDS = 60.0
#: /healthz turns 503 after this many polls failed in a row.
UNHEALTHY_AFTER = 3
#: How long shutdown waits for a job in flight before leaving it uncommitted.
SHUTDOWN_GRACE_SECONDS = 8.0


class Shutdown(enum.Enum):
    """How `Daemon.stop` left the poll-and-build job."""

    #: No job in flight: the builder role was given up, the store may close.
    CLEAN = "clean"
    #: A poll still runs; its transaction never commits once the process exits.
    POLL_ABANDONED = "poll-abandoned"


def url_path(path: str) -> str:
    """The URL path a published document (relative to the output folder) is served at."""
    return "/" if path == INDEX_PATH else f"/{path}"


def to_documents(
    published: Iterable[Published], *, max_age: int | None = None
) -> dict[str, Document]:
    """Rendered output as served documents, keyed by URL path (a lazy one, with
    no body, as its validators alone)."""
    control = DEFAULT_CACHE_CONTROL if max_age is None else cache_control(max_age)
    docs: dict[str, Document] = {}
    for doc in published:
        if doc.sha256 is not None and not doc.body:
            served = stand_in(doc.sha256, doc.content_type, doc.last_modified, control)
        else:
            served = Document.build(
                doc.body, doc.content_type, doc.last_modified, cache_control=control
            )
        docs[url_path(doc.path)] = served
    return docs


class _Loader:
    """What the app loads on demand: facet feeds (rendered), and the bodies of
    lazy documents (read from the output folder, or the database when another
    process built them)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.facets = daemon.facets
        self.directory = daemon.directory
        self.cache = daemon.facets.cache

    def wants(self, path: str) -> bool:
        return self.facets.wants(path) or self.directory.wants(path)

    def validators(self, path: str) -> Document | None:
        try:
            if self.directory.wants(path):
                return self.directory.validators(path)
            return self.facets.validators(path)
        except StoreError as exc:
            raise DocumentUnavailable(path) from exc  # the database is unreachable

    def load(self, path: str) -> Document | None:
        try:
            if self.facets.wants(path):
                return self.facets.load(path)  # cached by it, with its data version
            if self.directory.wants(path):
                doc = self.directory.load(path)
            else:
                doc = self.daemon.read_body(path)
        except StoreError as exc:
            log.warning("cannot serve %s now: %s", path, exc)
            raise DocumentUnavailable(path) from exc  # a 503: come back shortly
        if doc is not None:
            self.cache.put(path, doc)
        return doc


class Daemon:
    """The long-running service: schedules polls and builds, serves documents, reports health.

    Who builds and how documents reach other processes is `coordination`'s.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        poller: Poller,
        builder: Builder,
        coordination: Coordination,
        *,
        clock: Callable[[], datetime] = utc_now,
        ping_secrets: Sequence[bytes] = (),
        console_token: str | None = None,
        feed_traffic: FeedTraffic | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.poller = poller
        self.builder = builder
        self.coordination = coordination
        self.clock = clock
        self.metrics = Metrics()
        #: The validators of every built document; their bodies are in the
        #: bounded cache of `facets`, shared with the facet feeds.
        self.documents = DocumentSet()
        self.identity = coordination.identity
        self.consecutive_failures = 0
        self.last_poll: dict[str, Any] | None = None
        #: How the lifespan's `stop` went; None while serving (see `run_daemon`).
        self.stopped: Shutdown | None = None
        self.worker = DeliveryWorker(
            settings, store.outbox, owner=self.identity, clock=clock, metrics=self.metrics
        )
        #: Entity, language and custom feeds, and the entity directory with its
        #: OPML file: rendered on request, kept in a bounded cache.
        self.facets, self.directory = facet_loaders(settings, store, builder, clock)
        self.websub = WebSub(
            settings,
            store,
            self.documents,
            clock=clock,
            metrics=self.metrics,
            on_demand=self.facets.exists,
            read_body=builder.output.read,
        )
        # Served from validators, read back on demand: a full rebuild does not
        # hold every document at once. Other processes get the bytes through
        # the database when documents are shared (PostgreSQL).
        builder.keep_bodies = coordination.shares_documents
        self.pruner = Pruner(store, settings.retention.days)
        #: Reader analytics: counted by the app's observer, flushed on a thread.
        self.readers = Recorder(store.readers, clock=clock)
        self.metrics.registry.register(SubscriberCollector(store.readers, clock))
        self.heartbeat = Heartbeat(
            store,
            self.identity,
            lambda: "builder" if coordination.is_builder else "standby",
            clock=clock,
        )
        self._job_lock = threading.Lock()
        self._repairs: dict[str, float] = {}  # output file → when its repair was last logged
        self._counted_renders = 0  # on-demand renders already in syndicator_feeds_rendered
        #: Every "poll now" (file change, source ping, `syndicator poll`, SIGHUP)
        #: and the scheduled safety-net poll go through its trigger.
        self.push = Push(settings, store, self.poll_and_build, ping_secrets)
        #: The operator console at /console/, when a token turns it on.
        self.console: Console | None = None
        if console_token is not None:
            # Imported here: a daemon without a console never loads its views.
            from syndicator.console import Console, StoreTraffic

            self.console = Console(
                settings,
                store,
                console_token,
                wake=self._deliveries_due,
                # Reader analytics from the store unless a test gives its own.
                traffic=feed_traffic or StoreTraffic(store, clock),
                clock=clock,
            )
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                # Checks for poll requests while a poll runs on the default executor.
                "requests": ThreadPoolExecutor(max_workers=1),
                # Drops facet documents another process's build made stale.
                "refresh": ThreadPoolExecutor(max_workers=1),
                # Pruning has a thread of its own: a long first pass over a year of
                # deliveries must not hold back the poll, which only ever waits for
                # one of its short transactions.
                "retention": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )

    # -- the job --------------------------------------------------------------

    def hang_up(self) -> None:
        """SIGHUP: poll now. A process that does not build asks the one that
        does, through the store, as `syndicator poll` does."""
        if self.coordination.is_builder:
            self.push.trigger.request()
            return

        def ask() -> None:
            try:
                self.store.polls.request_poll(self.clock())
            except StoreError as exc:
                log.error("SIGHUP: cannot ask the builder to poll: %s", exc)
                return
            log.info("SIGHUP: asked the builder to poll")

        # Off the event loop, which runs signal handlers: the write may wait.
        threading.Thread(target=ask, name="sighup", daemon=True).start()

    def poll_and_build(self) -> None:
        """One scheduled run; never raises (a failing poll must not stop the schedule)."""
        if not self.coordination.take_turn():
            self._count_articles()  # the builder counts after each build
            return
        with self._job_lock:
            started = self.clock()
            with self.metrics.poll_seconds.time():
                self._run_job(started)
            collect_idle()  # after the feeds are out: the next job starts with none due

    def _run_job(self, started: datetime) -> None:
        try:
            changes = self.poller.poll()
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
        self.metrics.polls.labels("ok").inc()
        self.metrics.count_changes(changes)
        self.last_poll = {
            "time": format_time(self.clock()),
            "outcome": "ok",
            "counts": changes.as_dict(),
        }
        # Last: /healthz decides on this count, and what it shows beside it
        # (the last poll, the metrics) must already say the same.
        self.consecutive_failures = 0
        self.metrics.consecutive_poll_failures.set(0)
        if changes.changed:
            self.worker.wake()
            self.coordination.events_committed()
        self._build()

    def release_and_build(self) -> None:
        """The job at an embargo instant: publish what is due and build, with no poll."""
        if not self.coordination.take_turn():
            return
        with self._job_lock:
            self._build()
            collect_idle()

    def _poll_failed(self, started: datetime, error: str) -> None:
        self.metrics.polls.labels("failed").inc()
        self.last_poll = {"time": format_time(started), "outcome": "failed", "error": error}
        self.consecutive_failures += 1  # last, as on success
        self.metrics.consecutive_poll_failures.set(self.consecutive_failures)

    def _build(self) -> None:
        try:
            result = self.builder.build()
        except (SyndicatorError, OSError) as exc:
            log.error("build failed: %s", exc)
            return
        except Exception:
            log.exception("build crashed")
            return
        finally:
            self._schedule_release()
        if result.documents:
            self.websub.published(result.documents)  # first: it must see the old bytes
            self._serve_documents(result.documents)
            self.metrics.feeds_rendered.inc(len(result.documents))
            self.coordination.share(result.documents)
            with contextlib.suppress(StoreError):
                self.store.polls.set_meta(SERVED_KEY, db_time(self.clock()), self.clock())
        if result.facets or result.full:
            self._facets_changed(result.facets)
        self._keep_export(result.facets, result.full)
        self._count_articles()

    def _count_articles(self) -> None:
        with contextlib.suppress(StoreError):
            self.metrics.articles.set(self.store.articles.counts()["articles"])

    def _facets_changed(self, names: Sequence[str]) -> None:
        """Drop the cached documents of changed facet feeds; render now the ones
        WebSub subscribers follow, and push them."""
        self.facets.refresh(names)
        self.directory.refresh()
        self._push_followed(self.facets.paths_of(names))

    def _keep_export(self, names: Sequence[str], full: bool) -> None:
        """Keep an exported copy of the facet feeds current after a build: the
        ones it changed, and those other processes' builds changed meanwhile."""
        if not exported(self.builder):
            return
        try:
            write_changed(self.facets, self.directory, self.builder, names, full)
        except (SyndicatorError, StoreError, OSError) as exc:
            log.error("cannot write the exported facet feeds again: %s", exc)

    def _push_followed(self, changed: Sequence[str]) -> None:
        """Render the changed facet feeds (URL paths) WebSub subscribers follow, and push them."""
        paths = {self.websub.topics.url(path): path for path in changed}
        followed = self.websub.subscribed(list(paths))
        if followed:
            try:
                docs = self.facets.publish(paths[url] for url in sorted(followed))
            except (SyndicatorError, StoreError) as exc:
                log.error("cannot render followed facet feeds: %s", exc)
                return
            self.websub.published(docs)  # counted as rendered at the next scrape

    def refresh_facets(self) -> None:
        """Drop facet documents whose data changed (another process's build), and
        push those WebSub subscribers follow when this process builds; never raises."""
        try:
            stale = self.facets.refresh()
            self.directory.refresh()
            # While this process builds, its build pushes what it changed.
            if stale and self.coordination.is_builder and not self._job_lock.locked():
                self._push_followed(stale)
        except StoreError as exc:
            log.warning("cannot check facet feeds for changes: %s", exc)
        except Exception:
            log.exception("facet refresh crashed")

    def _schedule_release(self) -> None:
        """Build again at the next embargo instant (found in the store, so a restart
        keeps it), or drop the job when nothing is held."""
        try:
            due = self.store.embargoes.next_release()
        except StoreError as exc:
            log.error("cannot read the next embargo instant: %s", exc)
            return  # the job already scheduled, or the next poll, will look again
        with contextlib.suppress(SchedulerNotRunningError):
            if due is None:
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(RELEASE_JOB_ID)
                return
            self.scheduler.add_job(
                self.release_and_build,
                "date",
                run_date=due,
                id=RELEASE_JOB_ID,
                replace_existing=True,
            )

    def _serve_shared(self, published: Sequence[Published]) -> None:
        """Serve what coordination hands over (at start, or another process's
        build); a process that does not build counts the articles then."""
        self._serve_documents(published)
        if not self.coordination.is_builder:
            self._count_articles()
            if self.coordination.shares_documents:
                self._write_shared(published)

    def _write_shared(self, published: Sequence[Published]) -> None:
        """Keep this process's `feeds.output_dir` a copy of what is served:
        the builder writes its own folder only (each process may have one)."""
        files = [(doc.path, doc.body) for doc in published if doc.body]
        try:
            self.builder.output.write_many(files)
        except OSError as exc:
            log.error("cannot write the shared feeds to %s: %s", self.builder.output.root, exc)

    def _adopt_documents(self, published: Sequence[Published]) -> None:
        """Feeds another command built beside this daemon: push them to WebSub
        subscribers as this daemon's own builds are, then serve them."""
        self.websub.published(published)  # first: it must see the old bytes
        self._serve_documents(published)

    def _serve_documents(self, published: Sequence[Published]) -> None:
        docs = to_documents(published, max_age=self.settings.cache_max_age())
        # The bytes go to the bounded cache; the set keeps the validators.
        for path, doc in docs.items():
            if not doc.lazy:
                self.facets.cache.put(path, doc)
        # Newer only: another process's build may have been served meanwhile.
        self.documents.update_newer(
            {path: doc if doc.lazy else without_body(doc) for path, doc in docs.items()}
        )

    def read_body(self, path: str) -> Document | None:
        """The document served at `path` with its bytes, read again (the cache let
        them go, or only the validators were loaded at start-up)."""
        known = self.documents.get(path)
        if known is None:
            return None
        relative = INDEX_PATH if path == "/" else path.lstrip("/")
        body = self.builder.output.read(relative)
        content_type, modified = known.content_type, known.last_modified
        if body is None and self.coordination.shares_documents:
            shared = self.store.feeds.document(relative)
            if shared is not None:
                body, content_type, modified = shared
        if body is None:
            self._repair(relative, "missing")
        digest = sha256(body)
        if f'"{digest[:32]}"' != known.etag:
            if not self._recorded(relative, digest):
                self._repair(relative, "altered")
            # Another build replaced the file since: its own bytes, dated now.
            modified = self.builder.output.modified(relative) or self.clock()
        return Document.build(
            body,
            content_type,
            modified,
            cache_control=known.cache_control,
            compresslevel=6,
            digest=digest,
        )

    def _recorded(self, relative: str, digest: str) -> bool:
        """Whether a build recorded these bytes for the file. A build records
        them just after writing it: a file this new is given a moment."""
        for wait in (0.0, 0.25):
            time.sleep(wait)
            if self.store.feeds.recorded_digest(relative) == digest:
                return True
        return False

    def _repair(self, relative: str, how: str) -> NoReturn:
        """A served file is gone or holds bytes no build wrote (something else
        in the output folder changed it): have the builder write it again, and
        ask the reader to come back."""
        name = relative.removeprefix("feeds/").rsplit(".", 1)[0]
        topic = name if relative.startswith("feeds/") and "/" not in name else ALL_TOPIC
        now = time.monotonic()
        if now - self._repairs.get(relative, -60.0) >= 60.0:  # one line a minute per file
            self._repairs[relative] = now
            log.warning("%s is %s in the output folder: writing it again", relative, how)
        with contextlib.suppress(StoreError):
            self.store.feeds.mark_dirty([topic], self.clock())
        self.push.trigger.request()
        raise DocumentUnavailable(relative)

    def _served(self, path: str) -> datetime | None:
        doc = self.documents.get(url_path(path))
        return None if doc is None else doc.last_modified

    def prune(self) -> None:
        """One retention pass (the builder's job); never raises."""
        if not self.coordination.is_builder:
            return  # one process prunes; the others would only queue behind it
        try:
            self.pruner.run(self.clock())
        except StoreError as exc:
            log.warning("retention pass failed (the next one continues): %s", exc)
        except Exception:
            log.exception("retention pass crashed")

    def _run_now(self) -> None:
        """Move the next run to now (this process just became the builder)."""
        if self.scheduler.running:
            with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
                self.scheduler.modify_job(JOB_ID, next_run_time=self.clock())

    def _deliveries_due(self) -> None:
        """Deliveries were made due by hand (console): wake every process's worker."""
        self.worker.wake()
        self.coordination.events_committed()

    # -- health ---------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy while the database answers and polls are not failing in a row."""
        # Read once: the poll thread may reset it while the database is pinged,
        # and the answer must not say "ok" beside a failure count of 3.
        failures = self.consecutive_failures
        body: dict[str, Any] = {
            "status": "ok",
            "process": self.identity,
            "role": "builder" if self.coordination.is_builder else "standby",
            "last_poll": self.last_poll,
            "consecutive_poll_failures": failures,
            "documents": len(self.documents),
        }
        try:
            self.store.ping()
            body["database"] = "ok"
        except StoreError:
            body["database"] = "unreachable"
            body["status"] = "unhealthy"
        if failures >= UNHEALTHY_AFTER:
            body["status"] = "unhealthy"
        return body["status"] == "ok", body

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Serve what is already published, then start the schedule (first run now)."""
        self.coordination.start(
            Hooks(
                serve=self._serve_shared,
                wake_delivery=self.worker.wake,
                elected=self._run_now,
                served=self._served,
                busy=self._job_lock.locked,
                adopt=self._adopt_documents,
            )
        )
        self.heartbeat.start()
        self.scheduler.add_job(
            self.push.trigger.run,
            "interval",
            seconds=self.settings.poll.interval_seconds,
            id=JOB_ID,
            replace_existing=True,
            next_run_time=self.clock(),
        )
        self.scheduler.add_job(
            self.push.check_requests,
            "interval",
            seconds=REQUESTS_SECONDS,
            id=REQUESTS_JOB_ID,
            executor="requests",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.refresh_facets,
            "interval",
            seconds=FACET_REFRESH_SECONDS,
            id=FACET_REFRESH_JOB_ID,
            executor="refresh",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.prune,
            "interval",
            seconds=PRUNE_INTERVAL_SECONDS,
            id=PRUNE_JOB_ID,
            replace_existing=True,
            next_run_time=self.clock(),
            executor="retention",
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.start()
        self.push.start()
        self.readers.start()

    def stop(self, timeout: float = SHUTDOWN_GRACE_SECONDS) -> Shutdown:
        """Stop scheduling; wait up to `timeout` for the job in flight."""
        self.scheduler.shutdown(wait=False)
        self.push.stop()
        self.pruner.stop()  # its transaction in flight commits; no further one starts
        self.readers.stop()  # the server has stopped answering: this flush is the last
        self.coordination.stop()
        if not self._job_lock.acquire(timeout=timeout):
            # Keep the role: another process must not build beside this poll.
            # No stop is recorded either: on SQLite the poll's transaction
            # holds the write lock; the process's exit shows it gone.
            return Shutdown.POLL_ABANDONED
        self._job_lock.release()
        self.coordination.release()
        self.heartbeat.stop()
        return Shutdown.CLEAN

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
            self.stopped = await asyncio.to_thread(self.stop)
            if self.stopped is Shutdown.POLL_ABANDONED:
                log.warning("poll still running at shutdown; its uncommitted work is discarded")

    def _export_metrics(self) -> tuple[bytes, str]:
        """The metrics, counting the feeds rendered on demand since the last scrape."""
        rendered = self.facets.rendered + self.directory.rendered
        self.metrics.feeds_rendered.inc(max(0, rendered - self._counted_renders))
        self._counted_renders = rendered
        return self.metrics.export()

    def app(self) -> Any:
        """The ASGI application of this daemon."""
        routes = dict(self.websub.routes())
        routes.update(self.push.routes())
        return create_app(
            self.documents,
            health=self.health,
            metrics=self._export_metrics,
            extra_routes=routes,
            link_headers=self.websub.link_header,
            lifespan=self.lifespan,
            loader=_Loader(self),
            observer=self.readers.observe,
            mounts=None if self.console is None else {self.console.prefix: self.console},
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on `host:port`, or raise `SyndicatorError` saying why not.

    Done before anything else, so a process that cannot serve changes
    nothing; uvicorn would bind only after running the app's start-up.
    """
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise SyndicatorError(f"could not listen on {where}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening at once: connections made during start-up wait in the
        # backlog and are answered when it ends, rather than refused.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise SyndicatorError(f"could not listen on {where}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


async def _serve(daemon: Daemon, sock: socket.socket) -> None:
    server_settings = daemon.settings.server
    server = make_server(daemon.app(), server_settings.host, server_settings.port)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_shutdown, server)
    loop.add_signal_handler(signal.SIGHUP, daemon.hang_up)
    host, port = sock.getsockname()[:2]
    log.info(
        "serving feeds on http://%s:%d/ (for example /feeds/all.atom); public base URL %s",
        host,
        port,
        daemon.settings.site.base_url,
    )
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        # uvicorn ends a failed start-up (a lifespan error) with sys.exit(3);
        # SPEC §8 wants exit 1 for a runtime failure, and the SystemExit
        # would otherwise bypass the check below.
        raise SyndicatorError(f"could not start serving on {host}:{port}") from exc
    if not server.started:
        raise SyndicatorError(f"could not start serving on {host}:{port}")


def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    sock = bind_socket(settings.server.host, settings.server.port)
    try:
        store = open_store(settings)
    except BaseException:
        sock.close()
        raise
    # Loaded now and kept: every build worth splitting uses both cores, and a
    # poll or build never waits for a worker to start.
    workers = make_workers(settings, keep_warm=True)
    workers.preload()
    poller = make_poller(settings, store, terminal_progress(), workers)
    builder = make_builder(settings, store, workers)
    coordination = for_store(
        store,
        process_identity(),
        clock=utc_now,
        load_published=builder.load_published,
        read_published=builder.read_published,
    )
    daemon = Daemon(
        settings,
        store,
        poller,
        builder,
        coordination,
        ping_secrets=ping_secrets(settings.source),
        console_token=configured_console_token(settings.console),
    )
    # uvicorn runs the lifespan, which stops the daemon, and keeps nothing it
    # returns: `Daemon.stopped` carries the outcome out, whether serving ended
    # normally or with an error (a failed start-up stops the daemon too).
    try:
        run_loop(_serve(daemon, sock))
    finally:
        sock.close()
        stopped = daemon.stopped
        if stopped is not Shutdown.POLL_ABANDONED:
            poller.close()
            workers.close()
            daemon.facets.close()
            store.close()
    if stopped is Shutdown.POLL_ABANDONED:
        # The poll's worker thread would be joined at interpreter exit; do not
        # wait for it: its transaction was never committed.
        logging.shutdown()
        os._exit(0)
    log.info("stopped")
    return 0
