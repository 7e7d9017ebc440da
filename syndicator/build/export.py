"""The static copy of facet feeds (`syndicator export --facets`), and keeping it current.

Facet feeds are rendered on request, never written by a build. A user who
exports them (to publish the folder from a CDN) gets files that later
builds must keep current, or the copy would go on listing a taken-down
article. Commands that build (`once`, `articles remove`) call
`refresh_export` with their build's result; the daemon does the same with
its own loaders. Nothing is written where no export was made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from syndicator.core.urls import ENTITY_KIND, FACET_KINDS, split_feed_name

if TYPE_CHECKING:
    # Loaded when used: `once` and `articles` import this module, and most
    # of their runs have no export to keep (nor a page to render).
    from syndicator.build.builder import Builder
    from syndicator.build.directory import DirectoryDocuments
    from syndicator.build.ondemand import FacetDocuments
    from syndicator.build.result import BuildResult
    from syndicator.config import Settings
    from syndicator.ports import Clock
    from syndicator.store import Store

__all__ = ["export_facets", "exported", "facet_loaders", "refresh_export", "write_changed"]


def facet_loaders(
    settings: Settings, store: Store, builder: Builder, clock: Clock
) -> tuple[FacetDocuments, DirectoryDocuments]:
    """The facet feed and entity directory renderers of `builder`'s site,
    sharing one bounded cache (the daemon serves with them; commands export)."""
    from syndicator.build.directory import DirectoryDocuments
    from syndicator.build.ondemand import FacetDocuments

    fingerprint = builder.fingerprint()
    documents = FacetDocuments(
        settings,
        store,
        clock,
        fingerprint=fingerprint,
        hub_urls=builder.hub_urls(),
        ttl_minutes=builder.ttl_minutes(),
    )
    directory = DirectoryDocuments(
        settings, store, clock, documents.cache, builder.templates, fingerprint=fingerprint
    )
    return documents, directory


@contextmanager
def _loaders(
    settings: Settings, store: Store, builder: Builder, clock: Clock
) -> Iterator[tuple[FacetDocuments, DirectoryDocuments]]:
    """`facet_loaders` for one command, their writer stopped after."""
    documents, directory = facet_loaders(settings, store, builder, clock)
    try:
        yield documents, directory
    finally:
        documents.close()


def _export_all(documents: FacetDocuments, directory: DirectoryDocuments, builder: Builder) -> int:
    return documents.export(builder.output) + directory.export(builder.output)


def export_facets(settings: Settings, store: Store, builder: Builder, clock: Clock) -> int:
    """Write every facet feed and the entity directory into the output folder;
    return how many files were written."""
    with _loaders(settings, store, builder, clock) as loaders:
        return _export_all(*loaders, builder)


def exported(builder: Builder) -> bool:
    """Whether the output folder holds an export of facet feeds."""
    feeds = builder.output.root / "feeds"
    return any((feeds / kind).is_dir() for kind in FACET_KINDS)


def write_changed(
    documents: FacetDocuments,
    directory: DirectoryDocuments,
    builder: Builder,
    names: Sequence[str],
    full: bool = False,
) -> int:
    """Write again the exported files of the changed facets `names`, and the
    exported entity directory when an entity changed; after a `full` build
    (new settings shape every feed) the whole export. Return files written."""
    if full:
        return _export_all(documents, directory, builder)
    # With those another builder changed meanwhile, which this folder missed.
    names = sorted({*names, *documents.export_behind(builder.output)})
    written = documents.export_changed(builder.output, names)
    if any(split_feed_name(name)[0] == ENTITY_KIND for name in names):
        written += directory.export_changed(builder.output)
    return written


def refresh_export(
    settings: Settings, store: Store, builder: Builder, clock: Clock, result: BuildResult
) -> int:
    """After a build: keep an exported copy of the facet feeds current, those
    it changed and those other builders did (nothing when none was
    exported); return files written."""
    if not exported(builder):
        return 0
    with _loaders(settings, store, builder, clock) as (documents, directory):
        return write_changed(documents, directory, builder, result.facets, result.full)
