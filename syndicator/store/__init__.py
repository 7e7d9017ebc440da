"""Durable state: SQLite by default, PostgreSQL for several processes.

`Store` is the entry point: lifecycle, the poll's `Tx`, and one object per table
group (`articles` with its `embargoes`, `outbox`, `feeds`, `websub`, `polls`,
`processes`), each the only writer of its tables.
"""

from __future__ import annotations

from syndicator.store.articles import Articles, Change, TopicRow
from syndicator.store.deletions import Deletion
from syndicator.store.embargoes import Embargoes, Held
from syndicator.store.facets import FacetRow, Facets, StoredDocument
from syndicator.store.feeds import (
    FeedKey,
    FeedManifest,
    Feeds,
    PublishedState,
    WrittenDocument,
    feed_key,
)
from syndicator.store.outbox import STATUSES, Claimed, Outbox, Outcome
from syndicator.store.polls import PollRecord, Polls
from syndicator.store.processes import Processes, ProcessRecord
from syndicator.store.store import Store, Tx
from syndicator.store.websub import Subscriptions

__all__ = [
    "STATUSES",
    "Articles",
    "Change",
    "Claimed",
    "Deletion",
    "Embargoes",
    "FacetRow",
    "Facets",
    "FeedKey",
    "FeedManifest",
    "Feeds",
    "Held",
    "Outbox",
    "Outcome",
    "PollRecord",
    "Polls",
    "ProcessRecord",
    "Processes",
    "PublishedState",
    "Store",
    "StoredDocument",
    "Subscriptions",
    "TopicRow",
    "Tx",
    "WrittenDocument",
    "feed_key",
]
