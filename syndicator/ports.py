"""Interfaces between the poll and build use cases and their adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["ArticleSource", "Clock", "SourceChunk", "SourceItem", "SourcePoll"]

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


@dataclass(frozen=True, slots=True)
class SourceChunk:
    """A run of records from a poll, and where the source stood after it."""

    items: tuple[SourceItem, ...]
    #: Opaque state to store with the watermark, handed back on the next poll.
    #: The last chunk's is the poll's; in a resumable poll every chunk's
    #: covers only records of this chunk and earlier ones.
    cursor: Any
    #: (origin, first line) ranges being read again: their old quarantine
    #: entries go before this chunk's records are written.
    forget: tuple[tuple[str, int], ...] = ()
    #: Bytes of the source read so far, for progress display.
    bytes_read: int = 0


@dataclass(frozen=True, slots=True)
class SourcePoll:
    """What one poll of a source yields: at least one chunk, the last one final."""

    chunks: Iterator[SourceChunk]
    #: Bytes to read, for progress display; None when unknown.
    total_bytes: int | None = None
    #: True when any chunk's cursor may be committed (a poll may then commit
    #: in parts and resume after a crash from the last part committed).
    resumable: bool = False


class ArticleSource(Protocol):
    """A place articles come from."""

    name: str

    def poll(self, since: datetime | None, cursor: Any) -> SourcePoll:
        """Start a poll; raise `SourceUnavailable` when the source cannot be read at all."""
        ...

    def close(self) -> None:
        """Release what the source keeps between polls (connections)."""
        ...
