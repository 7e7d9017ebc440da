"""`Store`: one deployment's state, a table-group object per concern; `Tx` for a poll.

Each table group (`articles` with its `embargoes`, `outbox`, `feeds`, `websub`,
`polls`, `processes`, `facets`, `readers`) is the only writer of its tables. A poll's writes span
several of them and must commit
together (the transactional outbox, SPEC §3): `Store.transaction` yields a `Tx`
that runs their connection-level functions inside one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from syndicator.core.changes import StoredState
from syndicator.core.custom import CustomFeed
from syndicator.core.routing import Route
from syndicator.models import Quarantined
from syndicator.store import articles, deletions, facet_index, feeds, outbox, polls
from syndicator.store.articles import Articles, Change
from syndicator.store.db import Database
from syndicator.store.deletions import Deletion
from syndicator.store.embargoes import Embargoes
from syndicator.store.facets import EntityNames, Facets
from syndicator.store.feeds import Feeds
from syndicator.store.outbox import Outbox
from syndicator.store.polls import Polls
from syndicator.store.processes import Processes
from syndicator.store.readers import Readers
from syndicator.store.websub import Subscriptions

__all__ = ["Store", "Tx"]

# Set once the entity and language feeds of every stored article are indexed.
_FACETS_INDEXED = "facets_indexed"


class Tx:
    """Writes that commit together: article state, watermark, events, quarantine."""

    def __init__(
        self,
        conn: Connection,
        now: datetime,
        custom: Sequence[CustomFeed] = (),
        names: EntityNames | None = None,
    ) -> None:
        self.conn = conn
        self.now = now
        self.custom = custom
        #: Feed counts, dates and spellings, written once at the end (`finish`).
        self.deltas = articles.FeedDeltas(entity_cache=names)
        #: Feeds to mark for rendering at the end (`finish`), each once.
        self.dirty: set[str] = set()

    def states(self, slugs: Sequence[str]) -> dict[str, StoredState]:
        """The stored state of the given slugs that exist."""
        return articles.stored_states(self.conn, slugs, self.custom, self.deltas)

    def apply(self, changes: Sequence[Change], routes: Sequence[Route] = ()) -> set[str]:
        """Write articles, topics, events and their deliveries; return touched topics."""
        if not changes:
            return set()
        touched, held = articles.apply_changes(
            self.conn, changes, self.now, self.custom, self.deltas
        )
        outbox.add_events(self.conn, changes, routes, self.now)
        outbox.hold_deliveries(self.conn, held)
        self.dirty |= touched
        return touched

    def delete(self, items: Sequence[Deletion], routes: Sequence[Route], base_url: str) -> set[str]:
        """Take articles down (SPEC §3b): purge, leave feeds, announce; return touched feeds."""
        if not items:
            return set()
        outbox.withdraw_held(self.conn, [d.tombstone.slug for d in items], self.now)
        self.deltas.postings.flush(self.conn)  # they may be articles of this transaction
        touched, announcements = deletions.apply_deletions(
            self.conn, items, base_url, self.now, self.custom
        )
        outbox.add_announcements(self.conn, announcements, routes, self.now)
        feeds.mark_dirty(self.conn, touched)
        return touched

    def finish(self) -> None:
        """Write what the transaction's changes added up (before it commits)."""
        self.deltas.write(self.conn)
        feeds.mark_dirty(self.conn, self.dirty)
        self.dirty = set()

    def mark_dirty(self, topics: Iterable[str]) -> None:
        """Queue feeds for rendering; the queue survives a crash."""
        feeds.mark_dirty(self.conn, topics)

    def set_source(self, name: str, watermark: datetime | None, cursor: Any) -> None:
        """Record the source's watermark and cursor."""
        polls.set_source(self.conn, name, watermark, cursor)

    def forget_quarantine(self, source_name: str, origin: str, from_line: int = 0) -> None:
        """Drop quarantine entries of `origin` at or after `from_line` (it is being re-read)."""
        polls.forget_quarantine(self.conn, source_name, origin, from_line)

    def add_quarantine(
        self, source_name: str, items: Sequence[tuple[str, int | None, Quarantined]]
    ) -> None:
        """Record rejected records: (origin, line, what)."""
        polls.add_quarantine(self.conn, source_name, items, self.now)


class Store:
    """Durable state of one Syndicator deployment."""

    def __init__(self, url: str, *, cache_mb: int = 64) -> None:
        self.db = Database(url, cache_mb=cache_mb)
        self.articles = Articles(self.db)
        self.outbox = Outbox(self.db)
        self.feeds = Feeds(self.db)
        self.websub = Subscriptions(self.db)
        self.polls = Polls(self.db)
        self.embargoes = Embargoes(self.db)
        self.processes = Processes(self.db)
        #: Entity feed names read or given, shared by polls and builds.
        self.entity_names = EntityNames()
        self.facets = Facets(self.db, self.entity_names)
        self.readers = Readers(self.db)
        #: The configured custom feeds: which articles each holds is kept
        #: with the articles (see `use_custom_feeds`).
        self.custom: tuple[CustomFeed, ...] = ()

    @property
    def url(self) -> str:
        """The database URL the store was opened with."""
        return self.db.url

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.db.dialect

    def migrate(self) -> int:
        """Bring the schema up to date (and index the facets of articles
        stored before facet feeds existed)."""
        return self.db.migrate((_FACETS_INDEXED, facet_index.index_facets))

    def use_custom_feeds(self, custom: Sequence[CustomFeed]) -> bool:
        """Keep the membership of these custom feeds from now on; when their
        filters differ from those the stored membership was made with, make it
        again for every article (one transaction). Return whether it was made."""
        self.custom = tuple(custom)
        with self.db.write() as conn:
            return facet_index.index_custom(conn, self.custom)

    def checkpoint(self) -> None:
        """Fold SQLite's WAL back into the database now (nothing for PostgreSQL)."""
        self.db.checkpoint()

    def close(self) -> None:
        """Release every connection."""
        self.db.close()

    def size_bytes(self) -> int | None:
        """The database's size on disk (SQLite: file and WAL; None in memory)."""
        return self.db.size_bytes()

    def free_pages(self, release: int) -> int:
        """SQLite: give up to `release` free pages back to the file system; return
        how many are left (PostgreSQL's autovacuum reclaims space itself: 0)."""
        return self.db.free_pages(release)

    def ping(self) -> None:
        """Raise `StoreError` when the database cannot be reached."""
        self.db.ping()

    def release_embargoes(self, now: datetime) -> set[str]:
        """Publish the held articles due by `now`, marking their feeds dirty in the
        same transaction; return those feeds' topics (empty when nothing was due)."""
        due = self.embargoes.next_release()
        if due is None or due > now:
            return set()  # the usual case, answered without taking the write lock
        with self.db.write() as conn:
            touched = articles.release_due(conn, now)
            feeds.mark_dirty(conn, touched)
        return touched

    @contextmanager
    def transaction(self, now: datetime) -> Iterator[Tx]:
        """A write transaction; everything in it commits together or not at all."""
        with self.db.write() as conn:
            tx = Tx(conn, now, self.custom, self.entity_names)
            yield tx
            tx.finish()
        # Committed: the names it gave are stored for good.
        self.entity_names.remember(tx.deltas.given)
