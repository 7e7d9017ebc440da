"""Interfaces between the pipeline and its adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["ArticleSource", "Clock", "SourceBatch", "SourceItem"]

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One decoded record from a source, or the reason it could not be decoded."""

    origin: str  # file path or URL
    line: int | None
    data: Any = None
    error: str | None = None
    #: True when the raw text is known to hold no XML-illegal character.
    clean: bool = False
    #: The record's JSON text, left for the consumer to decode (in a worker
    #: process when the poll is large); `data` and `error` are then unset.
    raw: bytes | None = None

    @property
    def location(self) -> str:
        """`file:line` or the URL, as shown in quarantine listings."""
        return self.origin if self.line is None else f"{self.origin}:{self.line}"


@dataclass(slots=True)
class SourceBatch:
    """What one poll of a source yields.

    `items` must be consumed before `cursor` and `refreshed` are final.
    """

    items: Iterator[SourceItem]
    #: Opaque state to store with the watermark, handed back on the next poll.
    cursor: Any = None
    #: (origin, first line) ranges being re-read: their old quarantine entries go.
    refreshed: list[tuple[str, int]] = field(default_factory=list)
    #: Bytes to read, for progress display; None when unknown.
    total_bytes: int | None = None
    #: Bytes read so far (advances while `items` is consumed).
    read_bytes: int = 0
    #: True when `cursor`, at any point while `items` is consumed, describes
    #: only records already yielded: a poll may then commit in parts.
    resumable: bool = False


class ArticleSource(Protocol):
    """A place articles come from."""

    name: str

    def poll(self, since: datetime | None, cursor: Any) -> SourceBatch:
        """Start a poll; raise `SourceUnavailable` when the source cannot be read at all."""
        ...
