"""The poll-and-build use case: source → change detection → store → feeds.

`Pipeline.poll()` reads the source and commits article state, watermark,
quarantine and outbox events in one transaction (SPEC §3). `Pipeline.build()`
renders the feeds of the topics that transaction marked dirty and writes them
atomically; the dirty marks are cleared only after the files are in place, so
a crash in between just renders them again.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from syndicator import __version__
from syndicator.config import Settings
from syndicator.core.changes import StoredState, article_version, classify
from syndicator.core.records import RecordLimits, parse_record
from syndicator.core.routing import Route
from syndicator.core.urls import FEED_FORMATS, feed_path
from syndicator.errors import RecordInvalid, SourceUnavailable
from syndicator.models import (
    ALL_TOPIC,
    Article,
    ArticleVersion,
    ChangeKind,
    ChangeSet,
    PollOutcome,
    Quarantined,
    RenderedArticle,
)
from syndicator.output import OutputDir
from syndicator.ports import ArticleSource, Clock, SourceBatch, SourceItem
from syndicator.render.cache import FragmentsUnusable, set_fragment_budget
from syndicator.render.feeds import (
    CONTENT_TYPES,
    INDEX_PATH,
    OPML_PATH,
    FeedInfo,
    TopicSummary,
    compose_feed,
    render_index,
    render_opml,
    split_feed,
)
from syndicator.render.html import render_markdown
from syndicator.sources.decode import decoded
from syndicator.store import (
    Change,
    FeedKey,
    FeedManifest,
    PollRecord,
    Store,
    TopicRow,
    Tx,
    feed_key,
)

__all__ = ["BuildResult", "Pipeline", "Progress", "Published"]

log = logging.getLogger(__name__)

_CHUNK = 1000
_WRITE_BATCH = 75  # documents written (and fsynced) together; two batches may be in memory
_LOOKAHEAD = 4  # topics whose previous files are read ahead of rendering
_PREFETCH = 32  # topics whose missing articles are read from the store in one query
# A build of at least this many topics is split between processes: below it
# a worker's start-up (~1 s of imports) costs more than it saves.
_PARALLEL_MIN_TOPICS = 200
# A resumable source's poll commits after about this many records (see `_poll`).
_RECORDS_PER_COMMIT = 200_000
# A poll reading at least this much is validated in worker processes too.
_PARALLEL_MIN_POLL_BYTES = 32 * 1024 * 1024
# Distributions whose output is in the feed bytes (Markdown, sanitiser, XML, JSON).
_RENDER_LIBRARIES = ("pyromark", "nh3", "feedgen", "lxml", "orjson")
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
    #: Entries whose bytes were taken from the previous file instead of rendered.
    reused_entries: int = 0

    def merge(self, other: BuildResult) -> None:
        """Add what another process rendered of the same build."""
        self.topics.extend(other.topics)
        self.documents.extend(other.documents)
        self.rendered += other.rendered
        self.written += other.written
        self.reused_entries += other.reused_entries


@dataclass(frozen=True, slots=True)
class _Composed:
    """What a feed document was composed from: its manifest, once written."""

    topic: str
    fmt: str
    keys: tuple[FeedKey, ...]


@dataclass(slots=True)
class _Run:
    """The state of one build."""

    now: datetime
    fingerprint: str
    keep: bool
    pool: ThreadPoolExecutor
    result: BuildResult = field(default_factory=BuildResult)
    html_cache: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Each topic's entry keys, read for all topics at once (incremental builds).
    keys: dict[str, list[FeedKey]] = field(default_factory=dict)
    #: Articles the next topics' previous files lack, read together by slug.
    articles: dict[str, tuple[Article, str | None, str]] = field(default_factory=dict)


#: Per format, the entry fragments a feed's previous file holds, by key.
_Reusable = dict[str, dict[FeedKey, bytes]]


@functools.cache
def _library_versions() -> tuple[str, ...]:
    versions = []
    for name in _RENDER_LIBRARIES:
        try:
            versions.append(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions.append("")
    return tuple(versions)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class _Prepared:
    """A validated chunk of a poll, ready to be classified and written."""

    rejected: list[tuple[str, int | None, Quarantined]] = field(default_factory=list)
    valid: list[ArticleVersion] = field(default_factory=list)
    newest: datetime | None = None
    #: How many of the batch's `refreshed` ranges had begun when the chunk was
    #: read: their old quarantine entries go before this chunk's rejections.
    refreshed: int = 0
    read_bytes: int = 0  # the batch's progress when the chunk was read
    #: The source's cursor when the chunk was read: it covers no record after it.
    cursor: Any = None

    def seen(self, batch: SourceBatch) -> _Prepared:
        """Note where the batch stood when this chunk was read; return self."""
        self.refreshed, self.read_bytes = len(batch.refreshed), batch.read_bytes
        self.cursor = _snapshot(batch.cursor)
        return self


def _snapshot(cursor: Any) -> Any:
    return dict(cursor) if isinstance(cursor, dict) else cursor


def _prepare_chunk(
    items: list[SourceItem], limits: RecordLimits, horizon: datetime, base_url: str
) -> _Prepared:
    """Decode and validate a chunk of records; no store access (runs in workers)."""
    prepared = _Prepared()
    rejected, valid = prepared.rejected, prepared.valid
    for raw_item in items:
        item = decoded(raw_item)
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
        valid.append(article_version(article, base_url))
        if prepared.newest is None or article.updated_at > prepared.newest:
            prepared.newest = article.updated_at
    return prepared


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
            self.store.polls.record_poll(
                PollRecord(
                    self.source.name, started, self.clock(), PollOutcome.FAILED, {}, str(exc)
                )
            )
            log.warning("poll failed: %s", exc)
            raise
        self.store.polls.record_poll(
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
        watermark, cursor = self.store.polls.source_state(self.source.name)
        overlap = timedelta(seconds=self.settings.poll.overlap_seconds)
        since = None if watermark is None else watermark - overlap
        batch = self.source.poll(since, cursor)
        changes = ChangeSet()
        horizon = now + timedelta(seconds=self.settings.poll.future_tolerance_seconds)
        newest = watermark
        prepared_chunks = self._prepared(_chunks(batch.items, _CHUNK), horizon, batch)
        forgotten = 0
        finished = False
        while not finished:
            with self.store.transaction(now) as tx:
                written = 0
                for prepared in prepared_chunks:
                    for origin, line in batch.refreshed[forgotten : prepared.refreshed]:
                        tx.forget_quarantine(self.source.name, origin, line)
                    forgotten = max(forgotten, prepared.refreshed)
                    if prepared.newest is not None and (newest is None or prepared.newest > newest):
                        newest = prepared.newest
                    self._write(tx, prepared, changes)
                    if self.progress is not None:
                        self.progress.update(prepared.read_bytes, batch.total_bytes)
                    written += len(prepared.valid) + len(prepared.rejected)
                    if batch.resumable and written >= _RECORDS_PER_COMMIT:
                        # A huge import commits in parts, each with the cursor of
                        # the files it has finished (the rest are read again after
                        # a crash, their records then ignored as already known).
                        tx.set_source(self.source.name, newest, prepared.cursor)
                        break
                else:
                    for origin, line in batch.refreshed[forgotten:]:
                        tx.forget_quarantine(self.source.name, origin, line)
                    tx.set_source(self.source.name, newest, batch.cursor)
                    finished = True
            if not finished:
                # Fold the WAL back into the database before the next part:
                # SQLite finds a page in a long WAL by searching every index
                # block, so a single 11 GB transaction ran 2x slower per record.
                self.store.checkpoint()
        if self.progress is not None:
            self.progress.close()
        if (batch.total_bytes or 0) >= _PARALLEL_MIN_POLL_BYTES:
            _return_freed_memory()
        return changes

    def _prepared(
        self, chunks: Iterator[list[SourceItem]], horizon: datetime, batch: SourceBatch
    ) -> Iterator[_Prepared]:
        """Each chunk validated, in order: here, or in worker processes when the
        poll is large (validation is CPU-bound Python; the store's writes stay
        in this process and transaction)."""
        limits = self.settings.source.limits
        base_url = self.settings.site.base_url
        processes = self._processes() - 1
        workers = None
        if processes >= 1 and (batch.total_bytes or 0) >= _PARALLEL_MIN_POLL_BYTES:
            try:
                workers = _process_pool(processes)
            except OSError as exc:  # no process support here (e.g. no /dev/shm)
                log.warning("cannot start validation workers (%s); validating here", exc)
        if workers is None:
            for chunk in chunks:
                yield _prepare_chunk(chunk, limits, horizon, base_url).seen(batch)
            return
        with workers:
            ahead: deque[tuple[Future[_Prepared] | None, list[SourceItem], _Prepared]] = deque()
            broken: list[BaseException] = []

            def finished() -> _Prepared:
                future, chunk, where = ahead.popleft()
                prepared = None
                if future is not None and not broken:
                    try:
                        prepared = future.result()
                    except (BrokenProcessPool, OSError) as exc:
                        log.warning("validation workers failed (%s); validating here", exc)
                        broken.append(exc)
                if prepared is None:
                    prepared = _prepare_chunk(chunk, limits, horizon, base_url)
                prepared.refreshed, prepared.read_bytes = where.refreshed, where.read_bytes
                prepared.cursor = where.cursor
                return prepared

            for chunk in chunks:
                future: Future[_Prepared] | None = None
                if not broken:
                    try:
                        future = workers.submit(_prepare_chunk, chunk, limits, horizon, base_url)
                    except (BrokenProcessPool, RuntimeError, OSError) as exc:
                        broken.append(exc)
                ahead.append((future, chunk, _Prepared().seen(batch)))
                if len(ahead) > 2 * processes:
                    yield finished()
            while ahead:
                yield finished()

    def _processes(self) -> int:
        return self.settings.poll.processes or min(os.cpu_count() or 1, 4)

    def _write(self, tx: Tx, prepared: _Prepared, changes: ChangeSet) -> None:
        """Classify a validated chunk against the store and write what changed."""
        rejected = prepared.rejected
        tx.add_quarantine(self.source.name, rejected)
        changes.quarantined += len(rejected)
        for _origin, _line, what in rejected:
            log.warning("quarantined %s: %s", what.source, what.reason)
        states = tx.states(sorted({version.slug for version in prepared.valid}))
        pending: list[Change] = []
        pending_slugs: set[str] = set()
        for version in prepared.valid:
            if version.slug in pending_slugs:
                # A later version in the same chunk: write the earlier one first.
                changes.touched_topics |= tx.apply(pending, self.routes)
                pending, pending_slugs = [], set()
            stored = states.get(version.slug)
            kind = classify(stored, version, version.digest)
            if kind is ChangeKind.IGNORED:
                changes.ignored += 1
                continue
            old_topics = stored.topics if stored else ()
            pending.append(Change(kind, version, old_topics))
            pending_slugs.add(version.slug)
            states[version.slug] = StoredState(version.updated_at, version.digest, version.topics)
            if kind is ChangeKind.CREATED:
                changes.created += 1
            else:
                changes.updated += 1
        changes.touched_topics |= tx.apply(pending, self.routes)

    # -- build --------------------------------------------------------------

    def _fingerprint(self) -> str:
        """What, besides the data, shapes the rendered bytes."""
        s = self.settings
        # The libraries too: a build reuses entry bytes an earlier one wrote,
        # which must be what this renderer would write.
        libraries = _library_versions()
        blob = orjson.dumps(
            [
                __version__,
                libraries,
                s.site.model_dump(),
                s.feeds.max_entries,
                s.websub.model_dump(),
            ]
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
        if self.store.polls.get_meta("render_fingerprint") != fingerprint:
            full = True
        dirty = set() if full else set(self.store.feeds.dirty_topics())
        if not (full or dirty or not self._checked_output):
            return BuildResult()  # the usual poll with nothing new: no need to count topics
        rows = {row.name: row for row in self.store.articles.topics()}
        if full:
            dirty = set(rows)
        if not self._checked_output:
            self.output.prepare()
            dirty |= {name for name in rows if not self._complete(name)}
            if not (self.output.exists(INDEX_PATH) and self.output.exists(OPML_PATH)):
                dirty.add(ALL_TOPIC)
        if not dirty:
            self._checked_output = True
            return BuildResult()
        topics = [topic for topic in sorted(dirty) if topic in rows]
        updated = {topic: rows[topic].changed_at or _EPOCH for topic in topics}
        listed = list(rows.values())

        def listings() -> list[Published]:
            # Rendered after the topics, while their last batch is written.
            return self._render_listings(listed)

        shares = self._shares(topics)
        if len(shares) == 1:
            result = self._render_topics(topics, updated, full, keep_documents, now, listings)
        else:
            result = self._render_in_processes(shares, updated, full, keep_documents, now, listings)
        result.topics.sort()
        self.store.feeds.clear_dirty(dirty, now)
        if full:
            self.store.polls.set_meta("render_fingerprint", fingerprint, now)
        self._checked_output = True
        log.info(
            "build: %d topics rendered, %d files written, %d entries reused",
            len(result.topics),
            result.written,
            result.reused_entries,
        )
        return result

    def _shares(self, topics: list[str]) -> list[list[str]]:
        """The topics split between processes: one share unless the build is big."""
        wanted = self._processes()
        if wanted < 2 or len(topics) < _PARALLEL_MIN_TOPICS:
            return [topics]
        # Interleaved: neighbours in name order are no more alike than any two.
        return [topics[i::wanted] for i in range(wanted)]

    def _render_in_processes(
        self,
        shares: list[list[str]],
        updated: Mapping[str, datetime],
        full: bool,
        keep: bool,
        now: datetime,
        listings: Callable[[], list[Published]],
    ) -> BuildResult:
        """Render the first share here and the others in worker processes.

        Rendering is CPU-bound Python, so threads would share one core. Each
        worker reads the store and writes its topics' files, HTML and
        manifests itself, exactly as this process does; a share whose worker
        fails is rendered here instead (writes are idempotent).
        """
        full_budget = self.settings.feeds.render_cache_mb * 1024 * 1024
        budget = full_budget // len(shares)  # `render_cache_mb` bounds all processes together
        set_fragment_budget(budget)
        try:
            workers = None
            try:
                workers = _process_pool(len(shares) - 1)
                futures = [
                    (
                        share,
                        workers.submit(
                            _render_share,
                            self.settings,
                            share,
                            {topic: updated[topic] for topic in share},
                            full,
                            keep,
                            now,
                            budget,
                        ),
                    )
                    for share in shares[1:]
                ]
            except (BrokenProcessPool, RuntimeError, OSError) as exc:  # no worker could start
                log.warning("cannot start render workers (%s); rendering here", exc)
                if workers is not None:
                    workers.shutdown(cancel_futures=True)
                everything = [topic for share in shares for topic in share]
                return self._render_topics(everything, updated, full, keep, now, listings)
            with workers:
                result = self._render_topics(shares[0], updated, full, keep, now, listings)
                for share, future in futures:
                    try:
                        result.merge(future.result())
                    except (BrokenProcessPool, OSError) as exc:
                        log.warning("render worker failed (%s); rendering its topics here", exc)
                        result.merge(self._render_topics(share, updated, full, keep, now, list))
            return result
        finally:
            set_fragment_budget(full_budget)

    def _render_topics(
        self,
        topics: list[str],
        updated: Mapping[str, datetime],
        full: bool,
        keep: bool,
        now: datetime,
        extra: Callable[[], list[Published]],
    ) -> BuildResult:
        """Render and write the feeds of `topics`, and the documents `extra` gives."""
        fingerprint = self._fingerprint()
        # A full build renders every entry from the store, trusting no earlier file.
        manifests = None if full else self.store.feeds.manifests(topics)
        # Reading, checking and splitting the previous files of the next topics,
        # and hashing the new ones, run beside the rendering: file reads and
        # SHA-256 release the GIL.
        with (
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="build") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush") as flusher,
        ):
            run = _Run(now, fingerprint, keep, pool)
            flushing: Future[None] | None = None

            def flush(docs: list[tuple[Published, _Composed | None]]) -> None:
                # Files are written and synced on the flush thread while the
                # next topics render; one batch at a time, so they land in order.
                nonlocal flushing
                if flushing is not None:
                    flushing.result()
                html, run.html_cache = run.html_cache, {}
                flushing = flusher.submit(self._flush, docs, run, html)

            ahead: dict[int, Future[_Reusable]] = {}

            def read_ahead(index: int) -> None:
                if manifests is not None and index < len(topics):
                    ahead[index] = pool.submit(
                        self._reusable, topics[index], manifests, fingerprint
                    )

            for index in range(_LOOKAHEAD):
                read_ahead(index)  # the first files are read while the keys are
            if manifests:
                # One read for every topic instead of a transaction each.
                run.keys = self.store.articles.feed_keys_many(
                    topics, self.settings.feeds.max_entries
                )
            pending: list[tuple[Published, _Composed | None]] = []
            for index, topic in enumerate(topics):
                read_ahead(index + _LOOKAHEAD)
                if manifests and index % _PREFETCH == 0:
                    window = topics[index : index + _PREFETCH]
                    run.articles = self.store.articles.articles_by_slug(
                        _missing_slugs(window, run.keys, manifests, fingerprint)
                    )
                reused = ahead.pop(index).result() if index in ahead else None
                run.result.topics.append(topic)
                pending.extend(self._render_topic(topic, updated[topic], reused, run))
                if len(pending) >= _WRITE_BATCH:
                    flush(pending)
                    pending = []
                    if len(topics) >= _PARALLEL_MIN_TOPICS:
                        # A big build: keep the peak down. A smaller one trims
                        # once at the end; each trim costs the next batch
                        # page faults on fresh memory.
                        _return_freed_memory()
            pending.extend((doc, None) for doc in extra())
            flush(pending)
            if flushing is not None:
                flushing.result()
        if run.result.rendered > _WRITE_BATCH:
            _return_freed_memory()
        return run.result

    def _flush(
        self,
        docs: list[tuple[Published, _Composed | None]],
        run: _Run,
        html: dict[tuple[str, str], str],
    ) -> None:
        """Write a batch of documents, then cache the bodies rendered for them
        (`html`) and record what each feed file was composed from."""
        feeds = [(doc, composed) for doc, composed in docs if composed is not None]
        digests = run.pool.map(_sha256, [doc.body for doc, _ in feeds])
        result = run.result
        result.written += self.output.write_many([(doc.path, doc.body) for doc, _ in docs])
        result.rendered += len(docs)
        if run.keep:
            result.documents.extend(doc for doc, _ in docs)
        # Once stored, later topics read these bodies from the store; a crash
        # before this costs only a second rendering.
        self.store.articles.save_html([(s, d, h) for (s, d), h in html.items()], run.now)
        # Only now that the files are in place. A crash before this line leaves
        # the previous manifest beside the new file: its size and SHA-256 no
        # longer match the file, so the next build ignores it and renders the
        # feed whole (the topic is still dirty). A manifest that does match is
        # true whoever wrote it: it names the exact bytes of the file, and an
        # entry's key fixes its fragment under one render fingerprint.
        manifests = [
            FeedManifest(c.topic, c.fmt, c.keys, len(doc.body), digest, run.fingerprint)
            for (doc, c), digest in zip(feeds, digests, strict=True)
        ]
        self.store.feeds.save_manifests(manifests, run.now)

    def _complete(self, topic: str) -> bool:
        return all(self.output.exists(feed_path(topic, fmt)) for fmt in FEED_FORMATS)

    def _reusable(
        self, topic: str, manifests: Mapping[tuple[str, str], FeedManifest], fingerprint: str
    ) -> _Reusable:
        """Per format, the entry fragments of the topic's current file, by key.

        Only a file whose bytes are exactly those its manifest describes is
        split; anything else (no manifest, another renderer, a file changed,
        replaced or deleted since) gives nothing to reuse.
        """
        found: _Reusable = {}
        for fmt in FEED_FORMATS:
            found[fmt] = {}
            manifest = manifests.get((topic, fmt))
            if manifest is None or manifest.fingerprint != fingerprint:
                continue
            data = self.output.read(feed_path(topic, fmt))
            if data is None or len(data) != manifest.size:
                continue
            if _sha256(data) != manifest.sha256:
                continue
            parts = split_feed(fmt, data)
            if parts is not None and len(parts) == len(manifest.entries):
                found[fmt] = dict(zip(manifest.entries, parts, strict=True))
        return found

    def _rendered(
        self,
        article: Article,
        html: str | None,
        digest: str,
        html_cache: dict[tuple[str, str], str],
    ) -> RenderedArticle:
        if html is None and article.body_md:
            key = (article.slug, digest)
            html = html_cache.get(key)
            if html is None:
                html = html_cache[key] = render_markdown(article.body_md)
        return RenderedArticle(article, html, digest)

    def _load_all(
        self, topic: str, html_cache: dict[tuple[str, str], str]
    ) -> tuple[list[FeedKey], dict[FeedKey, RenderedArticle]]:
        """Every entry of the topic's feed, from the store."""
        keys: list[FeedKey] = []
        loaded: dict[FeedKey, RenderedArticle] = {}
        for article, html, digest in self.store.articles.feed_entries(
            topic, self.settings.feeds.max_entries
        ):
            key = feed_key(article, digest)
            keys.append(key)
            loaded[key] = self._rendered(article, html, digest, html_cache)
        return keys, loaded

    def _load_missing(
        self,
        topic: str,
        reused: Mapping[str, Mapping[FeedKey, bytes]],
        html_cache: dict[tuple[str, str], str],
        keys: list[FeedKey] | None = None,
        known: Mapping[str, tuple[Article, str | None, str]] | None = None,
    ) -> tuple[list[FeedKey], dict[FeedKey, RenderedArticle]] | None:
        """The feed's keys, and the entries some format has no fragment for
        (taken from `known` articles when there); None when the store changed
        between the reads."""
        known = known or {}
        if keys is None:
            keys = self.store.articles.feed_keys(topic, self.settings.feeds.max_entries)
        needed = [k for k in keys if any(k not in reused[fmt] for fmt in FEED_FORMATS)]
        found = {k[0]: known[k[0]] for k in needed if k[0] in known}
        unknown = [slug for slug, _, _ in needed if slug not in found]
        if unknown:
            found.update(self.store.articles.articles_by_slug(unknown))
        loaded: dict[FeedKey, RenderedArticle] = {}
        for key in needed:
            row = found.get(key[0])
            if row is None or feed_key(row[0], row[2]) != key:
                return None  # a concurrent poll: read the feed again in one query
            loaded[key] = self._rendered(*row, html_cache)
        return keys, loaded

    def _render_topic(
        self, topic: str, updated: datetime, reused: _Reusable | None, run: _Run
    ) -> list[tuple[Published, _Composed]]:
        """The topic's feeds, and what each was composed from.

        With fragments `reused` from the current files, only the entries some
        format lacks one for are read and rendered; the bytes are the same
        either way (a fragment depends on its entry alone).
        """
        loaded = None
        if reused is not None and any(reused.values()):
            loaded = self._load_missing(
                topic, reused, run.html_cache, run.keys.get(topic), run.articles
            )
        if loaded is None:
            reused = None
            loaded = self._load_all(topic, run.html_cache)
        keys, items = loaded
        info = FeedInfo(
            site_title=self.settings.site.title,
            base_url=self.settings.site.base_url,
            topic=topic,
            updated=updated,
            hub_urls=self.hub_urls(),
            language=self.settings.site.language,
        )
        out: list[tuple[Published, _Composed]] = []
        reused_here = 0
        for fmt in FEED_FORMATS:
            parts = {} if reused is None else reused[fmt]
            entries: list[RenderedArticle | bytes] = []
            for key in keys:
                part = parts.get(key)
                entries.append(items[key] if part is None else part)
                reused_here += part is not None
            try:
                body = compose_feed(fmt, info, entries)
            except FragmentsUnusable:
                # Never seen: the shell is not laid out as the composition
                # expects. Render this topic from the store instead.
                return self._render_topic(topic, updated, None, run)
            doc = Published(feed_path(topic, fmt), body, CONTENT_TYPES[fmt], updated)
            out.append((doc, _Composed(topic, fmt, tuple(keys))))
        run.result.reused_entries += reused_here
        return out

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
        rows = self.store.articles.topics()
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


def _process_pool(workers: int) -> ProcessPoolExecutor:
    # `spawn`: a fresh interpreter never inherits the daemon's threads and locks.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _missing_slugs(
    topics: Sequence[str],
    keys: Mapping[str, list[FeedKey]],
    manifests: Mapping[tuple[str, str], FeedManifest],
    fingerprint: str,
) -> list[str]:
    """The articles the topics' previous files lack, going by their manifests.

    One query for a window of topics instead of one each; a file that then
    turns out not to match its manifest is rendered from the store anyway.
    """
    slugs: set[str] = set()
    for topic in topics:
        held = [
            set(m.entries) if m is not None and m.fingerprint == fingerprint else set()
            for m in (manifests.get((topic, fmt)) for fmt in FEED_FORMATS)
        ]
        if not any(held):
            continue  # nothing to reuse: the topic is read whole
        slugs.update(k[0] for k in keys.get(topic, ()) if any(k not in h for h in held))
    return sorted(slugs)


def _return_freed_memory() -> None:
    """Hand heap memory freed by a large poll or build back to the OS.

    glibc keeps freed pages for reuse, so a process that once imported 100k
    records would keep that peak for good (measured: 210 MB after such a
    poll, 90 MB after trimming). A no-op where `malloc_trim` does not exist.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class _NoSource:
    """The source of a render worker's pipeline, which never polls."""

    name = "render-worker"

    def poll(self, since: datetime | None, cursor: Any) -> SourceBatch:
        raise SourceUnavailable("a render worker does not poll")


def _render_share(
    settings: Settings,
    topics: list[str],
    updated: dict[str, datetime],
    full: bool,
    keep: bool,
    now: datetime,
    cache_bytes: int,
) -> BuildResult:
    """A worker process's part of a build (see `Pipeline._render_in_processes`)."""
    store = Store(settings.database.url, cache_mb=8)  # reads, and small writes
    try:
        pipeline = Pipeline(settings, store, _NoSource(), lambda: now)
        set_fragment_budget(cache_bytes)
        return pipeline._render_topics(topics, updated, full, keep, now, list)
    finally:
        store.close()
