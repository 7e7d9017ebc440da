"""A source's poll read to the end, as the poller would read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syndicator.ports import SourceItem, SourcePoll


@dataclass
class Drained:
    """Every item of a poll, and where the source stood after the last chunk."""

    items: list[SourceItem] = field(default_factory=list)
    cursor: Any = None
    forget: list[tuple[str, int]] = field(default_factory=list)
    read_bytes: int = 0
    total_bytes: int | None = None


def drain(polled: SourcePoll) -> Drained:
    """Read `polled` to the end."""
    out = Drained(total_bytes=polled.total_bytes)
    for chunk in polled.chunks:
        out.items.extend(chunk.items)
        out.forget.extend(chunk.forget)
        out.cursor, out.read_bytes = chunk.cursor, chunk.bytes_read
    return out
