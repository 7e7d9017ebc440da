"""The build: dirty feeds → render → write → publish → clear the marks.

A change marks the topics it touched in the store, in the poll's
transaction. A build renders the feeds of those topics (every topic when
what shapes the bytes besides the data changed), writes them to
`feeds.output_dir` by atomic replace, hands them to whoever serves them, and
only then clears the marks, so a crash in between just renders them again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import logging
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta

import orjson

from syndicator import __version__
from syndicator.build.output import OutputDir
from syndicator.build.result import BuildResult
from syndicator.config import Settings
from syndicator.core.times import EPOCH
from syndicator.core.urls import (
    CUSTOM_KIND,
    ENTITY_KIND,
    FEED_FORMATS,
    LANG_KIND,
    feed_path,
    split_feed_name,
)
from syndicator.errors import StoreError
from syndicator.models import ALL_TOPIC, Published
from syndicator.ports import Clock
from syndicator.processes import Workers
from syndicator.render.cache import RenderCache
from syndicator.render.common import (
    CONTENT_TYPES,
    INDEX_PATH,
    OPML_PATH,
    RENDER_FORMAT,
    TopicSummary,
)
from syndicator.render.index import FacetSummary, FrontArticle, SiteTemplates, render_index
from syndicator.render.xsl import FEED_XSL, FEED_XSL_PATH, XSL_CONTENT_TYPE
from syndicator.store import PublishedState, Store, TopicRow

__all__ = ["Builder"]

log = logging.getLogger(__name__)

# A build of at least this many topics is split between processes: below it
# a worker's start-up (~0.5 s: an interpreter and the imports) costs more than
# it saves.
_PARALLEL_MIN_TOPICS = 200
# With workers already running and loaded (a daemon's), a build of this many
# is split too: handing a share over costs milliseconds.
_PARALLEL_WARM_MIN_TOPICS = 16
# The index page and OPML list every topic: the process rendering them hands
# a worker one topic per this many listed. Measured at 500 topics: listings
# 45-70 ms, a topic's three feeds about 9 ms, and a worker starting on its
# share 30 ms after this process; two topics even out the rest.
_LISTED_PER_TOPIC = 200
#: What a worker imports before its first share (`Workers.preload`).
RENDER_MODULES = ("syndicator.build.builder", "syndicator.build.run")
# Distributions whose output is in the feed bytes (Markdown, sanitiser, XML, JSON).
_RENDER_LIBRARIES = ("pyromark", "nh3", "feedgen", "lxml", "orjson")
# Distributions whose output is in the feeds' shells only (language feeds' names).
_SHELL_LIBRARIES = ("babel",)
# What the front page shows: the newest articles, the most active entities.
_FRONT_ARTICLES = 20
_FRONT_ENTITIES = 50


@functools.cache
def _library_versions(names: tuple[str, ...] = _RENDER_LIBRARIES) -> tuple[str, ...]:
    versions = []
    for name in names:
        try:
            versions.append(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions.append("")
    return tuple(versions)


class Builder:
    """Renders the feeds that changed and writes them to the output folder."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        cache_bytes: int | None = None,
        workers: Workers | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        #: Without shared workers, a big build starts its own and stops them after.
        self._own_workers = workers is None
        self.workers = workers or Workers.configured(settings.poll.processes, RENDER_MODULES)
        self.output = OutputDir(settings.feeds.output_dir)
        budget = settings.feeds.render_cache_mb * 1024 * 1024
        #: Entry fragments and shells kept between builds (bytes never depend on it).
        self.caches = RenderCache(budget if cache_bytes is None else cache_bytes)
        self._checked_output = False
        #: Whether kept documents carry their bytes; a server that reads them
        #: back on demand keeps their validators alone (bounded memory).
        self.keep_bodies = True
        #: The site's page templates, compiled (and tried) now: a broken
        #: `[site] template_dir` is a start-up error naming file and line.
        self.templates = SiteTemplates(settings.site.template_dir)

    def fingerprint(self) -> str:
        """What, besides the data, shapes the rendered bytes."""
        s = self.settings
        blob = orjson.dumps(
            [
                # The renderer, its libraries and what shapes the entries.
                self.entry_fingerprint(),
                # Templates shape only the HTML pages (their digest is kept apart).
                s.site.model_dump(exclude={"template_dir"}),
                s.feeds.max_entries,
                s.feeds.tombstone_days,
                s.websub.model_dump(),
                self.ttl_minutes(),
                _library_versions(_SHELL_LIBRARIES),
            ]
        )
        return hashlib.sha256(blob).hexdigest()

    def entry_fingerprint(self) -> str:
        """What, besides an entry's data, shapes its bytes: the renderer, its
        libraries (a build reuses entry bytes an earlier one wrote, which must be
        what this renderer would write), the site's URL (entity scheme and feed
        links) and whether entries carry bodies (`feeds.content`), nothing of
        the feed around it. Manifests carry it: a feed file's entries are
        reused whenever it matches, in a full build too (a new title or TTL
        renders every feed's shell again, not its fifty entries)."""
        blob = orjson.dumps(
            [
                __version__,
                RENDER_FORMAT,
                _library_versions(),
                self.settings.site.base_url,
                self.settings.feeds.content,
            ]
        )
        return hashlib.sha256(blob).hexdigest()

    def _tombstone_window(self) -> timedelta:
        return timedelta(days=self.settings.feeds.tombstone_days)

    def ttl_minutes(self) -> int | None:
        """RSS `<ttl>`: the cache lifetime the HTTP server announces, in whole minutes."""
        max_age = self.settings.cache_max_age()
        return max(1, max_age // 60) if max_age > 0 else None

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
        # Embargoes whose instant has come join their feeds in this build,
        # scheduled or not (`once` after the instant publishes them too).
        released = self.store.release_embargoes(now)
        if released:
            log.info("embargo over: feeds of %s to render", ", ".join(sorted(released)))
        fingerprint = self.fingerprint()
        if self.store.polls.get_meta("render_fingerprint") != fingerprint:
            full = True
        # Facet feeds are marked too: a full build renders every topic, and
        # still reports them (their documents are rendered on demand).
        dirty = set(self.store.feeds.dirty_topics())
        # Deletions older than the window leave the Atom feeds that list them:
        # their topics are rendered again, then the tombstones forgotten. The
        # check is one indexed query on a small table, so every build makes
        # it; a crash before the forgetting just renders them once more.
        cutoff = now - self._tombstone_window()
        expired = self.store.articles.expired_tombstones(cutoff)
        dirty |= expired
        if not (full or dirty or not self._checked_output):
            return BuildResult()  # the usual poll with nothing new: no need to count topics
        rows = {row.name: row for row in self.store.articles.topics()}
        if full:
            dirty |= set(rows)
        if not self._checked_output:
            self.output.prepare()
            dirty |= self._altered(list(rows))
            if not all(self.output.exists(p) for p in (INDEX_PATH, OPML_PATH, FEED_XSL_PATH)):
                dirty.add(ALL_TOPIC)
        # A changed template renders the pages again; the feeds keep their bytes.
        pages = self.store.polls.get_meta("page_templates")
        if pages != self.templates.digest:
            dirty.add(ALL_TOPIC)
        if not dirty:
            self._checked_output = True
            return BuildResult()
        topics = [topic for topic in sorted(dirty) if topic in rows]
        updated = {topic: rows[topic].changed_at or EPOCH for topic in topics}
        listed = list(rows.values())

        def listings() -> list[Published]:
            # Rendered after the topics, while their last batch is written.
            return self._render_listings(listed)

        shares = self._shares(topics, len(listed))
        if len(shares) == 1:
            result = self.render(topics, updated, full, keep_documents, now, listings)
        else:
            result = self._render_in_processes(shares, updated, full, keep_documents, now, listings)
        result.topics.sort()
        result.facets = sorted(name for name in dirty if split_feed_name(name)[0] is not None)
        result.full = full
        self.store.feeds.clear_dirty(dirty, now)
        if expired:
            self.store.articles.drop_tombstones(cutoff)
        if full:
            self.store.polls.set_meta("render_fingerprint", fingerprint, now)
        if pages != self.templates.digest:
            self.store.polls.set_meta("page_templates", self.templates.digest, now)
        self._checked_output = True
        log.info(
            "build: %d topics rendered, %d files written, %d entries reused",
            len(result.topics),
            result.written,
            result.reused_entries,
        )
        return result

    def render(
        self,
        topics: list[str],
        updated: Mapping[str, datetime],
        full: bool,
        keep: bool,
        now: datetime,
        extra: Callable[[], list[Published]] = list,
    ) -> BuildResult:
        """Render and write the feeds of `topics`, and the documents `extra` gives."""
        # Imported on first use: feedgen and lxml load only when a build renders
        # something, not in a `once` or a start-up that finds nothing to do.
        from syndicator.build.run import FeedRun, RunSettings

        site = self.settings.site
        config = RunSettings(
            site_title=site.title,
            base_url=site.base_url,
            language=site.language,
            hub_urls=self.hub_urls(),
            max_entries=self.settings.feeds.max_entries,
            summary_only=self.settings.feeds.content == "summary",
            entry_fingerprint=self.entry_fingerprint(),
            tombstone_window=self._tombstone_window(),
            ttl_minutes=self.ttl_minutes(),
        )
        # A full build renders every feed, still reusing the entries of files
        # that are exactly what their manifests say, under this entry fingerprint.
        manifests = self.store.feeds.manifests(topics)
        run = FeedRun(
            self.store,
            self.output,
            self.caches,
            config,
            now,
            keep=keep,
            manifests=manifests,
            bodies=self.keep_bodies,
        )
        return run.run(topics, updated, extra)

    def _shares(self, topics: list[str], listed: int = 0) -> list[list[str]]:
        """The topics split between processes: one share unless the build is
        big, or worth splitting between workers already loaded."""
        wanted = self.workers.count + 1
        least = _PARALLEL_MIN_TOPICS
        if self.workers.warm:
            least = min(least, _PARALLEL_WARM_MIN_TOPICS)
        if wanted < 2 or len(topics) < least:
            return [topics]
        # Interleaved: neighbours in name order are no more alike than any two.
        shares = [topics[i::wanted] for i in range(wanted)]
        # This process renders the listings too, which name every topic: the
        # workers take as many of its topics as they cost (see _LISTED_PER_TOPIC).
        handed = min(listed // _LISTED_PER_TOPIC, len(shares[0]) // 2)
        for index, topic in enumerate(shares[0][:handed]):
            shares[1 + index % (wanted - 1)].append(topic)
        shares[0] = shares[0][handed:]
        return shares

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
        # `render_cache_mb` bounds all processes together.
        budget = self.settings.feeds.render_cache_mb * 1024 * 1024 // len(shares)
        self.caches.resize(budget)
        try:
            try:
                workers = self.workers.pool()
            except (RuntimeError, OSError) as exc:  # no worker could start
                log.warning("cannot start render workers (%s); rendering here", exc)
                everything = [topic for share in shares for topic in share]
                return self.render(everything, updated, full, keep, now, listings)
            futures = []
            try:
                for share in shares[1:]:
                    part = {topic: updated[topic] for topic in share}
                    future = workers.submit(
                        render_share,
                        self.settings,
                        share,
                        part,
                        full,
                        keep,
                        now,
                        budget,
                        self.keep_bodies,
                    )
                    futures.append((share, future))
            except (BrokenProcessPool, RuntimeError, OSError) as exc:
                log.warning("cannot start render workers (%s); rendering here", exc)
                self.workers.discard()
                everything = [topic for share in shares for topic in share]
                return self.render(everything, updated, full, keep, now, listings)
            result = self.render(shares[0], updated, full, keep, now, listings)
            for share, future in futures:
                try:
                    result.merge(future.result())
                except (BrokenProcessPool, OSError) as exc:
                    log.warning("render worker failed (%s); rendering its topics here", exc)
                    self.workers.discard()
                    result.merge(self.render(share, updated, full, keep, now))
            return result
        finally:
            if self._own_workers:
                self.workers.close()
            self.caches.resize(self.settings.feeds.render_cache_mb * 1024 * 1024)

    def _altered(self, topics: list[str]) -> set[str]:
        """Topics whose feed files are missing, or hold other bytes than the
        build that wrote them recorded (a file replaced, truncated or edited in
        the output folder): the first build of a process writes them again.
        A file with the stamp it was written with is trusted without reading."""
        written = self.store.feeds.written_files()
        altered: set[str] = set()
        restamped: list[tuple[str, str, str, str]] = []
        missing = 0
        for topic in topics:
            for fmt in FEED_FORMATS:
                path = feed_path(topic, fmt)
                recorded = written.get((topic, fmt))
                if recorded is None:
                    if not self.output.exists(path):
                        altered.add(topic)
                    continue  # written before manifests were kept: trusted
                size, digest, stamp = recorded
                if stamp is not None and self.output.stamp(path) == stamp:
                    continue
                found = self.output.read_stamped(path)
                if found is None:
                    missing += 1
                elif len(found[0]) == size and hashlib.sha256(found[0]).hexdigest() == digest:
                    restamped.append((topic, fmt, digest, found[1]))
                    continue
                else:
                    log.warning("%s holds bytes no build wrote: writing it again", path)
                altered.add(topic)
        if missing:
            # An empty folder (a first export, a new volume) is no surprise.
            log.info("%d feed files missing from the output folder: writing them", missing)
        with contextlib.suppress(StoreError):
            self.store.feeds.restamp(restamped)
        return altered

    def _render_listings(self, rows: list[TopicRow]) -> list[Published]:
        # Imported with the rest of the rendering (see `render`).
        from syndicator.render.opml import render_topic_opml

        # An emptied topic keeps its (empty) feed but leaves the index and
        # the OPML (SPEC §4); "all" is always listed.
        summaries = [
            TopicSummary(r.name, r.articles, r.changed_at)
            for r in rows
            if r.articles > 0 or r.name == ALL_TOPIC
        ]
        newest = max((s.updated for s in summaries if s.updated), default=EPOCH)
        site = self.settings.site
        facets = self.store.facets
        languages = facets.listing(LANG_KIND)
        custom = facets.listing(CUSTOM_KIND)
        opml = render_topic_opml(
            site.title,
            site.base_url,
            summaries,
            languages=[(f.name, f.label) for f in sorted(languages, key=lambda f: f.name)],
            custom=[(f.name, f.label) for f in sorted(custom, key=lambda f: f.name)],
        )
        latest = [
            FrontArticle(a.title, a.url, a.summary, a.published_at, a.topics)
            for a, _, _ in self.store.articles.feed_entries(ALL_TOPIC, _FRONT_ARTICLES)
        ]
        entities = [
            FacetSummary(f.name, f.label, f.articles)
            for f in facets.listing(ENTITY_KIND, limit=_FRONT_ENTITIES)
        ]
        index = render_index(
            site.title,
            site.base_url,
            summaries,
            latest=latest,
            entities=entities,
            languages=[FacetSummary(f.name, f.label, f.articles) for f in languages],
            templates=self.templates,
        )
        return [
            Published(OPML_PATH, opml, CONTENT_TYPES["opml"], newest),
            Published(INDEX_PATH, index, CONTENT_TYPES["html"], newest),
            # Constant bytes: its Last-Modified stays where it was first recorded.
            Published(FEED_XSL_PATH, FEED_XSL, XSL_CONTENT_TYPE, newest),
        ]

    def load_published(self) -> list[Published]:
        """Every document currently in the output folder (what a new server serves first).

        Each is served with the validators recorded for its bytes, which are
        read when first asked for (a file changed since is served as it is,
        dated by its modification time); a file the store has no record of
        (written before records were kept) is read now, dated likewise.
        """
        states = {state.path: state for state in self.store.feeds.published_since(0)}
        paths = [
            (feed_path(row.name, fmt), CONTENT_TYPES[fmt])
            for row in self.store.articles.topics()
            for fmt in FEED_FORMATS
        ]
        paths += [
            (OPML_PATH, CONTENT_TYPES["opml"]),
            (INDEX_PATH, CONTENT_TYPES["html"]),
            (FEED_XSL_PATH, XSL_CONTENT_TYPE),
        ]
        docs: list[Published] = []
        for path, content_type in paths:
            state = states.get(path)
            if state is not None and self.output.exists(path):
                # Validators alone: the bytes are read when a reader first asks,
                # so start-up does not grow with the output folder.
                docs.append(
                    Published(path, b"", state.content_type, state.last_modified, state.sha256)
                )
                continue
            body = self.output.read(path)
            if body is None:
                continue
            modified = self.output.modified(path) or self.clock()
            docs.append(Published(path, body, content_type, modified))
        return docs

    def read_published(self, state: PublishedState) -> Published | None:
        """The document `state` describes, from the output folder; None when the
        file is missing or holds other bytes (a newer build is writing it)."""
        body = self.output.read(state.path)
        if body is None or hashlib.sha256(body).hexdigest() != state.sha256:
            return None
        return Published(state.path, body, state.content_type, state.last_modified)


def render_share(
    settings: Settings,
    topics: list[str],
    updated: dict[str, datetime],
    full: bool,
    keep: bool,
    now: datetime,
    cache_bytes: int,
    bodies: bool = True,
) -> BuildResult:
    """A worker process's part of a build: its own store connection and builder."""
    store = Store(settings.database.url, cache_mb=8)  # reads, and small writes
    try:
        builder = Builder(settings, store, lambda: now, cache_bytes=cache_bytes)
        builder.keep_bodies = bodies
        return builder.render(topics, updated, full, keep, now)
    finally:
        store.close()
