"""The `http` source against a real local API, alone and through the pipeline."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from syndicator.errors import ConfigError, SourceUnavailable
from syndicator.models import PollOutcome
from syndicator.sources.http_api import ATTEMPTS, HttpSource
from tests.cycle import Cycle
from tests.drained import Drained, drain
from tests.sources.conftest import HANG, Api, Desk, Reply

Make = Callable[..., dict[str, Any]]
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def slugs(pipeline: Cycle) -> set[str]:
    return {e["slug"] for e in pipeline.store.outbox.events()}


def records(polled: Drained) -> list[Any]:
    return [item.data for item in polled.items]


def test_first_poll_is_a_full_sync_that_follows_every_page(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [make_record(f"a{i}", updated_at=at(i)) for i in range(5)]
    api.page_size = 2
    pipeline = desk.pipeline()
    changes = pipeline.poll()
    assert (changes.created, changes.quarantined) == (5, 0)
    assert [r.query.get("page") for r in api.requests] == [None, "2", "3"]
    assert all("updated_since" not in r.query for r in api.requests)
    watermark, cursor = pipeline.store.polls.source_state("http")
    assert watermark == T0 + timedelta(minutes=4)
    assert cursor["since"] is None and cursor["etag"]
    assert pipeline.build().topics  # feeds written from the API's records


def test_plain_array_answer(desk: Desk, api: Api, make_record: Make) -> None:
    api.plain = True
    api.records = [make_record("one"), make_record("two")]
    assert desk.pipeline().poll().created == 2


def test_since_is_sent_and_advances_with_the_watermark(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [make_record("one", updated_at=at(0))]
    desk.pipeline().poll()
    api.records.append(make_record("two", updated_at=at(60)))
    assert desk.pipeline().poll().created == 1
    desk.pipeline().poll()
    sent = [r.query.get("updated_since") for r in api.requests]
    # The watermark minus the default 300 s overlap, in RFC 3339.
    assert sent == [None, "2026-06-01T09:55:00Z", "2026-06-01T10:55:00Z"]


def test_configured_query_is_kept(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(url=f"{api.url}?lang=en&updated_since=ignored")
    api.records = [make_record("one")]
    desk.pipeline().poll()
    desk.pipeline().poll()
    assert [r.query for r in api.requests] == [
        {"lang": "en"},
        {"lang": "en", "updated_since": "2026-06-01T09:55:00Z"},
    ]


def test_a_late_record_inside_the_overlap_window_is_caught(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [make_record("early", updated_at=at(0)), make_record("latest", updated_at=at(30))]
    desk.pipeline().poll()
    # Written by a slow writer after the poll, dated before the watermark.
    api.records.append(make_record("late", updated_at=at(26)))
    api.records.append(make_record("too-late", updated_at=at(20)))  # beyond the 5 min overlap
    pipeline = desk.pipeline()
    assert pipeline.poll().created == 1
    assert slugs(pipeline) == {"early", "latest", "late"}
    assert pipeline.store.polls.source_state("http")[0] == T0 + timedelta(minutes=30)


def test_unchanged_api_answers_304(desk: Desk, api: Api, make_record: Make) -> None:
    api.records = [make_record("one")]
    desk.pipeline().poll()  # a full sync
    desk.pipeline().poll()  # the first poll with this since value
    pipeline = desk.pipeline()
    _, before = pipeline.store.polls.source_state("http")
    changes = pipeline.poll()
    assert changes.changed == 0 and changes.ignored == 0
    second = api.requests[-1].headers
    assert second["if-none-match"] == before["etag"]
    assert second["if-modified-since"] == before["last_modified"]
    assert pipeline.store.polls.source_state("http")[1] == before
    # A change behind an unchanged since value is still seen: the ETag differs.
    api.records.append(make_record("two", updated_at=at(1)))
    assert desk.pipeline().poll().created == 1


def test_no_condition_when_the_since_value_changed(desk: Desk, api: Api, make_record: Make) -> None:
    source = desk.source()
    api.records = [make_record("one")]
    batch = drain(source.poll(None, None))
    later = drain(source.poll(T0, batch.cursor))
    assert records(later) == api.records
    assert "if-none-match" not in api.requests[-1].headers


def test_503_with_retry_after_then_success(desk: Desk, api: Api, make_record: Make) -> None:
    api.records = [make_record("one")]
    api.script.append(Reply(503, b"busy", {"Retry-After": "2"}))
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    api.script.append(Reply(429, b"", {"Retry-After": when}))
    assert desk.pipeline().poll().created == 1
    assert len(desk.sleeps) == 2
    assert desk.sleeps[0] >= 2
    assert 3 <= desk.sleeps[1] <= 5


def test_retries_are_bounded_and_back_off(desk: Desk, api: Api) -> None:
    api.script.extend(Reply(500) for _ in range(ATTEMPTS))
    with pytest.raises(SourceUnavailable, match=r"HTTP 500 \(gave up after 4 attempts\)"):
        desk.source().poll(None, None)
    assert len(api.requests) == ATTEMPTS
    assert len(desk.sleeps) == ATTEMPTS - 1
    for n, delay in enumerate(desk.sleeps):
        assert 0.25 * 2**n <= delay <= 0.5 * 2**n


def test_a_retry_after_beyond_the_cap_fails_at_once(desk: Desk, api: Api) -> None:
    api.script.append(Reply(503, b"", {"Retry-After": "3600"}))
    with pytest.raises(SourceUnavailable, match="asked to wait 3600 s"):
        desk.source().poll(None, None)
    assert desk.sleeps == [] and len(api.requests) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(404, b"nope"), "HTTP 404"),
        (Reply(301, b"", {"Location": "https://elsewhere.example/"}), "redirects are not followed"),
        (Reply(401), "HTTP 401"),
    ],
)
def test_client_errors_are_not_retried(desk: Desk, api: Api, reply: Reply, message: str) -> None:
    api.script.append(reply)
    with pytest.raises(SourceUnavailable, match=message):
        desk.source().poll(None, None)
    assert desk.sleeps == [] and len(api.requests) == 1


def test_invalid_json_page_fails_the_poll_and_applies_nothing(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [make_record("first", updated_at=at(0))]
    desk.pipeline().poll()
    api.page_size = 2
    api.records += [make_record(f"n{i}", updated_at=at(10 + i)) for i in range(4)]
    api.pages[2] = Reply(200, b'{"items": [{"slug": "x"', {"Content-Type": "application/json"})
    pipeline = desk.pipeline()
    with pytest.raises(SourceUnavailable, match=r"/articles\?.*page=2.*not valid JSON"):
        pipeline.poll()
    assert pipeline.store.polls.source_state("http")[0] == T0  # the watermark did not move
    assert slugs(pipeline) == {"first"}  # nothing of page 1 was committed
    assert pipeline.store.polls.recent_polls(1)[0].outcome == PollOutcome.FAILED
    del api.pages[2]  # the API recovers: the next poll takes everything
    assert desk.pipeline().poll().created == 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"just text"', "expected a JSON array or an object with 'items', got str"),
        (b'{"data": []}', "'items' should be a list, is missing"),
        (b'{"items": {"slug": "a"}}', "'items' should be a list, is a dict"),
        (b'{"items": [], "next": 5}', "'next' should be a URL or null"),
        (b"", "not valid JSON"),
    ],
)
def test_wrong_shape_fails_the_poll(desk: Desk, api: Api, body: bytes, message: str) -> None:
    api.script.append(Reply(200, body))
    with pytest.raises(SourceUnavailable, match=message) as caught:
        desk.source().poll(None, None)
    assert api.url in str(caught.value)


def test_configurable_names(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(since_param="changed_after", items_key="data", next_key="more")
    first = [make_record("one")]
    api.script.append(Reply.json({"data": first, "more": f"{api.url}?cursor=abc"}))
    api.script.append(Reply.json({"data": [make_record("two")], "more": None}))
    api.script.append(Reply.json({"data": []}))
    source = desk.source()
    batch = drain(source.poll(None, None))
    assert [r["slug"] for r in records(batch)] == ["one", "two"]
    drain(source.poll(T0, batch.cursor))
    assert api.requests[1].query == {"cursor": "abc"}
    assert api.requests[2].query == {"changed_after": "2026-06-01T10:00:00Z"}


def test_a_malformed_record_is_quarantined_and_the_rest_ingested(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [
        make_record("good", updated_at=at(0)),
        make_record("broken", title="", updated_at=at(1)),
        make_record("fine", updated_at=at(2)),
    ]
    api.plain = True
    pipeline = desk.pipeline()
    api.script.append(Reply.json([*api.records[:2], 42, api.records[2]]))
    changes = pipeline.poll()
    assert (changes.created, changes.quarantined) == (2, 2)
    listed = {q["source"]: q for q in pipeline.store.polls.quarantined()}
    assert set(listed) == {f"{api.url}#broken", f"{api.url}:3"}
    assert listed[f"{api.url}#broken"]["slug"] == "broken"
    assert "title" in listed[f"{api.url}#broken"]["reason"]
    # Newer records move the window past the broken one: it stays listed.
    api.records.append(make_record("newer", updated_at=at(100)))
    pipeline.poll()
    pipeline.poll()
    assert {q["source"] for q in pipeline.store.polls.quarantined()} == {f"{api.url}#broken"}
    # The API sends it again, fixed: it is ingested and leaves the quarantine.
    api.records[1] = make_record("broken", updated_at=at(200))
    assert pipeline.poll().created == 1
    assert pipeline.store.polls.quarantined() == []


def test_a_server_that_never_answers_times_out(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(timeout_seconds=0.3)
    api.script.extend([HANG] * ATTEMPTS)
    pipeline = desk.pipeline()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="timed out"):
        pipeline.poll()
    assert time.monotonic() - started < 5
    assert len(desk.sleeps) == ATTEMPTS - 1
    api.records = [make_record("one")]  # the API is back: the next poll works
    assert pipeline.poll().created == 1


def test_headers_and_secrets_from_the_environment(
    desk: Desk, api: Api, make_record: Make, caplog: pytest.LogCaptureFixture
) -> None:
    desk.configure(
        headers={"X-Tenant": "newsroom", "Accept": "application/vnd.articles+json"},
        headers_env={"Authorization": "ARTICLES_TOKEN"},
    )
    api.records = [make_record("one")]
    api.script.append(Reply(503))  # a retry, so that something is logged
    caplog.set_level(logging.DEBUG)
    pipeline = desk.pipeline({"ARTICLES_TOKEN": "Bearer s3cr3t"})
    assert pipeline.poll().created == 1
    seen = api.requests[-1].headers
    assert seen["authorization"] == "Bearer s3cr3t"
    assert seen["x-tenant"] == "newsroom"
    assert seen["accept"] == "application/vnd.articles+json"
    assert seen["user-agent"].startswith("Syndicator/")
    assert "retrying" in caplog.text and "s3cr3t" not in caplog.text


def test_a_missing_header_variable_is_a_config_error(desk: Desk) -> None:
    desk.configure(headers_env={"Authorization": "ARTICLES_TOKEN"})
    with pytest.raises(ConfigError, match=r"source\.headers_env\.Authorization.*ARTICLES_TOKEN"):
        desk.source({"OTHER": "x"})


def test_a_header_value_with_a_line_break_is_a_config_error(desk: Desk) -> None:
    desk.configure(headers={"X-Key": "a\r\nInjected: yes"})
    with pytest.raises(ConfigError, match=r"source\.headers\.X-Key") as caught:
        desk.source()
    assert "Injected" not in str(caught.value)


def test_page_cap(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(max_pages=2)
    api.page_size = 1
    api.records = [make_record(f"a{i}", updated_at=at(i)) for i in range(3)]
    with pytest.raises(SourceUnavailable, match=r"more than 2 pages.*source\.max_pages"):
        desk.source().poll(None, None)
    assert len(api.requests) == 2
    api.records.pop()
    assert len(records(drain(desk.source().poll(None, None)))) == 2


@pytest.mark.parametrize("chunked", [False, True])
def test_byte_cap(desk: Desk, api: Api, make_record: Make, chunked: bool) -> None:
    desk.configure(max_bytes=5000)
    big = json.dumps([make_record(f"a{i}", body_md="x" * 500) for i in range(20)]).encode()
    api.script.append(Reply(200, big, chunked=chunked))
    with pytest.raises(SourceUnavailable, match=r"more than 5000 bytes.*source\.max_bytes"):
        desk.source().poll(None, None)
    assert desk.sleeps == []


def test_the_byte_cap_counts_the_whole_poll(desk: Desk, api: Api, make_record: Make) -> None:
    api.page_size = 2
    api.records = [make_record(f"a{i}", updated_at=at(i)) for i in range(6)]
    batch = drain(desk.source().poll(None, None))
    total = batch.total_bytes
    assert total is not None and len(records(batch)) == 6 and batch.read_bytes == total
    desk.configure(max_bytes=total - 1)
    with pytest.raises(SourceUnavailable, match="page=3"):
        desk.source().poll(None, None)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("{url}", "already read in this poll"),
        ("ftp://127.0.0.1/articles", "not an http"),
        ("/articles?page=2", "not an http"),
        ("http://localhost:1/articles?page=2", "leaves http://127.0.0.1"),
    ],
)
def test_next_links_are_checked(desk: Desk, api: Api, link: str, message: str) -> None:
    api.script.append(Reply.json({"items": [], "next": link.format(url=api.url)}))
    with pytest.raises(SourceUnavailable, match=message):
        desk.source().poll(None, None)
    assert len(api.requests) == 1


def test_a_loop_over_several_pages_is_caught(desk: Desk, api: Api) -> None:
    api.script.append(Reply.json({"items": [], "next": f"{api.url}?page=2"}))
    api.script.append(Reply.json({"items": [], "next": api.url}))
    with pytest.raises(SourceUnavailable, match="pagination loop"):
        desk.source().poll(None, None)


def test_the_source_name_is_http(desk: Desk) -> None:
    source: HttpSource = desk.source()
    assert source.name == "http"


def test_record_size_and_records_per_page_limits(desk: Desk, api: Api, make_record: Make) -> None:
    desk.configure(limits={"max_record_bytes": 2000, "max_records_per_file": 3})
    api.plain = True
    api.records = [
        make_record("small"),
        make_record("huge", body_md="x" * 5000),
        make_record("fine"),
        make_record("beyond"),
        make_record("also-beyond"),
    ]
    pipeline = desk.pipeline()
    changes = pipeline.poll()
    assert (changes.created, changes.quarantined) == (2, 2)
    reasons = {q["source"]: q["reason"] for q in pipeline.store.polls.quarantined()}
    assert "larger than the limit of 2000 bytes" in reasons[f"{api.url}#huge"]
    assert "limit of 3" in reasons[f"{api.url}:4"]


def test_tombstones_from_the_api_delete_and_a_lagging_page_never_revives(
    desk: Desk, api: Api, make_record: Make
) -> None:
    api.records = [make_record("one", updated_at=at(0)), make_record("two", updated_at=at(1))]
    pipeline = desk.pipeline()
    pipeline.poll()
    api.records = [{"slug": "one", "deleted": True, "updated_at": at(30)}]
    changes = desk.pipeline().poll()
    assert (changes.deleted, changes.quarantined) == (1, 0)
    # A lagging replica serves versions older than (or as old as) the
    # tombstone again, inside the overlap window.
    api.records = [make_record("one", updated_at=at(28)), make_record("one", updated_at=at(30))]
    assert desk.pipeline().poll().ignored == 2
    types = [e["type"] for e in pipeline.store.outbox.events("one")]
    assert types == ["article.created", "article.deleted"]
    assert pipeline.store.articles.describe("one")["deleted_at"] is not None  # type: ignore[index]
