"""Prometheus metrics (SPEC §5), all prefixed ``syndicator_``.

Each daemon owns a `Metrics` with its own registry, so tests can run several
in one process.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from syndicator.models import ChangeSet

__all__ = ["Metrics"]

# `*_created` timestamps double every series and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The daemon's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter(
            "syndicator_polls", "Polls of the source, by outcome.", ["outcome"], registry=r
        )
        self.poll_seconds = Histogram(
            "syndicator_poll_duration_seconds", "Time of one poll and build.", registry=r
        )
        self.records = Counter(
            "syndicator_records", "Records seen by polls, by result.", ["result"], registry=r
        )
        self.feeds_rendered = Counter(
            "syndicator_feeds_rendered", "Feed documents rendered.", registry=r
        )
        self.deliveries = Counter(
            "syndicator_deliveries", "Deliveries finished, by outcome.", ["outcome"], registry=r
        )
        self.attempts = Counter(
            "syndicator_delivery_attempts",
            "Delivery attempts, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "syndicator_delivery_latency_seconds",
            "From event commit to successful delivery.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
            registry=r,
        )
        self.queue_depth = Gauge(
            "syndicator_delivery_queue_depth", "Deliveries waiting to be sent.", registry=r
        )
        self.articles = Gauge("syndicator_articles", "Articles in the store.", registry=r)
        self.consecutive_poll_failures = Gauge(
            "syndicator_consecutive_poll_failures", "Polls failed in a row.", registry=r
        )
        for outcome in ("ok", "failed"):
            self.polls.labels(outcome)
        for result in ("created", "updated", "deleted", "ignored", "quarantined"):
            self.records.labels(result)

    def count_changes(self, changes: ChangeSet) -> None:
        """Add one poll's record counts."""
        for result, count in changes.as_dict().items():
            self.records.labels(result).inc(count)

    def export(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
