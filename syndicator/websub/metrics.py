"""WebSub counters, registered in the daemon's `Metrics` registry (SPEC §5 naming)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["WebSubMetrics"]


class WebSubMetrics:
    """Hub requests, verifications, pushes and pings, by outcome; active subscriptions."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.requests = Counter(
            "syndicator_websub_requests",
            "Requests to the hub: subscribe and unsubscribe accepted, refused, busy.",
            ["result"],
            registry=r,
        )
        self.verifications = Counter(
            "syndicator_websub_verifications",
            "Verifications of intent, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.pushes = Counter(
            "syndicator_websub_pushes",
            "Content distribution attempts to subscribers, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.pings = Counter(
            "syndicator_websub_pings",
            "Publish pings to external hubs, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.subscriptions = Gauge(
            "syndicator_websub_subscriptions", "Active WebSub subscriptions.", registry=r
        )
        for result in ("subscribe", "unsubscribe", "refused", "busy"):
            self.requests.labels(result)
        for outcome in ("verified", "failed"):
            self.verifications.labels(outcome)
        for outcome in ("delivered", "retry", "permanent", "gone", "terminated"):
            self.pushes.labels(outcome)
        for outcome in ("delivered", "retry", "permanent"):
            self.pings.labels(outcome)
