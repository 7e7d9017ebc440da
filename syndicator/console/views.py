"""What each console page shows, read from the database (so any process answers the same).

Every method runs on a worker thread and returns plain data for a template;
charts come back as SVG text (`syndicator.console.charts`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from syndicator.config import Settings
from syndicator.console.charts import Bar, Point, bar_chart, line_chart
from syndicator.core.times import db_time
from syndicator.models import ALL_TOPIC
from syndicator.status import collect_status
from syndicator.store.outbox import STATUSES
from syndicator.store.readers import FeedUsage
from syndicator.store.store import Store

__all__ = ["PAGE_SIZE", "ConsoleData", "FeedTraffic", "FeedUsage", "StoreTraffic"]

#: Deliveries per page of the deliveries view.
PAGE_SIZE = 50
#: Polls the timeline lists (the chart shows every poll of the last 24 h still kept).
TIMELINE_POLLS = 20
#: Seconds the last day's endpoint figures and delivery charts are reused.
DAY_FIGURES_SECONDS = 30.0
#: Feeds the feeds view lists at most (the biggest topics first).
MAX_FEEDS = 500
FORMATS = ("rss", "atom", "json")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


class FeedTraffic(Protocol):
    """Reader analytics the feeds view shows when given one (keyed by URL path,
    e.g. ``/feeds/all.rss``)."""

    def traffic(self, days: int) -> Mapping[str, FeedUsage]:
        """Usage of each feed over the last `days` days."""


class StoreTraffic:
    """`FeedTraffic` from the reader analytics in the store (`store.readers`)."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def traffic(self, days: int) -> Mapping[str, FeedUsage]:
        """Usage over the last `days` UTC days, today included."""
        today = self.clock().astimezone(UTC).date()
        return self.store.readers.traffic(today - timedelta(days=max(days, 1) - 1))


def _time(stored: str | None) -> datetime | None:
    return None if stored is None else datetime.fromisoformat(stored)


class ConsoleData:
    """The data behind each view."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        traffic: FeedTraffic | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.traffic = traffic
        # The day's figures read every attempt of 24 hours (seconds on a busy
        # site): computed at most once per `DAY_FIGURES_SECONDS` and shared.
        self._day: tuple[float, dict[str, Any]] | None = None
        self._day_lock = threading.Lock()

    def _day_figures(self, now: datetime) -> dict[str, Any]:
        """The last day's endpoint figures and charts, recomputed when stale."""
        with self._day_lock:
            cached = self._day
            if cached is not None and time.monotonic() - cached[0] < DAY_FIGURES_SECONDS:
                return cached[1]
            figures = {
                "day": self.store.outbox.stats.endpoint_figures(now - DAY),
                **self.delivery_charts(now),
            }
            self._day = (time.monotonic(), figures)
            return figures

    # -- health ------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The status report, the poll timeline and the 24 h poll chart."""
        now = self.clock()
        report = collect_status(self.settings, self.store)
        polls = [p for p in self.store.polls.recent_polls(1000) if p.started_at >= now - DAY]
        timeline: list[dict[str, Any]] = []
        for p in polls[:TIMELINE_POLLS]:
            seconds = (p.finished_at - p.started_at).total_seconds()
            timeline.append(
                {
                    "started_at": p.started_at,
                    "outcome": p.outcome,
                    "seconds": seconds,
                    "counts": p.counts,
                    "error": p.error,
                }
            )
        longest = max((float(item["seconds"]) for item in timeline), default=0.0) or 1.0
        for item in timeline:
            item["share"] = item["seconds"] / longest
        bars = [
            Bar(
                p.started_at,
                timedelta(seconds=max((p.finished_at - p.started_at).total_seconds(), 60)),
                (
                    (
                        "ok" if p.outcome == "ok" else "failed",
                        max((p.finished_at - p.started_at).total_seconds(), 0.001),
                    ),
                ),
                f"{p.started_at:%H:%M:%S} {p.outcome}, "
                f"{(p.finished_at - p.started_at).total_seconds():.2f} s",
            )
            for p in polls
        ]
        chart = bar_chart(
            "Polls over the last 24 hours",
            f"{len(polls)} polls: one bar each, its height the poll's duration in seconds, "
            f"{sum(p.outcome != 'ok' for p in polls)} failed",
            now - DAY,
            now,
            bars,
            ("ok", "failed"),
            unit="s",
        )
        return {"report": report, "timeline": timeline, "polls_chart": chart}

    def quarantine(self) -> list[dict[str, Any]]:
        """Quarantined records: source location, slug, reason, when."""
        return [
            {**item, "seen_at": _time(item["seen_at"])} for item in self.store.polls.quarantined()
        ]

    # -- endpoints and deliveries -------------------------------------------------

    def endpoints(self) -> dict[str, Any]:
        """Each endpoint's state and figures over the last hour and day, and the charts."""
        now = self.clock()
        outbox = self.store.outbox
        configured = [hook.name for hook in self.settings.webhooks]
        names = self.endpoint_names()
        hour = outbox.stats.endpoint_figures(now - HOUR)
        day_figures = self._day_figures(now)
        day = day_figures["day"]
        rows = []
        for state in outbox.endpoint_states(names):
            name = state["name"]
            rows.append(
                {
                    **state,
                    "configured": name in configured,
                    "paused_at": _time(state["paused_at"]),
                    "last_success_at": _time(state["last_success_at"]),
                    "last_failure_at": _time(state["last_failure_at"]),
                    "hour": hour.get(name),
                    "day": day.get(name),
                }
            )
        charts = {key: value for key, value in day_figures.items() if key != "day"}
        return {"endpoints": rows, **charts}

    def endpoint_names(self) -> list[str]:
        """The configured endpoints, then any other one attempts were recorded for."""
        configured = [hook.name for hook in self.settings.webhooks]
        recorded = self.store.outbox.stats.recorded_endpoints()
        return list(dict.fromkeys(configured + recorded))

    def delivery_charts(self, now: datetime) -> dict[str, str]:
        """Attempts per minute and latency per hour over the last 24 hours."""
        stats = self.store.outbox.stats
        minutes = stats.per_minute(now - DAY)
        bars = [
            Bar(
                datetime.fromisoformat(f"{m.minute}:00+00:00"),
                timedelta(minutes=1),
                (("delivered", m.delivered), ("failed", m.failed)),
                f"{m.minute[11:]} UTC: {m.delivered} delivered, {m.failed} failed",
            )
            for m in minutes
        ]
        total = sum(m.delivered + m.failed for m in minutes)
        per_minute = bar_chart(
            "Delivery attempts per minute, last 24 hours",
            f"{total} attempts in {len(minutes)} minutes with any; "
            f"{sum(m.failed for m in minutes)} failed",
            now - DAY,
            now,
            bars,
            ("delivered", "failed"),
            unit="/min",
        )
        buckets = stats.latency_by_hour(now - DAY)
        lines: dict[str, list[Point]] = {"p50": [], "p99": []}
        for b in buckets:
            at = datetime.fromisoformat(f"{b.hour}:30:00+00:00")
            for name, value in (("p50", b.p50_ms), ("p99", b.p99_ms)):
                lines[name].append(
                    Point(at, value, f"{b.hour[11:]}:00 UTC {name}: {value} ms ({b.attempts})")
                )
        latency = line_chart(
            "Delivery latency per hour, last 24 hours",
            "p50 and p99 durations of the attempts made in each hour, in milliseconds",
            now - DAY,
            now,
            lines,
            unit="ms",
        )
        return {"per_minute_chart": per_minute, "latency_chart": latency}

    def deliveries(
        self, endpoint: str | None, status: str | None, before: int | None
    ) -> dict[str, Any]:
        """One page of deliveries, newest first, filtered; the id the next page starts below."""
        outbox = self.store.outbox
        rows = outbox.listing(status, PAGE_SIZE + 1, endpoint=endpoint, before_id=before)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        for row in rows:
            for key in ("created_at", "last_attempt_at", "next_attempt_at", "delivered_at"):
                row[key] = _time(row[key])
        return {
            "deliveries": rows,
            "next_before": rows[-1]["id"] if more else None,
            "endpoint_names": self.endpoint_names(),
            "statuses": STATUSES,
        }

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery and its attempts (None when there is no such delivery)."""
        found = self.store.outbox.listing(ids=[delivery_id])
        if not found:
            return None
        row = found[0]
        for key in ("created_at", "last_attempt_at", "next_attempt_at", "delivered_at"):
            row[key] = _time(row[key])
        attempts = [
            {**vars_of(a), "attempted_at": _time(a.attempted_at)}
            for a in self.store.outbox.stats.attempts_of(delivery_id)
        ]
        return {"delivery": row, "attempts": attempts}

    # -- feeds and WebSub ----------------------------------------------------------

    def feeds(self) -> dict[str, Any]:
        """Each topic feed: articles, entries, last change, file sizes and traffic."""
        topics = self.store.articles.topics()
        # `all` first, then the biggest topics: the ones an operator looks for.
        ordered = topics[:1] + sorted(topics[1:], key=lambda r: (-r.articles, r.name))
        shown = ordered[:MAX_FEEDS]
        manifests = self.store.feeds.manifests([r.name for r in shown])
        usage = self.traffic.traffic(1) if self.traffic is not None else None
        max_entries = self.settings.feeds.max_entries
        rows = []
        for topic in shown:
            formats = []
            for fmt in FORMATS:
                path = f"/feeds/{topic.name}.{fmt}"
                manifest = manifests.get((topic.name, fmt))
                formats.append(
                    {
                        "format": fmt,
                        "path": path,
                        "size": None if manifest is None else manifest.size,
                        "usage": None if usage is None else usage.get(path),
                    }
                )
            rows.append(
                {
                    "name": topic.name,
                    "is_all": topic.name == ALL_TOPIC,
                    "articles": topic.articles,
                    "entries": min(topic.articles, max_entries),
                    "changed_at": topic.changed_at,
                    "formats": formats,
                }
            )
        return {
            "feeds": rows,
            "total": len(topics),
            "traffic": bool(usage),
            "base_url": self.settings.site.base_url,
        }

    def websub(self) -> dict[str, Any]:
        """Verified subscriptions (never their secrets) and requests awaiting verification."""
        now = self.clock()
        subscriptions = [
            {
                "id": s.id,
                "topic": s.topic,
                "callback": s.callback,
                "active": s.active(now),
                "state": s.state if s.active(now) or s.state != "active" else "expired",
                "signed": s.secret is not None,
                "expires_at": s.expires_at,
                "verified_at": s.verified_at,
                "last_push_at": s.last_push_at,
                "last_status_code": s.last_status_code,
            }
            for s in self.store.websub.all()
        ]
        pending = [
            {"topic": i.topic, "callback": i.callback, "mode": i.mode, "at": i.requested_at}
            for i in self.store.websub.pending()
        ]
        return {
            "enabled": self.settings.websub.enabled,
            "subscriptions": subscriptions,
            "pending": pending,
        }

    def since_default(self) -> str:
        """The replay form's default start: an hour ago (stored form, seconds)."""
        return db_time(self.clock() - HOUR)[:19]


def vars_of(row: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict."""
    return {name: getattr(row, name) for name in row.__slots__}
