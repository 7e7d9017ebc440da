"""Facet feeds rendered when first asked for (SPEC §4b), in bounded memory.

There may be tens of thousands of entity feeds, so none is rendered ahead:
a request renders the one document asked for from the store, the serving
process keeps it in its bounded `DocumentCache`, and its validators go to the
store with the data version and render fingerprint it was made from. A later
request that brings a current ETag is answered 304 from those validators
without rendering, in any process and after a restart. A change of the
feed's data moves its version: `refresh` drops cached documents whose
version moved (every process checks twice a second; the builder's process
at once after its build), and the next request renders them again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import orjson

from syndicator.build.output import OutputDir
from syndicator.build.reuse import sha256
from syndicator.config import Settings
from syndicator.core.entities import entity_key
from syndicator.core.times import EPOCH, next_modified
from syndicator.core.urls import FACET_KINDS, FEED_FORMATS, split_feed_name
from syndicator.errors import StoreError
from syndicator.models import Article, Published, RenderedArticle
from syndicator.ports import Clock
from syndicator.render.cache import RenderCache
from syndicator.render.feeds import CONTENT_TYPES, FeedInfo, compose_feed
from syndicator.render.html import render_markdown
from syndicator.store import Store, StoredDocument
from syndicator.web.documents import Document, DocumentCache, cache_control, stand_in

__all__ = ["FacetDocuments", "entity_pairs", "summary_entry"]

log = logging.getLogger(__name__)

_PREFIX = "/feeds/"
#: Rendered while a reader waits: a quicker gzip level than the build's 9.
_GZIP_LEVEL = 6
#: Entry fragments of on-demand renders kept in memory (bytes).
_RENDER_CACHE_BYTES = 16 * 1024 * 1024


def summary_entry(
    article: Article, digest: str, entities: tuple[tuple[str, str], ...]
) -> RenderedArticle:
    """The entry of a feed whose entries carry the summary alone: no body, and a
    cache key of its own, never the full entry's."""
    return RenderedArticle(replace(article, body_md=None), None, f"{digest}-summary", entities)


def entity_pairs(article: Article, feeds_by_key: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(slug, spelling) of each of the article's entities that has a feed, once each."""
    pairs: dict[str, str] = {}
    for spelling in article.entities:
        name = feeds_by_key.get(entity_key(spelling))
        if name:
            pairs.setdefault(split_feed_name(name)[1], spelling)
    return tuple(pairs.items())


class FacetDocuments:
    """The `DocumentLoader` of facet feeds: render on request, validate from the store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        fingerprint: str,
        hub_urls: tuple[str, ...] = (),
        ttl_minutes: int | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        #: What shapes the bytes besides the data: the build's fingerprint and
        #: the custom feeds' settings (their size and content mode).
        self.fingerprint = hashlib.sha256(
            f"{fingerprint}|{sorted(repr(feed) for feed in settings.feeds.custom_feeds())}".encode()
        ).hexdigest()
        self.hub_urls = hub_urls
        self.ttl_minutes = ttl_minutes
        budget = settings.server.cache_mb * 1024 * 1024 if cache_bytes is None else cache_bytes
        self.cache = DocumentCache(budget)
        self.renders = RenderCache(_RENDER_CACHE_BYTES)
        self.control = cache_control(settings.cache_max_age())
        #: The data version each cached document was rendered from, by path.
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.rendered = 0
        #: Writes that follow a render (validators, HTML bodies), in order.
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facet-writes")
        #: The configured custom feeds by name; others are 404 even if stored.
        self.custom = {feed.name: feed for feed in settings.feeds.custom_feeds()}

    # -- DocumentLoader ---------------------------------------------------------

    def wants(self, path: str) -> bool:
        """Facet feed paths: ``/feeds/<kind>/<slug>.<format>``."""
        return _parse(path) is not None

    def validators(self, path: str) -> Document | None:
        """The stored validators of the current document, or None (render it)."""
        parsed = _parse(path)
        if parsed is None:
            return None
        name, fmt = parsed
        version = self.store.facets.versions([name]).get(name)
        if version is None or not self._configured(name):
            return None
        stored = self.store.facets.document(path)
        if stored is None or not self._current(stored, version):
            return None
        return stand_in(stored.sha256, CONTENT_TYPES[fmt], stored.last_modified, self.control)

    def load(self, path: str) -> Document | None:
        """Render the document at `path`; None for a facet never seen (404)."""
        parsed = _parse(path)
        if parsed is None:
            return None
        name, fmt = parsed
        facet = self.store.facets.get(name)
        if facet is None or not self._configured(name):
            return None
        # The version is read before the entries: a change committed meanwhile
        # leaves the document recorded as older than it is, so it is rendered
        # again; never the other way round.
        body = self.render(name, fmt, facet.label, facet.changed_at or EPOCH)
        digest = sha256(body)
        now = self.clock()
        stored = self.store.facets.document(path)
        if stored is not None and stored.sha256 == digest:
            modified = stored.last_modified  # the same bytes as recorded: the same date
        elif stored is None:
            # Dated by the data, so processes rendering it at once agree; never
            # later than now (an article may be dated ahead of the clock).
            modified = min(facet.changed_at or now, now)
        else:
            modified = next_modified(stored.last_modified, now)
        # Recorded off the reader's path: a poll holding the write lock must not
        # hold up the answer. A record lost in a crash only costs a render.
        self._record(StoredDocument(path, digest, modified, facet.version, self.fingerprint))
        doc = Document.build(
            body,
            CONTENT_TYPES[fmt],
            modified,
            cache_control=self.control,
            compresslevel=_GZIP_LEVEL,
            digest=digest,
        )
        # Cached with its version in one step: a refresh in between would
        # otherwise find a cached document it has no version for, and keep it.
        with self._lock:
            self._versions[path] = facet.version
            self.cache.put(path, doc)
        self.rendered += 1
        return doc

    # -- rendering --------------------------------------------------------------

    def render(self, name: str, fmt: str, label: str, updated: datetime) -> bytes:
        """The bytes of one facet feed in one format, from the store."""
        site = self.settings.site
        custom = self.custom.get(split_feed_name(name)[1]) if name.startswith("custom/") else None
        limit = self.settings.feeds.max_entries if custom is None else custom.max_entries
        content = self.settings.feeds.content if custom is None else custom.content
        summary = content == "summary"
        rows = self.store.articles.feed_entries(name, limit)
        keys = {entity_key(e) for article, _, _ in rows for e in article.entities}
        feeds_by_key = self.store.facets.entity_feeds(keys)
        fresh: list[tuple[str, str, str]] = []
        entries: list[RenderedArticle | bytes] = []
        for article, html, digest in rows:
            if summary:
                entries.append(summary_entry(article, digest, entity_pairs(article, feeds_by_key)))
                continue
            if html is None and article.body_md:
                html = render_markdown(article.body_md)
                fresh.append((article.slug, digest, html))
            entries.append(
                RenderedArticle(article, html, digest, entity_pairs(article, feeds_by_key))
            )
        if fresh:
            self._writes.submit(self._quietly, self.store.articles.save_html, fresh, self.clock())
        window = timedelta(days=self.settings.feeds.tombstone_days)
        info = FeedInfo(
            site_title=site.title,
            base_url=site.base_url,
            topic=name,
            updated=updated,
            hub_urls=self.hub_urls,
            language=site.language,
            deleted=tuple(self.store.facets.tombstones(name, self.clock() - window)[:limit]),
            ttl_minutes=self.ttl_minutes,
            label=label,
        )
        return compose_feed(fmt, info, entries, self.renders)

    # -- invalidation -----------------------------------------------------------

    def refresh(self, names: Iterable[str] | None = None) -> list[str]:
        """Drop cached documents whose feed's data moved on; return their paths.

        With `names` (a build's changed facets), those are dropped without
        asking the store.
        """
        if names is not None:
            # Whatever is cached of them goes, version known or not.
            stale = self.paths_of(sorted(set(names)))
        else:
            with self._lock:
                cached = dict(self._versions)
            if not cached:
                return []
            by_name = {path: (_parse(path) or ("", ""))[0] for path in cached}
            current = self.store.facets.versions(sorted(set(by_name.values())))
            stale = [p for p, v in cached.items() if current.get(by_name[p]) != v]
        with self._lock:
            gone = self.cache.discard(stale)
            for path in stale:
                self._versions.pop(path, None)
            # Documents the cache let go of no longer need watching.
            kept = set(self.cache.paths())
            for path in [p for p in self._versions if p not in kept]:
                del self._versions[path]
        return gone

    def exists(self, path: str) -> bool:
        """Whether `path` names a facet feed that is served (for the WebSub hub)."""
        parsed = _parse(path)
        return parsed is not None and bool(self.store.facets.versions([parsed[0]]))

    def publish(self, paths: Iterable[str]) -> list[Published]:
        """Render `paths` now and keep them cached (their readers are subscribed)."""
        out: list[Published] = []
        for path in paths:
            doc = self.load(path)
            if doc is not None:
                self.cache.put(path, doc)
                out.append(
                    Published(path.lstrip("/"), doc.body, doc.content_type, doc.last_modified)
                )
        return out

    def export(self, output: OutputDir, *, batch: int = 300) -> int:
        """Write every facet feed (empty ones too: they are served) into `output`,
        for a static copy of the whole site; return how many files were written."""
        versions = self.store.facets.all_versions()  # before rendering: never newer
        written = 0
        pending: list[tuple[str, bytes]] = []
        for kind in FACET_KINDS:
            for facet in self.store.facets.listing(kind, live_only=False):
                if not self._configured(facet.name):
                    continue
                for fmt in FEED_FORMATS:
                    body = self.render(facet.name, fmt, facet.label, facet.changed_at or EPOCH)
                    pending.append((f"feeds/{facet.name}.{fmt}", body))
                if len(pending) >= batch:
                    written += output.write_many(pending)
                    pending = []
        written += output.write_many(pending)
        _save_exported(output, versions)
        return written

    def export_behind(self, output: OutputDir) -> list[str]:
        """The facets whose exported files hold older data than the store: a
        build that did not write this folder changed them (another process
        built meanwhile, on PostgreSQL). An export made before versions were
        recorded is taken as current from now on."""
        current = self.store.facets.all_versions()
        recorded = _exported_versions(output)
        if recorded is None:
            _save_exported(output, current)
            return []
        return sorted(name for name, version in current.items() if recorded.get(name) != version)

    def export_changed(self, output: OutputDir, names: Iterable[str]) -> int:
        """Write these changed facet feeds into `output` when it holds an
        export of their kind (`export --facets` made `feeds/entities/`...),
        so a static copy stays current, new feeds and takedowns included;
        return how many files were written. Without an export nothing is
        written: disk grows with facets only by choice."""
        pending: list[tuple[str, bytes]] = []
        folders: dict[str, bool] = {}
        names = sorted(set(names))
        versions = self.store.facets.versions(names)  # before rendering: never newer
        for name in names:
            kind = split_feed_name(name)[0]
            if kind is None or not self._configured(name):
                continue
            if kind not in folders:
                folders[kind] = (output.root / "feeds" / kind).is_dir()
            if not folders[kind]:
                continue
            paths = [f"feeds/{name}.{fmt}" for fmt in FEED_FORMATS]
            facet = self.store.facets.get(name)
            if facet is None:
                continue
            for fmt, path in zip(FEED_FORMATS, paths, strict=True):
                body = self.render(facet.name, fmt, facet.label, facet.changed_at or EPOCH)
                pending.append((path, body))
        written = output.write_many(pending) if pending else 0
        if any(folders.values()):
            recorded = _exported_versions(output) or {}
            _save_exported(output, {**recorded, **versions})
        return written

    def paths_of(self, names: Sequence[str]) -> list[str]:
        """Every URL path of the named facet feeds."""
        return [f"{_PREFIX}{name}.{fmt}" for name in names for fmt in FEED_FORMATS]

    def _record(self, document: StoredDocument) -> None:
        def save() -> None:
            try:
                self.store.facets.save_document(document)
            except StoreError:
                # Another process recorded it first (a unique key): as an update.
                self._quietly(self.store.facets.save_document, document)

        self._writes.submit(save)

    @staticmethod
    def _quietly(step: Callable[..., object], *args: object) -> None:
        try:
            step(*args)
        except StoreError as exc:
            log.warning("cannot record a rendered facet feed: %s", exc)

    def flush(self) -> None:
        """Wait for the records of rendered documents to be written."""
        self._writes.submit(lambda: None).result()

    def close(self) -> None:
        """Write what is pending and stop the writer."""
        self._writes.shutdown(wait=True)

    def _configured(self, name: str) -> bool:
        kind, slug = split_feed_name(name)
        return kind != "custom" or slug in self.custom

    def _current(self, stored: StoredDocument, version: int) -> bool:
        return stored.data_version == version and stored.fingerprint == self.fingerprint


def _parse(path: str) -> tuple[str, str] | None:
    """(feed name, format) of a facet feed path, or None."""
    if not path.startswith(_PREFIX):
        return None
    name, dot, fmt = path[len(_PREFIX) :].rpartition(".")
    if not dot or fmt not in FEED_FORMATS:
        return None
    kind, slug = split_feed_name(name)
    if kind not in FACET_KINDS or not slug or "/" in slug:
        return None
    return name, fmt


#: The data version of each facet feed the export in an output folder was
#: last written from, so a builder that did not write it can catch up.
EXPORT_VERSIONS = "feeds/.export-versions.json"


def _exported_versions(output: OutputDir) -> dict[str, int] | None:
    raw = output.read(EXPORT_VERSIONS)
    if raw is None:
        return None
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # taken as an export from before versions were kept
    return found if isinstance(found, dict) else None


def _save_exported(output: OutputDir, versions: dict[str, int]) -> None:
    output.write(EXPORT_VERSIONS, orjson.dumps(versions, option=orjson.OPT_SORT_KEYS))
