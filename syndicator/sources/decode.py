"""JSON decoding shared by the sources."""

from __future__ import annotations

import json
from typing import Any

import orjson

from syndicator.core.records import may_hold_xml_illegal
from syndicator.ports import SourceItem

__all__ = ["decode_line", "decoded", "loads"]


def loads(data: bytes | str) -> Any:
    """Decode JSON fast; fall back to the stdlib for what orjson refuses.

    orjson rejects lone surrogate escapes (``"\\ud800"``), which are valid JSON;
    the record validator strips them later, so the record is not lost.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        try:
            return json.loads(text)
        except RecursionError:
            # Deeply nested input must be an invalid record, not a crashed poll.
            raise ValueError("JSON nested too deeply") from None


def decode_line(raw: bytes, origin: str, line: int | None) -> SourceItem:
    """One record's JSON text decoded, or the reason it cannot be."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SourceItem(origin, line, error=f"not valid UTF-8 (byte {exc.start})")
    try:
        return SourceItem(origin, line, data=loads(text), clean=not may_hold_xml_illegal(raw))
    except ValueError as exc:
        return SourceItem(origin, line, error=f"invalid JSON: {exc}")


def decoded(item: SourceItem) -> SourceItem:
    """`item` with its `raw` text decoded (items without one are returned as they are)."""
    return item if item.raw is None else decode_line(item.raw, item.origin, item.line)
