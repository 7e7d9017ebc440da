"""The pure retry policy: classification, Retry-After parsing and the backoff schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.core.retry import (
    DEFAULT_RETRY_SCHEDULE,
    MAX_RETRY_AFTER_SECONDS,
    AttemptOutcome,
    classify_attempt,
    next_delay,
    parse_retry_after,
)
from syndicator.delivery.guard import DestinationForbidden
from syndicator.errors import DeliveryError, DeliveryRejected, DeliveryTimeout

NOW = datetime(2026, 6, 30, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify_attempt(status, None) is AttemptOutcome.DELIVERED


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retried(status: int) -> None:
    assert classify_attempt(status, None) is AttemptOutcome.RETRY


@pytest.mark.parametrize(
    "status", [100, 301, 302, 304, 307, 308, 400, 401, 403, 404, 410, 422, 600]
)
def test_other_statuses_are_permanent(status: int) -> None:
    # 3xx included: redirects are not followed, so the URL is wrong.
    assert classify_attempt(status, None) is AttemptOutcome.PERMANENT


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(), TimeoutError(), DeliveryTimeout("t"), DeliveryError("reset")],
)
def test_errors_without_an_answer_are_retried(error: BaseException) -> None:
    assert classify_attempt(None, error) is AttemptOutcome.RETRY


def test_rejected_destination_is_permanent() -> None:
    assert classify_attempt(None, DeliveryRejected("no")) is AttemptOutcome.PERMANENT
    forbidden = DestinationForbidden("x", "x is loopback")
    assert classify_attempt(None, forbidden) is AttemptOutcome.PERMANENT


def test_an_answer_wins_over_a_later_error() -> None:
    assert classify_attempt(200, DeliveryTimeout("body")) is AttemptOutcome.DELIVERED


def test_classify_needs_something() -> None:
    with pytest.raises(ValueError):
        classify_attempt(None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-30", 0.0),
        ("99999999", MAX_RETRY_AFTER_SECONDS),
        ("Tue, 30 Jun 2026 12:02:00 GMT", 120.0),
        ("Tuesday, 30-Jun-26 12:02:00 GMT", 120.0),  # RFC 850, still allowed by RFC 9110
        ("Tue Jun 30 12:02:00 2026", 120.0),  # asctime
        ("Tue, 30 Jun 2026 11:00:00 GMT", 0.0),  # in the past
        ("Fri, 31 Dec 2100 00:00:00 GMT", MAX_RETRY_AFTER_SECONDS),
        (None, None),
        ("", None),
        ("soon", None),
        ("1e5", None),
        ("12 seconds", None),
        ("Tue, 99 Jun 2026 12:02:00 GMT", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_takes_naive_now_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Tue, 30 Jun 2026 12:00:10 GMT", naive) == 10.0


def test_parse_retry_after_with_other_timezone_now() -> None:
    paris = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert parse_retry_after("Tue, 30 Jun 2026 12:00:10 GMT", paris) == 10.0


def test_schedule_without_jitter_is_the_schedule() -> None:
    rng = random.Random(1)
    delays = [next_delay(DEFAULT_RETRY_SCHEDULE, n, None, rng, jitter=0) for n in range(1, 8)]
    assert delays == list(DEFAULT_RETRY_SCHEDULE)
    # About a day in all, as SPEC §6 promises.
    assert (
        timedelta(hours=20) < timedelta(seconds=sum(DEFAULT_RETRY_SCHEDULE)) < timedelta(hours=30)
    )


def test_schedule_exhaustion_means_dead() -> None:
    rng = random.Random(1)
    n = len(DEFAULT_RETRY_SCHEDULE)
    assert next_delay(DEFAULT_RETRY_SCHEDULE, n, None, rng) is not None
    assert next_delay(DEFAULT_RETRY_SCHEDULE, n + 1, None, rng) is None
    # A Retry-After does not buy extra attempts.
    assert next_delay(DEFAULT_RETRY_SCHEDULE, n + 1, 10.0, rng) is None
    assert next_delay([], 1, None, rng) is None


def test_jitter_stays_within_bounds_and_spreads() -> None:
    rng = random.Random(42)
    for attempts, base in enumerate(DEFAULT_RETRY_SCHEDULE, start=1):
        seen = [next_delay(DEFAULT_RETRY_SCHEDULE, attempts, None, rng) for _ in range(500)]
        values = [v for v in seen if v is not None]
        assert len(values) == 500
        assert min(values) >= base * 0.8
        assert max(values) <= base * 1.2
        # Spread over most of the band, not clumped.
        assert max(values) - min(values) > base * 0.3


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    first = [next_delay([10, 20], n, None, random.Random(7)) for n in (1, 2)]
    second = [next_delay([10, 20], n, None, random.Random(7)) for n in (1, 2)]
    assert first == second


def test_longer_retry_after_wins_shorter_is_ignored() -> None:
    rng = random.Random(3)
    assert next_delay([5, 300], 1, 120.0, rng) == 120.0
    shorter = next_delay([5, 300], 2, 10.0, rng)
    assert shorter is not None and 240 <= shorter <= 360


@pytest.mark.parametrize(
    ("attempts", "jitter", "schedule"),
    [(0, 0.2, [5]), (1, 1.0, [5]), (1, -0.1, [5]), (1, 0.2, [-5])],
)
def test_next_delay_rejects_bad_arguments(
    attempts: int, jitter: float, schedule: list[float]
) -> None:
    with pytest.raises(ValueError):
        next_delay(schedule, attempts, None, random.Random(), jitter=jitter)
