"""The poll-and-build use case: source → change detection → store → feeds.

`Pipeline.poll()` reads the source and commits article state, watermark,
quarantine and outbox events in one transaction (SPEC §3). `Pipeline.build()`
renders the feeds of the topics that transaction marked dirty and writes them
atomically; the dirty marks are cleared only after the files are in place, so
a crash in between just renders them again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import orjson

from syndicator import __version__
from syndicator.config import Settings
from syndicator.core.changes import StoredState, classify, content_version
from syndicator.core.records import parse_record
from syndicator.core.routing import Route
from syndicator.core.urls import FEED_FORMATS, feed_path
from syndicator.errors import RecordInvalid, SourceUnavailable
from syndicator.models import (
    ALL_TOPIC,
    Article,
    ChangeKind,
    ChangeSet,
    PollOutcome,
    Quarantined,
    RenderedArticle,
)
from syndicator.output import OutputDir
from syndicator.ports import ArticleSource, Clock, SourceItem
from syndicator.render.cache import set_fragment_budget
from syndicator.render.feeds import (
    CONTENT_TYPES,
    INDEX_PATH,
    OPML_PATH,
    FeedInfo,
    TopicSummary,
    render_feed,
    render_index,
    render_opml,
)
from syndicator.render.html import render_markdown
from syndicator.store.store import Change, PollRecord, Store, TopicRow, Tx

__all__ = ["BuildResult", "Pipeline", "Progress", "Published"]

log = logging.getLogger(__name__)

_CHUNK = 1000
_WRITE_BATCH = 150  # documents written (and fsynced) together
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Progress(Protocol):
    """Receives progress of a long poll (a terminal progress bar, or nothing)."""

    def update(self, done: int, total: int | None) -> None:
        """Report bytes read so far."""

    def close(self) -> None:
        """The poll finished."""


@dataclass(frozen=True, slots=True)
class Published:
    """A rendered document and the URL path it is served at."""

    path: str  # relative to the site root and the output folder
    body: bytes
    content_type: str
    last_modified: datetime


@dataclass(slots=True)
class BuildResult:
    """What a build rendered and wrote."""

    topics: list[str] = field(default_factory=list)
    documents: list[Published] = field(default_factory=list)
    rendered: int = 0
    written: int = 0


@dataclass(slots=True)
class _Prepared:
    """A validated chunk of a poll, ready to be classified and written."""

    #: Quarantine ranges being re-read, to forget before this chunk's rejections.
    refreshed: list[tuple[str, int]]
    rejected: list[tuple[str, int | None, Quarantined]] = field(default_factory=list)
    #: (article, content hash, record as stored)
    valid: list[tuple[Article, str, str]] = field(default_factory=list)
    newest: datetime | None = None


class Pipeline:
    """Polls the source into the store and renders the feeds that changed."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: ArticleSource,
        clock: Clock,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.clock = clock
        self.progress = progress
        self.output = OutputDir(settings.feeds.output_dir)
        set_fragment_budget(settings.feeds.render_cache_mb * 1024 * 1024)
        self._checked_output = False
        self.routes = tuple(
            Route(hook.name, frozenset(hook.events), frozenset(hook.topics))
            for hook in settings.webhooks
        )

    # -- poll ---------------------------------------------------------------

    def poll(self) -> ChangeSet:
        """Read the source once and commit what changed; raise `SourceUnavailable` on failure."""
        started = self.clock()
        tick = time.perf_counter()
        try:
            changes = self._poll(started)
        except SourceUnavailable as exc:
            self.store.record_poll(
                PollRecord(
                    self.source.name, started, self.clock(), PollOutcome.FAILED, {}, str(exc)
                )
            )
            log.warning("poll failed: %s", exc)
            raise
        self.store.record_poll(
            PollRecord(
                self.source.name, started, self.clock(), PollOutcome.OK, changes.as_dict(), None
            )
        )
        log.info(
            "poll ok: %d created, %d updated, %d ignored, %d quarantined in %.3f s",
            changes.created,
            changes.updated,
            changes.ignored,
            changes.quarantined,
            time.perf_counter() - tick,
            extra={"counts": changes.as_dict()},
        )
        return changes

    def _poll(self, now: datetime) -> ChangeSet:
        watermark, cursor = self.store.source_state(self.source.name)
        overlap = timedelta(seconds=self.settings.poll.overlap_seconds)
        since = None if watermark is None else watermark - overlap
        batch = self.source.poll(since, cursor)
        changes = ChangeSet()
        horizon = now + timedelta(seconds=self.settings.poll.future_tolerance_seconds)
        newest = watermark
        # Validation (CPU) of one chunk overlaps the database writes of the
        # previous one, which run on a writer thread: SQLite and psycopg
        # release the GIL while they work. Only that thread touches `tx`.
        with (
            self.store.transaction(now) as tx,
            ThreadPoolExecutor(1, thread_name_prefix="ingest") as writer,
        ):
            forgotten = 0
            in_flight: Future[None] | None = None
            for chunk in _chunks(batch.items, _CHUNK):
                prepared = self._prepare(chunk, horizon, batch.refreshed[forgotten:])
                forgotten = len(batch.refreshed)
                if prepared.newest is not None and (newest is None or prepared.newest > newest):
                    newest = prepared.newest
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(self._write, tx, prepared, changes)
                if self.progress is not None:
                    self.progress.update(batch.read_bytes, batch.total_bytes)
            if in_flight is not None:
                in_flight.result()
            for origin, line in batch.refreshed[forgotten:]:
                tx.forget_quarantine(self.source.name, origin, line)
            tx.set_source(self.source.name, newest, batch.cursor)
        if self.progress is not None:
            self.progress.close()
        return changes

    def _prepare(
        self, chunk: list[SourceItem], horizon: datetime, refreshed: list[tuple[str, int]]
    ) -> _Prepared:
        """Validate a chunk of records (no database access)."""
        prepared = _Prepared(refreshed=refreshed)
        limits = self.settings.source.limits
        rejected, valid = prepared.rejected, prepared.valid
        for item in chunk:
            if item.error is not None:
                rejected.append((item.origin, item.line, Quarantined(item.location, item.error)))
                continue
            try:
                article = parse_record(item.data, limits, clean=item.clean)
            except RecordInvalid as exc:
                rejected.append(
                    (item.origin, item.line, Quarantined(item.location, exc.reason, exc.slug))
                )
                continue
            if article.updated_at > horizon:
                reason = "updated_at: too far in the future (beyond poll.future_tolerance_seconds)"
                rejected.append(
                    (item.origin, item.line, Quarantined(item.location, reason, article.slug))
                )
                continue
            valid.append((article, *content_version(article)))
            if prepared.newest is None or article.updated_at > prepared.newest:
                prepared.newest = article.updated_at
        return prepared

    def _write(self, tx: Tx, prepared: _Prepared, changes: ChangeSet) -> None:
        """Classify a validated chunk against the store and write what changed."""
        for origin, line in prepared.refreshed:
            tx.forget_quarantine(self.source.name, origin, line)
        rejected = prepared.rejected
        tx.add_quarantine(self.source.name, rejected)
        changes.quarantined += len(rejected)
        for _origin, _line, what in rejected:
            log.warning("quarantined %s: %s", what.source, what.reason)
        states = tx.states(sorted({article.slug for article, _, _ in prepared.valid}))
        pending: list[Change] = []
        pending_slugs: set[str] = set()
        for article, digest, record in prepared.valid:
            if article.slug in pending_slugs:
                # A later version in the same chunk: write the earlier one first.
                changes.touched_topics |= tx.apply(
                    pending, self.settings.site.base_url, self.routes
                )
                pending, pending_slugs = [], set()
            stored = states.get(article.slug)
            kind = classify(stored, article, digest)
            if kind is ChangeKind.IGNORED:
                changes.ignored += 1
                continue
            old_topics = stored.topics if stored else ()
            pending.append(Change(kind, article, digest, old_topics, record))
            pending_slugs.add(article.slug)
            states[article.slug] = StoredState(article.updated_at, digest, article.topics)
            if kind is ChangeKind.CREATED:
                changes.created += 1
            else:
                changes.updated += 1
        changes.touched_topics |= tx.apply(pending, self.settings.site.base_url, self.routes)

    # -- build --------------------------------------------------------------

    def _fingerprint(self) -> str:
        """What, besides the data, shapes the rendered bytes."""
        s = self.settings
        blob = orjson.dumps(
            [__version__, s.site.model_dump(), s.feeds.max_entries, s.websub.model_dump()]
        )
        return hashlib.sha256(blob).hexdigest()

    def hub_urls(self) -> tuple[str, ...]:
        """WebSub hubs advertised in every feed."""
        websub = self.settings.websub
        if not websub.enabled:
            return ()
        return (f"{self.settings.site.base_url}{websub.hub_path}", *websub.external_hubs)

    def build(self, *, full: bool = False, keep_documents: bool = True) -> BuildResult:
        """Render and write the feeds of dirty topics (every topic when `full`).

        With `keep_documents` the result carries every rendered document (the
        daemon serves them); a one-shot run leaves them on disk only.
        """
        now = self.clock()
        fingerprint = self._fingerprint()
        if self.store.get_meta("render_fingerprint") != fingerprint:
            full = True
        rows = {row.name: row for row in self.store.topics()}
        dirty = set(rows) if full else set(self.store.dirty_topics())
        if not self._checked_output:
            self.output.prepare()
            dirty |= {name for name in rows if not self._complete(name)}
            if not (self.output.exists(INDEX_PATH) and self.output.exists(OPML_PATH)):
                dirty.add(ALL_TOPIC)
        result = BuildResult()
        if not dirty:
            self._checked_output = True
            return result
        html_cache: dict[tuple[str, str], str] = {}
        pending: list[Published] = []
        for topic in sorted(dirty):
            row = rows.get(topic)
            if row is None:
                continue
            result.topics.append(topic)
            pending.extend(self._render_topic(topic, row.changed_at or _EPOCH, html_cache))
            if len(pending) >= _WRITE_BATCH:
                self._flush(pending, result, keep_documents, html_cache, now)
                pending = []
        pending.extend(self._render_listings(list(rows.values())))
        self._flush(pending, result, keep_documents, html_cache, now)
        self.store.clear_dirty(dirty, now)
        if full:
            self.store.set_meta("render_fingerprint", fingerprint, now)
        self._checked_output = True
        log.info(
            "build: %d topics rendered, %d files written",
            len(result.topics),
            result.written,
        )
        return result

    def _flush(
        self,
        docs: list[Published],
        result: BuildResult,
        keep: bool,
        html_cache: dict[tuple[str, str], str],
        now: datetime,
    ) -> None:
        """Write a batch of documents, and cache the bodies rendered for them."""
        result.written += self.output.write_many([(doc.path, doc.body) for doc in docs])
        result.rendered += len(docs)
        if keep:
            result.documents.extend(docs)
        # Once stored, later topics read these bodies from the store; a crash
        # before this costs only a second rendering.
        self.store.save_html([(s, d, h) for (s, d), h in html_cache.items()], now)
        html_cache.clear()

    def _complete(self, topic: str) -> bool:
        return all(self.output.exists(feed_path(topic, fmt)) for fmt in FEED_FORMATS)

    def _render_topic(
        self, topic: str, updated: datetime, html_cache: dict[tuple[str, str], str]
    ) -> Iterator[Published]:
        entries = self.store.feed_entries(topic, self.settings.feeds.max_entries)
        rendered = []
        for article, html, digest in entries:
            if html is None and article.body_md:
                key = (article.slug, digest)
                html = html_cache.get(key)
                if html is None:
                    html = html_cache[key] = render_markdown(article.body_md)
            rendered.append(RenderedArticle(article, html, digest))
        info = FeedInfo(
            site_title=self.settings.site.title,
            base_url=self.settings.site.base_url,
            topic=topic,
            updated=updated,
            hub_urls=self.hub_urls(),
            language=self.settings.site.language,
        )
        for fmt in FEED_FORMATS:
            body = render_feed(fmt, info, rendered)
            yield Published(feed_path(topic, fmt), body, CONTENT_TYPES[fmt], updated)

    def _render_listings(self, rows: list[TopicRow]) -> list[Published]:
        summaries = [TopicSummary(r.name, r.articles, r.changed_at) for r in rows]
        newest = max((s.updated for s in summaries if s.updated), default=_EPOCH)
        site = self.settings.site
        return [
            Published(
                OPML_PATH,
                render_opml(site.title, site.base_url, summaries),
                CONTENT_TYPES["opml"],
                newest,
            ),
            Published(
                INDEX_PATH,
                render_index(site.title, site.base_url, summaries),
                CONTENT_TYPES["html"],
                newest,
            ),
        ]

    def load_published(self) -> list[Published]:
        """Every document currently in the output folder (what a new server serves first)."""
        rows = self.store.topics()
        docs: list[Published] = []
        for row in rows:
            updated = row.changed_at or _EPOCH
            for fmt in FEED_FORMATS:
                path = feed_path(row.name, fmt)
                if self.output.exists(path):
                    body = (self.output.root / path).read_bytes()
                    docs.append(Published(path, body, CONTENT_TYPES[fmt], updated))
        return docs + self._render_listings(list(rows))


def _chunks(items: Iterator[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    chunk: list[SourceItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
