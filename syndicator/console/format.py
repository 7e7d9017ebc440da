"""How the console's templates write times, durations, sizes and ratios."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["FILTERS", "NOTICES"]

#: What the page after an action says (`?done=<key>`); a fixed list, so a link
#: cannot make the console show a text of its choosing.
NOTICES = {
    "paused": "Endpoint paused: its deliveries stay queued until it is resumed.",
    "resumed": "Endpoint resumed: its queued deliveries are due now.",
    "unchanged": "Nothing to change: the endpoint was already in that state.",
    "retried": "Delivery queued again, due now, with the same webhook-id.",
    "replayed": "Events queued again for the endpoint.",
}


def when(value: datetime | str | None) -> str:
    """A time (or an RFC 3339 text) in UTC, to the second."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        parsed = value
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, roughly (``5 min ago``)."""
    if value is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    if seconds < 0:
        return "in the future"
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def duration(seconds: float | None) -> str:
    """Seconds as ms below one, else seconds."""
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def millis(value: int | None) -> str:
    """Milliseconds, or a dash."""
    return "–" if value is None else f"{value} ms"


def percent(value: float | None) -> str:
    """A ratio as a percentage."""
    return "–" if value is None else f"{value * 100:.1f} %"


def size(value: int | None) -> str:
    """Bytes, in the largest unit under 1,000 of it."""
    if value is None:
        return "–"
    amount = float(value)
    for unit in ("B", "kB", "MB"):
        if amount < 1000:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} GB"


def ratio(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage (a dash for nothing)."""
    return percent(part / whole if whole else None)


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "ago": ago,
    "duration": duration,
    "millis": millis,
    "percent": percent,
    "size": size,
    "ratio": ratio,
}
