"""Cutting a source's records into `SourceChunk`s."""

from __future__ import annotations

from typing import Any

from syndicator.ports import SourceChunk, SourceItem

__all__ = ["CHUNK_RECORDS", "Chunker"]

#: Records per chunk: the unit of validation (in a worker process when the
#: poll is large) and of writing.
CHUNK_RECORDS = 1000


class Chunker:
    """Collects a source's items and quarantine ranges until a chunk is full.

    A source's own bookkeeping while it reads; what leaves it is a frozen
    `SourceChunk` with a copy of the cursor as it stood.
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = size or CHUNK_RECORDS
        self.bytes_read = 0
        self._items: list[SourceItem] = []
        self._forget: list[tuple[str, int]] = []

    def forget(self, origin: str, from_line: int = 0) -> None:
        """`origin` is read again from `from_line`: its old quarantine entries go."""
        self._forget.append((origin, from_line))

    def add(self, item: SourceItem) -> bool:
        """Add an item; True when the chunk is full."""
        self._items.append(item)
        return len(self._items) >= self.size

    def take(self, cursor: Any) -> SourceChunk:
        """The chunk collected so far, with a snapshot of `cursor`; start the next."""
        snapshot = dict(cursor) if isinstance(cursor, dict) else cursor
        chunk = SourceChunk(tuple(self._items), snapshot, tuple(self._forget), self.bytes_read)
        self._items, self._forget = [], []
        return chunk
