"""Times as text: RFC 3339 for what users and receivers read, fixed width for the store."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "db_time", "format_time", "next_modified"]


# An article's two times are formatted several times each while it is stored
# and announced; equal instants always give the same UTC text, so a small
# cache is exact.
@functools.lru_cache(maxsize=4096)
def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; fractions only when present. Sorts as text."""
    # An aware UTC time ends "+00:00"; slicing it off is cheaper than a naive copy.
    return f"{_utc(value).isoformat()[:-6]}Z"


#: The date of a feed no article has dated yet (never the clock: SPEC §4).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def db_time(value: datetime) -> str:
    """Fixed-width UTC text (always microseconds), so stored times sort as text."""
    return f"{_utc(value).isoformat(timespec='microseconds')[:-6]}Z"


def _utc(value: datetime) -> datetime:
    # A naive value is taken as local time, as `astimezone` does.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


_SECOND = timedelta(seconds=1)


def next_modified(previous: datetime | None, now: datetime) -> datetime:
    """The Last-Modified of a document whose bytes change `now`: the whole
    second, and at least a second past the `previous` one. HTTP dates have
    whole seconds: two versions within one must not share a date, or
    If-Modified-Since would answer 304 for bytes the reader has not seen."""
    second = now.astimezone(UTC).replace(microsecond=0)
    return second if previous is None else max(second, previous + _SECOND)
