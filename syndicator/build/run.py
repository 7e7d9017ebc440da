"""One build's rendering of a list of topics: read, render, write.

A build is pipelined on threads: the previous files of the next topics are
read, checked and split ahead of rendering (file reads and SHA-256 release
the GIL); so are the entry keys of the next windows of topics and the
articles their files lack, a query each; and each batch of documents is
written on a flush thread, while the next topics render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from syndicator.build.ondemand import entity_pairs, summary_entry
from syndicator.build.output import OutputDir
from syndicator.build.result import BuildResult
from syndicator.build.reuse import Manifests, Reusable, missing_slugs, reusable, sha256
from syndicator.core.entities import entity_key
from syndicator.core.urls import FEED_FORMATS, feed_path
from syndicator.models import Article, Published, RenderedArticle
from syndicator.processes import return_freed_memory
from syndicator.render.cache import FragmentsUnusable, RenderCache
from syndicator.render.feeds import CONTENT_TYPES, FeedInfo, compose_feed
from syndicator.render.html import render_markdown
from syndicator.store import FeedKey, FeedManifest, Store, WrittenDocument, feed_key

__all__ = ["BuildResult", "FeedRun", "RunSettings"]

_WRITE_BATCH = 75  # documents written (and fsynced) together; two batches may be in memory
# Or fewer, once their bytes reach this: documents of full-content feeds are
# hundreds of KB each (and a feed of many entries far more), and the build's
# memory is mostly the two batches in flight.
_WRITE_BATCH_BYTES = 12 * 1024 * 1024
_LOOKAHEAD = 4  # topics whose previous files are read ahead of rendering
_PREFETCH = 32  # topics whose keys and missing articles are read from the store together
_WINDOWS_AHEAD = 2  # windows of _PREFETCH topics read ahead of rendering
# Entries rendered from the store since the last trim, from which a batch's
# end hands freed memory back: articles and their HTML are most of a build's
# memory. A build that reuses the files' entries does not trim until its end,
# since each trim costs the next batch page faults on fresh memory.
_TRIM_AFTER_ENTRIES = 1000
# Bodies kept rendered across write batches: an edited article is in several
# feeds, and those written after its first batch read it before its HTML was
# stored. About 6 KB each; enough for the edits of a typical poll.
_RECENT_HTML = 1024

#: A stored article row: the article, its cached HTML body, its content hash.
_Row = tuple[Article, str | None, str]


class _Window(NamedTuple):
    """A window of topics read ahead: their entry keys, the articles their
    files lack (by slug), and those articles' bodies rendered then."""

    keys: dict[str, list[FeedKey]]
    articles: dict[str, _Row]
    bodies: dict[tuple[str, str], str]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What shapes a run's feeds besides the data."""

    site_title: str
    base_url: str
    language: str | None
    hub_urls: tuple[str, ...]
    max_entries: int
    #: `Builder.entry_fingerprint`: the manifests' key to reusable entries.
    entry_fingerprint: str
    #: `feeds.content = "summary"`: entries carry the summary, no body.
    summary_only: bool = False
    #: How long a deleted article is listed in Atom feeds (`feeds.tombstone_days`).
    tombstone_window: timedelta = timedelta(days=7)
    ttl_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class _Composed:
    """What a feed document was composed from: its manifest, once written."""

    topic: str
    fmt: str
    keys: tuple[FeedKey, ...]


_Pending = list[tuple[Published, _Composed | None]]


class FeedRun:
    """Renders and writes the feeds of some topics, once."""

    def __init__(
        self,
        store: Store,
        output: OutputDir,
        caches: RenderCache,
        config: RunSettings,
        now: datetime,
        *,
        keep: bool,
        manifests: Manifests | None,
        bodies: bool = True,
    ) -> None:
        self.store = store
        self.output = output
        self.caches = caches
        self.config = config
        self.now = now
        self.keep = keep
        #: With `keep`: the documents with their bytes, or their validators alone.
        self.bodies = bodies
        #: None: every entry from the store, no earlier file trusted.
        self.manifests = manifests
        self.result = BuildResult()
        self._html: dict[tuple[str, str], str] = {}  # bodies rendered since the last flush
        self._recent_html: dict[tuple[str, str], str] = {}  # the last bodies rendered, oldest first
        self._html_lock = threading.Lock()  # windows are read and rendered on the pool
        self._keys: dict[str, list[FeedKey]] = {}  # the current window's entry keys, by topic
        self._articles: dict[str, _Row] = {}  # what the next topics' files lack, by slug
        self._entity_feeds: dict[str, str] = {}  # entity merge key → its feed's name
        #: Per topic, the articles deleted from its feed within the window.
        self._deleted: dict[str, list[tuple[str, datetime]]] = {}
        self._ahead: dict[int, Future[Reusable]] = {}
        #: Windows of topics' keys and missing articles being read, by index.
        self._windows: dict[int, Future[_Window]] = {}
        self._flushing: Future[None] | None = None
        self._rendered_entries = 0  # since memory was last handed back
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="build")
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush")

    def run(
        self,
        topics: list[str],
        updated: Mapping[str, datetime],
        extra: Callable[[], list[Published]],
    ) -> BuildResult:
        """Render and write the feeds of `topics`, then the documents `extra` gives."""
        with self._pool, self._flusher:
            # One small query for the whole run: only recent deletions are held.
            self._deleted = self.store.articles.tombstones(
                self.now - self.config.tombstone_window, self.config.max_entries
            )
            windows = [topics[i : i + _PREFETCH] for i in range(0, len(topics), _PREFETCH)]
            for index in range(_WINDOWS_AHEAD):
                self._read_window(windows, index)
            for index in range(_LOOKAHEAD):
                self._read_ahead(topics, index)
            pending: _Pending = []
            size = 0  # bytes pending
            for index, topic in enumerate(topics):
                self._read_ahead(topics, index + _LOOKAHEAD)
                if index % _PREFETCH == 0:
                    self._next_window(windows, index // _PREFETCH)
                future = self._ahead.pop(index, None)
                reused = None if future is None else future.result()
                self.result.topics.append(topic)
                docs = self._render_topic(topic, updated[topic], reused)
                pending.extend(docs)
                size += sum(len(doc.body) for doc, _ in docs)
                if len(pending) >= _WRITE_BATCH or size >= _WRITE_BATCH_BYTES:
                    self._flush(pending)
                    pending, size = [], 0
                    if self._rendered_entries >= _TRIM_AFTER_ENTRIES:
                        return_freed_memory()
                        self._rendered_entries = 0
            # The last topics are written while the listings render.
            if pending:
                self._flush(pending)
            listings: _Pending = [(doc, None) for doc in extra()]
            if listings:
                self._flush(listings)
            self._wait_flushed()
        if self.result.rendered > _WRITE_BATCH:
            return_freed_memory()
        return self.result

    def _read_ahead(self, topics: list[str], index: int) -> None:
        if self.manifests is not None and index < len(topics):
            self._ahead[index] = self._pool.submit(
                reusable, self.output, topics[index], self.manifests, self.config.entry_fingerprint
            )

    def _read_window(self, windows: list[list[str]], index: int) -> None:
        """Read a window of topics' entry keys, and the articles their files
        lack, on the pool: the store's reads release the GIL."""
        if self.manifests and index < len(windows):
            self._windows[index] = self._pool.submit(self._window, windows[index])

    def _next_window(self, windows: list[list[str]], index: int) -> None:
        future = self._windows.pop(index, None)
        if future is not None:
            read = future.result()
            self._keys, self._articles = read.keys, read.articles
            for key, html in read.bodies.items():
                self._html[key] = html  # to store with the next batch
        self._read_window(windows, index + _WINDOWS_AHEAD)

    def _window(self, window: list[str]) -> _Window:
        assert self.manifests is not None
        keys = self.store.articles.feed_keys_many(window, self.config.max_entries)
        slugs = missing_slugs(window, keys, self.manifests, self.config.entry_fingerprint)
        articles = self.store.articles.articles_by_slug(slugs)
        # Rendered here, ahead: a render releases the GIL, and on the thread
        # that composes feeds it then waits for the writer's and readers' turns.
        bodies: dict[tuple[str, str], str] = {}
        for article, html, digest in articles.values():
            key = (article.slug, digest)
            if html is None and article.body_md and not self.config.summary_only:
                with self._html_lock:
                    known = key in self._recent_html
                if not known:
                    bodies[key] = render_markdown(article.body_md)
                    self._keep_html(key, bodies[key], store=False)
        return _Window(keys, articles, bodies)

    # -- writing --------------------------------------------------------------

    def _flush(self, docs: _Pending) -> None:
        """Write a batch on the flush thread; one batch at a time, so they land in order."""
        self._wait_flushed()
        html, self._html = self._html, {}
        self._flushing = self._flusher.submit(self._write, docs, html)

    def _wait_flushed(self) -> None:
        if self._flushing is not None:
            self._flushing.result()
            self._flushing = None

    def _write(self, docs: _Pending, html: dict[tuple[str, str], str]) -> None:
        """Write a batch of documents, then cache the bodies rendered for them
        (`html`) and record what each file was composed from and when its
        bytes last changed (its Last-Modified)."""
        digests = list(self._pool.map(sha256, [doc.body for doc, _ in docs]))
        result = self.result
        stamps: dict[str, str] = {}
        result.written += self.output.write_many([(doc.path, doc.body) for doc, _ in docs], stamps)
        result.rendered += len(docs)
        # Once stored, later topics read these bodies from the store; a crash
        # before this costs only a second rendering.
        self.store.articles.save_html([(s, d, h) for (s, d), h in html.items()], self.now)
        # Only now that the files are in place. A crash before this line leaves
        # the previous manifest beside the new file: its size and SHA-256 no
        # longer match the file, so the next build ignores it and renders the
        # feed whole (the topic is still dirty). A manifest that does match is
        # true whoever wrote it: it names the exact bytes of the file, and an
        # entry's key fixes its fragment under one render fingerprint. The
        # documents' states go in the same transaction: a serving process that
        # sees them finds their files already in place.
        fingerprint = self.config.entry_fingerprint
        manifests = [
            FeedManifest(
                c.topic,
                c.fmt,
                c.keys,
                len(doc.body),
                digest,
                fingerprint,
                stamps.get(doc.path),
            )
            for (doc, c), digest in zip(docs, digests, strict=True)
            if c is not None
        ]
        written = [
            WrittenDocument(doc.path, digest, doc.content_type)
            for (doc, _), digest in zip(docs, digests, strict=True)
        ]
        modified = self.store.feeds.save_written(manifests, written, self.now)
        if self.keep and self.bodies:
            result.documents.extend(
                replace(doc, last_modified=modified[doc.path]) for doc, _ in docs
            )
        elif self.keep:
            # Validators only: a full build's bytes are not all held at once.
            result.documents.extend(
                Published(doc.path, b"", doc.content_type, modified[doc.path], digest)
                for (doc, _), digest in zip(docs, digests, strict=True)
            )

    # -- rendering ------------------------------------------------------------

    def _render_topic(
        self, topic: str, updated: datetime, reused: Reusable | None
    ) -> list[tuple[Published, _Composed]]:
        """The topic's feeds, and what each was composed from.

        With fragments `reused` from the current files, only the entries some
        format lacks one for are read and rendered; the bytes are the same
        either way (a fragment depends on its entry alone).
        """
        loaded = None
        if reused is not None and any(reused.values()):
            loaded = self._load_missing(topic, reused)
        if loaded is None:
            reused = None
            loaded = self._load_all(topic)
        keys, items = loaded
        self._rendered_entries += len(items)
        c = self.config
        info = FeedInfo(
            site_title=c.site_title,
            base_url=c.base_url,
            topic=topic,
            updated=updated,
            hub_urls=c.hub_urls,
            language=c.language,
            deleted=tuple(self._deleted.get(topic, ())),
            ttl_minutes=c.ttl_minutes,
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
                body = compose_feed(fmt, info, entries, self.caches)
            except FragmentsUnusable:
                # Never seen: the shell is not laid out as the composition
                # expects. Render this topic from the store instead.
                return self._render_topic(topic, updated, None)
            doc = Published(feed_path(topic, fmt), body, CONTENT_TYPES[fmt], updated)
            out.append((doc, _Composed(topic, fmt, tuple(keys))))
        self.result.reused_entries += reused_here
        return out

    def _rendered(self, article: Article, html: str | None, digest: str) -> RenderedArticle:
        pairs = entity_pairs(article, self._entity_feeds)
        if self.config.summary_only:
            return summary_entry(article, digest, pairs)
        if html is None and article.body_md:
            key = (article.slug, digest)
            with self._html_lock:
                html = self._recent_html.get(key)
            if html is None:
                html = render_markdown(article.body_md)
                self._keep_html(key, html)
        return RenderedArticle(article, html, digest, pairs)

    def _keep_html(self, key: tuple[str, str], html: str, *, store: bool = True) -> None:
        """Hold a body rendered in this build for its other feeds, and (with
        `store`, on the composing thread) to store with the next batch."""
        with self._html_lock:
            self._recent_html[key] = html
            if len(self._recent_html) > _RECENT_HTML:
                del self._recent_html[next(iter(self._recent_html))]
        if store:
            self._html[key] = html

    def _know_entities(self, articles: Iterable[Article]) -> None:
        """Read the feed names of the articles' entities not looked up yet, at once."""
        known = self._entity_feeds
        # Not `set - known.keys()`: that walks every key known so far, per feed.
        wanted = {key for a in articles for e in a.entities if (key := entity_key(e)) not in known}
        if wanted:
            found = self.store.facets.entity_feeds(wanted)
            known.update(found)
            # An entity with no feed (none ever does: every stored one has one)
            # is not asked for again.
            known.update((key, "") for key in wanted - found.keys())

    def _load_all(self, topic: str) -> tuple[list[FeedKey], dict[FeedKey, RenderedArticle]]:
        """Every entry of the topic's feed, from the store."""
        keys: list[FeedKey] = []
        loaded: dict[FeedKey, RenderedArticle] = {}
        rows = self.store.articles.feed_entries(topic, self.config.max_entries)
        self._know_entities(row[0] for row in rows)
        for article, html, digest in rows:
            key = feed_key(article, digest)
            keys.append(key)
            loaded[key] = self._rendered(article, html, digest)
        return keys, loaded

    def _load_missing(
        self, topic: str, reused: Reusable
    ) -> tuple[list[FeedKey], dict[FeedKey, RenderedArticle]] | None:
        """The feed's keys, and the entries some format has no fragment for
        (from the prefetched articles when there); None when the store changed
        between the reads."""
        keys = self._keys.get(topic)
        if keys is None:
            keys = self.store.articles.feed_keys(topic, self.config.max_entries)
        needed = [k for k in keys if any(k not in reused[fmt] for fmt in FEED_FORMATS)]
        found = {k[0]: self._articles[k[0]] for k in needed if k[0] in self._articles}
        unknown = [slug for slug, _, _ in needed if slug not in found]
        if unknown:
            found.update(self.store.articles.articles_by_slug(unknown))
        loaded: dict[FeedKey, RenderedArticle] = {}
        self._know_entities(row[0] for row in found.values())
        for key in needed:
            row = found.get(key[0])
            if row is None or feed_key(row[0], row[2]) != key:
                return None  # a concurrent poll: read the feed again in one query
            loaded[key] = self._rendered(*row)
        return keys, loaded
