"""Reader analytics as shown: `status` (`feeds`) and `/metrics` (`syndicator_feed_subscribers`).

Both read the database, so every process of a scale-out reports the same
figures. "Today" is the current UTC day: requests, 304s and distinct direct
readers count from 00:00 UTC; an aggregator's figure is its latest within
`SUBSCRIBER_DAYS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from syndicator.errors import StoreError
from syndicator.store.readers import Readers

__all__ = ["MAX_SERIES", "SubscriberCollector", "feeds_report", "format_readers"]

#: Series of `syndicator_feed_subscribers` at most (the largest figures): any
#: client can name a source, so the label values must stay bounded.
MAX_SERIES = 500
#: Feeds the human `status` lists under "readers".
TOP_FEEDS = 10

_NAME = "syndicator_feed_subscribers"
_HELP = (
    "Subscribers per feed: the latest figure each aggregator announced, and "
    "source=direct for the distinct direct readers of the current UTC day."
)


def feeds_report(readers: Readers, now: datetime) -> dict[str, dict[str, Any]]:
    """`status --json` `feeds`: per document path with data, `subscribers` by source
    (with `direct`, today's distinct direct readers), today's `requests` and
    `not_modified`."""
    usage = readers.traffic(now.astimezone(UTC).date())
    return {
        path: {
            "subscribers": {**dict(u.subscribers), "direct": u.direct_readers},
            "requests": u.requests,
            "not_modified": u.not_modified,
        }
        for path, u in usage.items()
    }


def format_readers(feeds: dict[str, dict[str, Any]]) -> list[str]:
    """The "readers" lines of the human status: the feeds with most subscribers."""
    if not feeds:
        return ["readers:     none counted today"]
    ranked = sorted(
        feeds.items(), key=lambda item: (-sum(item[1]["subscribers"].values()), item[0])
    )
    lines = [f"readers:     {len(feeds)} documents read (today, UTC)"]
    for path, figures in ranked[:TOP_FEEDS]:
        subscribers = figures["subscribers"]
        by_source = ", ".join(f"{v} {k}" for k, v in sorted(subscribers.items()) if k != "direct")
        lines.append(
            f"  {path}: {sum(subscribers.values())} subscribers ({subscribers['direct']} direct"
            + (f", {by_source}" if by_source else "")
            + f"); {figures['requests']} requests, {figures['not_modified']} not modified"
        )
    return lines


class SubscriberCollector(Collector):
    """`syndicator_feed_subscribers{feed,source}` from the database, read at most
    every `ttl` seconds (a scrape in between gets the figures read last)."""

    def __init__(
        self, readers: Readers, clock: Callable[[], datetime], *, ttl: float = 5.0
    ) -> None:
        self.readers = readers
        self.clock = clock
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: list[tuple[str, str, int]] = []
        self._read_at: float | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The family without samples: registering must not read the database."""
        yield GaugeMetricFamily(_NAME, _HELP, labels=["feed", "source"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The current figures, one sample per (feed, source)."""
        family = GaugeMetricFamily(_NAME, _HELP, labels=["feed", "source"])
        for feed, source, value in self._figures():
            family.add_metric([feed, source], value)
        yield family

    def _figures(self) -> list[tuple[str, str, int]]:
        with self._lock:
            started = time.monotonic()
            if self._read_at is None or started - self._read_at >= self.ttl:
                try:
                    self._cached = self._read()
                except StoreError:
                    pass  # the figures read last stand until the database answers
                self._read_at = started
            return self._cached

    def _read(self) -> list[tuple[str, str, int]]:
        feeds = feeds_report(self.readers, self.clock())
        series = [
            (path, source, value)
            for path, figures in feeds.items()
            for source, value in figures["subscribers"].items()
            if value > 0
        ]
        series.sort(key=lambda s: (-s[2], s[0], s[1]))
        return sorted(series[:MAX_SERIES])
