"""Builds the adapters from settings; used by the command line and the daemon."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from syndicator.build import Builder
from syndicator.build.builder import RENDER_MODULES
from syndicator.config import Settings
from syndicator.errors import ConfigError
from syndicator.ingest import Poller, Progress
from syndicator.ports import ArticleSource
from syndicator.processes import Workers, keep_freed_memory
from syndicator.sources.folder import FolderSource
from syndicator.store.store import Store

__all__ = [
    "make_builder",
    "make_poller",
    "make_source",
    "make_workers",
    "open_store",
    "utc_now",
]

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The wall clock, timezone-aware; injected everywhere time is needed."""
    return datetime.now(UTC)


def make_source(settings: Settings, environ: Mapping[str, str] | None = None) -> ArticleSource:
    """The configured article source; `environ` holds the `headers_env` secrets."""
    if settings.source.kind == "dir":
        return FolderSource(settings.source.path, name="dir", limits=settings.source.limits)
    if settings.source.kind == "http":
        # Imported here: a `dir` source never loads httpx.
        from syndicator.sources.http_api import HttpSource

        return HttpSource(settings.source, os.environ if environ is None else environ)
    raise ConfigError(f"source.kind: {settings.source.kind!r} is not available in this build")


def open_store(settings: Settings) -> Store:
    """Open the database and bring its schema up to date."""
    store = Store(settings.database.url)
    store.migrate()
    try:
        if store.use_custom_feeds(settings.feeds.custom_feeds()):
            log.info("custom feeds: membership made for %d feeds", len(store.custom))
    except BaseException:
        store.close()
        raise
    return store


def make_workers(settings: Settings, *, keep_warm: bool = False) -> Workers:
    """The worker processes a command's polls and builds share (`poll.processes`):
    none start until a large poll or build, or a `preload`, needs them. This
    process then keeps freed memory for reuse during them, as they do."""
    keep_freed_memory()
    return Workers.configured(settings.poll.processes, RENDER_MODULES, keep_warm=keep_warm)


def make_poller(
    settings: Settings,
    store: Store,
    progress: Progress | None = None,
    workers: Workers | None = None,
) -> Poller:
    """The poll of the configured source."""
    return Poller(settings, store, make_source(settings), utc_now, progress, workers)


def make_builder(settings: Settings, store: Store, workers: Workers | None = None) -> Builder:
    """The feed build over the store."""
    return Builder(settings, store, utc_now, workers=workers)
