"""The webhook body of an article event (SPEC §6): type, timestamp and data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syndicator.core.article import announced_data, article_to_dict
from syndicator.core.times import db_time
from syndicator.models import Article, ChangeKind

__all__ = ["event_data", "event_json", "event_payload", "event_timestamp"]


def event_payload(kind: ChangeKind, article: Article, base_url: str) -> dict[str, Any]:
    """The webhook body of an article event (SPEC §6)."""
    return {
        "type": str(kind),
        "timestamp": event_timestamp(article.updated_at),
        "data": event_data(article, base_url),
    }


def event_timestamp(updated_at: datetime) -> str:
    """An event's `timestamp`: the article's `updated_at` to the second."""
    # The fixed-width store text up to the seconds: the same text as
    # `format_time` of the time without its fraction, and already cached.
    return f"{db_time(updated_at)[:19]}Z"


def event_data(article: Article, base_url: str) -> dict[str, Any]:
    """The `data` object of an article event."""
    return announced_data(article_to_dict(article), base_url)


def event_json(kind: ChangeKind | str, timestamp: str, data_json: str) -> str:
    """`event_payload` serialized, from its `data` already in JSON: the same
    bytes as ``orjson.dumps(event_payload(...))`` (the tests check)."""
    return f'{{"type":"{kind}","timestamp":"{timestamp}","data":{data_json}}}'
