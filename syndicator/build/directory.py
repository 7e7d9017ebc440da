"""The entity directory, rendered when asked for (`/entities/`, `/entities/<letter>.html`,
`/feeds/entities.opml`).

With tens of thousands of entities these pages change at nearly every poll
that touches an entity, so, like the facet feeds (`ondemand.py`), they are
never rendered ahead: a request renders the one page from the store, the
serving process keeps it in the facet feeds' bounded `DocumentCache`, and its
validators go to the store with the data version it was made from (the sum
of every entity feed's version, which moves when any of them changes). A
reader whose copy is current gets a 304 without a render.
"""

from __future__ import annotations

import threading

from syndicator.build.output import OutputDir
from syndicator.build.reuse import sha256
from syndicator.config import Settings
from syndicator.core.urls import ENTITY_KIND
from syndicator.ports import Clock
from syndicator.render.directory import (
    INITIALS,
    OTHER,
    initial_of,
    letter_path,
    render_entities_opml,
    render_entity_index,
    render_letter,
)
from syndicator.render.feeds import CONTENT_TYPES
from syndicator.render.index import (
    ENTITIES_OPML_PATH,
    ENTITY_DIRECTORY,
    FacetSummary,
    SiteTemplates,
)
from syndicator.store import FacetRow, Store, StoredDocument
from syndicator.web.documents import Document, DocumentCache, cache_control, stand_in

__all__ = ["DirectoryDocuments"]

_GZIP_LEVEL = 6
_INDEX = f"/{ENTITY_DIRECTORY}"
_OPML = f"/{ENTITIES_OPML_PATH}"
_PAGES = {f"/{letter_path(i)}": i for i in INITIALS}


class DirectoryDocuments:
    """The `DocumentLoader` of the entity directory and its OPML file."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        cache: DocumentCache,
        templates: SiteTemplates,
        *,
        fingerprint: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.cache = cache
        self.templates = templates
        # The pages' bytes depend on the templates as well as on the feeds.
        self.fingerprint = f"{fingerprint}:{templates.digest}"
        self.control = cache_control(settings.cache_max_age())
        self._version: int | None = None  # the data version of what is cached
        self._lock = threading.Lock()
        self.rendered = 0

    def wants(self, path: str) -> bool:
        """The directory's paths: ``/entities/``, its letter pages, the OPML file."""
        return path in (_INDEX, _OPML) or path in _PAGES

    def validators(self, path: str) -> Document | None:
        """The stored validators of the current page, or None (render it)."""
        if not self.wants(path):
            return None
        stored = self.store.facets.document(path)
        version = self.store.facets.newest_version(ENTITY_KIND)
        if stored is None or (stored.data_version, stored.fingerprint) != (
            version,
            self.fingerprint,
        ):
            return None
        return stand_in(stored.sha256, _content_type(path), stored.last_modified, self.control)

    def load(self, path: str) -> Document | None:
        """Render the page at `path` from the store."""
        if not self.wants(path):
            return None
        # Read before the rows: a change committed meanwhile leaves the page
        # recorded as older than it is, so it is rendered again.
        version = self.store.facets.newest_version(ENTITY_KIND)
        body = self.render(path)
        digest = sha256(body)
        stored = self.store.facets.document(path)
        modified = self.clock() if stored is None else max(self.clock(), stored.last_modified)
        recorded = self.store.facets.save_document(
            StoredDocument(path, digest, modified, version, self.fingerprint)
        )
        with self._lock:
            if self._version != version:
                self._forget()
            self._version = version
        self.rendered += 1
        return Document.build(
            body,
            _content_type(path),
            recorded.last_modified,
            cache_control=self.control,
            compresslevel=_GZIP_LEVEL,
            digest=digest,
        )

    def export(self, output: OutputDir) -> int:
        """Write the directory's pages and OPML file into `output`, for a
        static copy of the site; return how many files were written."""
        pending = [
            (path.lstrip("/") + ("index.html" if path.endswith("/") else ""), self.render(path))
            for path in (_INDEX, *_PAGES, _OPML)
        ]
        return output.write_many(pending)

    def export_changed(self, output: OutputDir) -> int:
        """Write the directory again when `output` holds an exported copy of it
        (entities changed); return how many files were written."""
        return self.export(output) if output.exists(_EXPORTED) else 0

    def render(self, path: str) -> bytes:
        """The bytes of one directory document, from the store."""
        site = self.settings.site
        facets = self.store.facets
        if path == _INDEX:
            counts = dict.fromkeys(INITIALS, 0)
            for char, n in facets.initials(ENTITY_KIND).items():
                if char != "x":
                    counts[char if char in counts else OTHER] += n
            # Under x both names starting with x and hash slugs of non-Latin names.
            for row in facets.starting(ENTITY_KIND, "x"):
                counts[initial_of("x", row.label)] += 1
            return render_entity_index(site.title, site.base_url, counts, self.templates)
        if path == _OPML:
            rows = facets.listing(ENTITY_KIND)
            return render_entities_opml(site.title, site.base_url, (_summary(r) for r in rows))
        initial = _PAGES[path]
        chars = "0123456789x" if initial == OTHER else initial
        entities = [
            _summary(row)
            for char in chars
            for row in facets.starting(ENTITY_KIND, char)
            if initial_of(char, row.label) == initial
        ]
        return render_letter(site.title, site.base_url, initial, entities, self.templates)

    def refresh(self) -> list[str]:
        """Drop the cached pages when any entity changed; return their paths."""
        with self._lock:
            if self._version is None:
                return []
        if self.store.facets.newest_version(ENTITY_KIND) == self._version:
            return []
        with self._lock:
            self._version = None
            return self._forget()

    def _forget(self) -> list[str]:
        # Caller holds the lock.
        return self.cache.discard([_INDEX, _OPML, *_PAGES])


#: The file that tells an exported directory is in the output folder.
_EXPORTED = _INDEX.lstrip("/") + "index.html"


def _summary(row: FacetRow) -> FacetSummary:
    return FacetSummary(row.name, row.label, row.articles)


def _content_type(path: str) -> str:
    return CONTENT_TYPES["opml"] if path == _OPML else CONTENT_TYPES["html"]
