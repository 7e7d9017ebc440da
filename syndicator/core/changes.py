"""Change detection (SPEC §3): what an incoming record does to the stored article."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.models import Article, ArticleVersion, ChangeKind

__all__ = ["StoredState", "classify_change"]


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store knows of an article, enough to classify a new version."""

    updated_at: datetime
    content_hash: str
    topics: tuple[str, ...]


def classify_change(
    stored: StoredState | None, article: Article | ArticleVersion, digest: str
) -> ChangeKind:
    """New slug → created; later and different → updated; anything else → ignored."""
    if stored is None:
        return ChangeKind.CREATED
    if article.updated_at <= stored.updated_at or digest == stored.content_hash:
        return ChangeKind.IGNORED
    return ChangeKind.UPDATED
