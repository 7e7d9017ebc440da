"""Retry policy for webhook deliveries: classify an attempt, parse Retry-After, pick the delay.

Pure: the caller passes ``now`` and a ``random.Random``; nothing here reads the clock.

Classification (SPEC §6):

* ``2xx`` → ``DELIVERED``.
* network errors, timeouts, ``408``, ``429`` and ``5xx`` → ``RETRY``.
* everything else → ``PERMANENT`` (the delivery is dead at once). That includes the
  other ``4xx`` and also ``3xx``: redirects are never followed, so a redirecting
  endpoint is a misconfigured URL that no amount of retrying will fix. ``1xx`` as a
  final answer and codes outside 100-599 are protocol violations, also permanent.
* a :class:`~syndicator.errors.DeliveryRejected` error (e.g. a forbidden destination)
  → ``PERMANENT``: it is a configuration problem.
"""

from __future__ import annotations

import enum
import math
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from syndicator.errors import DeliveryRejected

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "DEFAULT_JITTER",
    "MAX_RETRY_AFTER_SECONDS",
    "AttemptOutcome",
    "classify_attempt",
    "next_delay",
    "parse_retry_after",
]

# Seconds to wait after attempt 1, 2, …: 7 retries spanning about 27.5 hours (SPEC §6).
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_JITTER = 0.2
# A receiver asking for more than a day is almost certainly wrong; waiting longer would
# also outlast the whole default schedule.
MAX_RETRY_AFTER_SECONDS = 86_400.0

_DELTA_SECONDS = re.compile(r"[+-]?\d+(?:\.\d+)?")


class AttemptOutcome(enum.StrEnum):
    """What one delivery attempt means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


def classify_attempt(status_code: int | None, error: BaseException | None) -> AttemptOutcome:
    """Classify an attempt from its HTTP status, or from its error when there was no answer."""
    if status_code is not None:
        # An answer decides, even if reading its body failed afterwards: the receiver
        # has spoken, and a 2xx means it took the event.
        if 200 <= status_code <= 299:
            return AttemptOutcome.DELIVERED
        if status_code in (408, 429) or 500 <= status_code <= 599:
            return AttemptOutcome.RETRY
        return AttemptOutcome.PERMANENT
    if error is None:
        raise ValueError("classify_attempt() needs a status code or an error")
    if isinstance(error, DeliveryRejected):
        return AttemptOutcome.PERMANENT
    # Connection refused/reset, DNS failure, timeout, protocol error: all transient.
    return AttemptOutcome.RETRY


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a ``Retry-After`` header (delta-seconds or HTTP-date) into seconds from ``now``.

    Past dates and negative values give 0, values over a day are capped at
    :data:`MAX_RETRY_AFTER_SECONDS`, and anything unparseable gives ``None``.
    A naive ``now`` is taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # HTTP-dates are always GMT; parsedate gives a naive value for "-0000".
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def next_delay(
    schedule: Sequence[float],
    attempts_made: int,
    retry_after: float | None,
    rng: random.Random,
    jitter: float = DEFAULT_JITTER,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when the schedule is exhausted.

    After ``attempts_made`` failed attempts the base delay is ``schedule[attempts_made - 1]``.
    Jitter is proportional: the delay is drawn uniformly from ``base × [1 - jitter,
    1 + jitter]``, so retries of many deliveries failed together spread out instead of
    arriving as one burst. A ``Retry-After`` longer than that wins (un-jittered: it is
    the receiver's minimum); a shorter one is ignored. Retry-After never extends the
    schedule: once it is exhausted the delivery is dead.
    """
    if attempts_made < 1:
        raise ValueError("attempts_made must be at least 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    if attempts_made > len(schedule):
        return None
    base = float(schedule[attempts_made - 1])
    if base < 0 or not math.isfinite(base):
        raise ValueError("retry schedule delays must be finite and non-negative")
    delay = base * (1.0 + rng.uniform(-jitter, jitter))
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay
