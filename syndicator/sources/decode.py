"""JSON decoding shared by the sources."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["loads"]


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
