"""What each console page shows, and what its buttons do, over a real SQLite store."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from syndicator.console import FeedUsage, views
from syndicator.core.retry import AttemptOutcome
from syndicator.models import Quarantined
from syndicator.store import Outcome
from syndicator.store.outbox import purge_events
from syndicator.store.polls import PollRecord
from tests.console.conftest import NOW, ConsoleHarness
from tests.delivery.rows import add_deliveries


def page(harness: ConsoleHarness, path: str) -> lxml_html.HtmlElement:
    answer = harness.client.get(path)
    assert answer.status_code == 200, answer.text
    return lxml_html.fromstring(answer.text)


def css(element: lxml_html.HtmlElement, selector: str) -> list[lxml_html.HtmlElement]:
    """Descendants matching a selector of `tag.class` steps (all this file needs)."""
    path = "."
    for step in selector.split():
        tag, _, cls = step.partition(".")
        path += f"//{tag or '*'}"
        if cls:
            path += f"[contains(concat(' ', @class, ' '), ' {cls} ')]"
    found: list[lxml_html.HtmlElement] = element.xpath(path)
    return found


def text(element: lxml_html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def fail_and_succeed(harness: ConsoleHarness) -> list[int]:
    """Deliveries to crm: the first failed twice with 503 and is queued; the others delivered."""
    ids = add_deliveries(harness.store.outbox, ["crm"], 3, at=NOW - timedelta(minutes=30))
    at = NOW - timedelta(minutes=20)
    failed = [
        Outcome(
            ids[0],
            "crm",
            at + timedelta(seconds=n),
            AttemptOutcome.RETRY,
            503,
            "HTTP 503",
            "<b>down for maintenance</b>",
            0.120,
            NOW + timedelta(minutes=5),
        )
        for n in range(2)
    ]
    ok = [
        Outcome(d, "crm", at, AttemptOutcome.DELIVERED, 204, None, "", 0.040, None) for d in ids[1:]
    ]
    harness.store.outbox.record([*failed, *ok], pause_after=50, now=NOW)
    return ids


def test_health_shows_polls_as_a_timeline_and_a_chart(harness: ConsoleHarness) -> None:
    polls = harness.store.polls
    for minutes, outcome, error in ((50, "ok", None), (30, "failed", "source unreachable")):
        started = NOW - timedelta(minutes=minutes)
        polls.record_poll(
            PollRecord(
                "dir",
                started,
                started + timedelta(seconds=2),
                outcome,
                {"created": 3, "updated": 1},
                error,
            )
        )
    harness.login()
    doc = page(harness, "/console/")
    items = css(doc, "ol.timeline li")
    assert [item.get("class") for item in items] == ["poll-failed", "poll-ok"]
    assert "source unreachable" in text(items[0]) and "2.00 s" in text(items[0])
    assert "3 created" in text(items[1])
    [chart] = css(doc, "svg.chart")
    assert len(css(chart, "rect.bar")) == 2
    assert "failed" in text(css(doc, ".tile")[0])  # the last poll's outcome


def test_endpoints_show_state_rates_latency_and_charts(harness: ConsoleHarness) -> None:
    fail_and_succeed(harness)
    harness.login()
    doc = page(harness, "/console/endpoints")
    row = doc.get_element_by_id("endpoint-crm")
    cells = [text(c) for c in css(row, "td")]
    assert cells[1] == "active" and cells[2] == "0"  # a success came last
    # Last hour: 2 of 4 attempts delivered, p50 = 40 ms (nearest rank 2 of 4), p99 = 120 ms.
    assert cells[3:6] == ["50.0 %", "40 ms", "120 ms"]
    assert cells[6:9] == ["50.0 %", "40 ms", "120 ms"]
    assert "no attempts" in text(doc.get_element_by_id("endpoint-search"))
    charts = css(doc, "svg.chart")
    assert len(charts) == 2
    bars = css(charts[0], "rect.bar")
    # All four attempts started in one minute: one bar, two stacked parts.
    assert sorted((b.get("data-series"), b.get("data-value")) for b in bars) == [
        ("delivered", "2"),
        ("failed", "2"),
    ]
    assert bars[0].getparent() is bars[1].getparent()


def test_the_days_figures_are_reused_for_a_while_the_hour_is_not(
    harness: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_and_succeed(harness)
    harness.login()
    page(harness, "/console/endpoints")
    # One more failed attempt: the last hour shows it at once, the day's
    # figures (read over every attempt of 24 hours) on their next refresh.
    extra = add_deliveries(harness.store.outbox, ["crm"], 1, at=NOW - timedelta(minutes=10))[-1]
    failed = Outcome(
        extra,
        "crm",
        NOW - timedelta(minutes=5),
        AttemptOutcome.RETRY,
        503,
        "HTTP 503",
        "",
        0.3,
        NOW,
    )
    harness.store.outbox.record([failed], pause_after=50, now=NOW)
    cells = [
        text(c)
        for c in css(page(harness, "/console/endpoints").get_element_by_id("endpoint-crm"), "td")
    ]
    assert cells[3] == "40.0 %" and cells[6] == "50.0 %"
    monkeypatch.setattr(views, "DAY_FIGURES_SECONDS", 0.0)
    cells = [
        text(c)
        for c in css(page(harness, "/console/endpoints").get_element_by_id("endpoint-crm"), "td")
    ]
    assert cells[3] == "40.0 %" and cells[6] == "40.0 %"


def test_pause_and_resume_from_the_buttons(
    harness: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syndicator.console")
    harness.login()
    csrf = harness.csrf("/console/endpoints")
    answer = harness.client.post("/console/endpoints/pause", data={"endpoint": "crm", "csrf": csrf})
    assert answer.headers["location"] == "/console/endpoints?done=paused"
    doc = page(harness, answer.headers["location"])
    assert "Endpoint paused" in text(css(doc, ".notice")[0])
    row = doc.get_element_by_id("endpoint-crm")
    assert "paused" in text(row) and css(row, "button")[0].text == "Resume"
    assert re.search(
        r"console: session \S{8} from 127\.0\.0\.1 endpoints pause endpoint crm", caplog.text
    )
    assert harness.woken == 0  # a pause makes nothing due
    harness.client.post("/console/endpoints/resume", data={"endpoint": "crm", "csrf": csrf})
    assert harness.store.outbox.endpoint_states(["crm"])[0]["state"] == "active"
    assert harness.woken == 1
    unknown = harness.client.post(
        "/console/endpoints/pause", data={"endpoint": "nobody", "csrf": csrf}
    )
    assert unknown.status_code == 404 and "nobody" in unknown.text


def test_deliveries_filter_page_and_show_attempts(harness: ConsoleHarness) -> None:
    ids = fail_and_succeed(harness)
    add_deliveries(harness.store.outbox, ["search"], 60)
    harness.login()
    failed = page(harness, "/console/deliveries?endpoint=crm&status=failed")
    rows = css(failed, "table.deliveries tbody tr")
    assert [r.get("id") for r in rows] == [f"delivery-{ids[0]}"]
    assert "HTTP 503" in text(rows[0])
    first = page(harness, "/console/deliveries?endpoint=search")
    assert len(css(first, "table.deliveries tbody tr")) == 50
    more = css(first, "a.more")[0].get("href")
    second = page(harness, more)
    assert len(css(second, "table.deliveries tbody tr")) == 10
    assert not css(second, "a.more")
    detail = page(harness, f"/console/deliveries/{ids[0]}")
    attempts = css(detail, "table.attempts tbody tr")
    assert len(attempts) == 2
    cells = [text(c) for c in css(attempts[0], "td")]
    assert cells[1:5] == ["retry", "503", "120 ms", "HTTP 503"]
    # The receiver's answer is shown as text, never as markup.
    assert cells[5] == "<b>down for maintenance</b>"
    assert not css(attempts[0], "b")
    assert harness.client.get("/console/deliveries/999999").status_code == 404
    assert harness.client.get("/console/deliveries?status=lost").status_code == 400


def test_retry_requeues_with_the_same_webhook_id_and_wakes_the_worker(
    harness: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syndicator.console")
    ids = fail_and_succeed(harness)
    before = harness.store.outbox.listing(ids=[ids[1]])[0]
    harness.login()
    csrf = harness.csrf(f"/console/deliveries/{ids[1]}")
    answer = harness.client.post("/console/deliveries/retry", data={"id": ids[1], "csrf": csrf})
    assert answer.headers["location"] == f"/console/deliveries/{ids[1]}?done=retried"
    after = harness.store.outbox.listing(ids=[ids[1]])[0]
    assert after["status"] == "pending" and after["webhook_id"] == before["webhook_id"]
    assert harness.woken == 1
    assert f"deliveries retry delivery {ids[1]}" in caplog.text
    missing = harness.client.post("/console/deliveries/retry", data={"id": 999999, "csrf": csrf})
    assert missing.status_code == 404
    # An article deleted since: its earlier events' content is purged, never re-sent.
    slug = after["slug"]
    with harness.store.transaction(harness.now) as tx:
        purge_events(tx.conn, [slug])
    refused = harness.client.post("/console/deliveries/retry", data={"id": ids[1], "csrf": csrf})
    assert refused.status_code == 409 and "purged" in refused.text


def test_replay_queues_an_endpoints_events_since_a_time(harness: ConsoleHarness) -> None:
    fail_and_succeed(harness)
    harness.login()
    csrf = harness.csrf("/console/endpoints")
    answer = harness.client.post(
        "/console/endpoints/replay", data={"endpoint": "search", "since": "2h", "csrf": csrf}
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/deliveries?endpoint=search")
    # search never had these events: each gets a delivery now.
    assert len(harness.store.outbox.listing(endpoint="search", status="pending")) == 3
    assert harness.woken == 1
    bad = harness.client.post(
        "/console/endpoints/replay", data={"endpoint": "search", "since": "lately", "csrf": csrf}
    )
    assert bad.status_code == 400 and "expected an RFC 3339 time" in bad.text


class Traffic:
    """A reader-analytics provider as the feeds view expects one."""

    def traffic(self, days: int) -> Mapping[str, FeedUsage]:
        assert days == 1
        return {"/feeds/all.rss": FeedUsage(200, 150, {"Feedly": 40, "Inoreader": 2}, 17)}


def test_feeds_show_counts_sizes_and_traffic_when_recorded(tmp_path: Path) -> None:
    for traffic in (None, Traffic()):
        made = ConsoleHarness(tmp_path / str(traffic is None), traffic=traffic)
        try:
            made.login()
            doc = page(made, "/console/feeds")
            first = css(doc, "table.feeds tbody tr")[0]
            assert text(css(first, "th")[0]) == "all"
            if traffic is None:
                assert "No traffic recorded yet" in text(doc)
            else:
                cells = [text(c) for c in css(first, "td")]
                assert cells[-4:] == ["200", "75.0 %", "42", "17"]
        finally:
            made.close()


def test_quarantine_and_websub_views_escape_what_they_show(harness: ConsoleHarness) -> None:
    with harness.store.transaction(NOW) as tx:
        tx.add_quarantine(
            "dir",
            [("seeds/bad.jsonl", 3, Quarantined("seeds/bad.jsonl:3", "<script>x</script>", "s1"))],
        )
    websub = harness.store.websub
    intent = websub.request(
        topic="http://127.0.0.1/feeds/all.atom",
        callback="http://reader.example/cb",
        mode="subscribe",
        secret="hub-secret-value",
        lease_seconds=3600,
        token="t",
        now=NOW,
        max_pending=10,
    )
    websub.confirm(intent, NOW)
    harness.login()
    answer = harness.client.get("/console/quarantine")
    assert "&lt;script&gt;x&lt;/script&gt;" in answer.text and "<script>" not in answer.text
    row = css(lxml_html.fromstring(answer.text), "tbody tr")[0]
    assert [text(c) for c in css(row, "td")][:3] == [
        "seeds/bad.jsonl:3",
        "s1",
        "<script>x</script>",
    ]
    subscriptions = harness.client.get("/console/websub")
    assert "http://reader.example/cb" in subscriptions.text
    assert "hub-secret-value" not in subscriptions.text
