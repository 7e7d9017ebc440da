"""A start time as operators type it: an RFC 3339 time, or a duration ago."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["SINCE_FORMS", "parse_since"]

SINCE_FORMS = "an RFC 3339 time (2026-06-01T10:00:00Z) or a duration ago (90s, 30m, 2h, 7d, 1w)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(value: str, now: datetime) -> datetime:
    """An RFC 3339 time, or that long before `now`; ValueError naming the forms otherwise."""
    text = value.strip()
    unit = _UNITS.get(text[-1:].lower())
    if unit is not None:
        try:
            amount = float(text[:-1])
        except ValueError:
            amount = -1.0
        if 0 <= amount < 1e7:  # a finite, non-negative duration
            try:
                return now - timedelta(seconds=amount * unit)
            except OverflowError:
                raise ValueError(f"{value!r}: too far back") from None
    # Here, not at the top: the command line imports this module for its help
    # text, and records brings in pydantic.
    from syndicator.core.records import parse_datetime

    try:
        return parse_datetime(text)
    except ValueError:
        raise ValueError(f"{value!r}: expected {SINCE_FORMS}") from None
