"""Change detection (SPEC §3, §3b): what an incoming record does to the stored article."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.models import Article, ArticleVersion, ChangeKind, Tombstone

__all__ = ["DELETED_HASH", "UNPUBLISHED_HASH", "StoredState", "classify_change"]

#: The `content_hash` of a deleted article's row: no record's hash equals it,
#: so a restoring record is never taken for "same content".
DELETED_HASH = "deleted"
#: The `content_hash` of a tombstone for a slug never published (nothing was
#: ever announced, so its first record is `article.created`).
UNPUBLISHED_HASH = "deleted-unpublished"


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store knows of an article, enough to classify a new version.

    `topics` are the feeds that hold the article now besides `all` (its
    topics, then its entity and language feeds): none while it is deleted
    (its stored record still names what it had). `entities` are its
    entities as spelled, while it is live.
    """

    updated_at: datetime
    content_hash: str
    topics: tuple[str, ...]
    entities: tuple[str, ...] = ()

    @property
    def deleted(self) -> bool:
        """The article is taken down (or was only ever a tombstone)."""
        return self.content_hash in (DELETED_HASH, UNPUBLISHED_HASH)

    @property
    def announced(self) -> bool:
        """`article.created` was sent for this slug once: never again."""
        return self.content_hash != UNPUBLISHED_HASH


def classify_change(
    stored: StoredState | None, article: Article | ArticleVersion | Tombstone, digest: str
) -> ChangeKind:
    """New slug → created; later and different → updated; anything else → ignored.

    Tombstones (SPEC §3b): a later one deletes a live article; one for a slug
    never seen is buried (kept, announced to no one). A later record restores
    a deleted article as `updated`, or `created` if it was never announced; an
    older or equal one never resurrects it.
    """
    if isinstance(article, Tombstone):
        if stored is None:
            return ChangeKind.BURIED
        if article.deleted_at <= stored.updated_at:
            return ChangeKind.IGNORED
        return ChangeKind.BURIED if stored.deleted else ChangeKind.DELETED
    if stored is None:
        return ChangeKind.CREATED
    if article.updated_at <= stored.updated_at or digest == stored.content_hash:
        return ChangeKind.IGNORED
    if stored.deleted and not stored.announced:
        return ChangeKind.CREATED
    return ChangeKind.UPDATED
