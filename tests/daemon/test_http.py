"""SPEC §4–§5 over real HTTP: one daemon serves every read-only test of this module."""

from __future__ import annotations

import gzip
import json
import re
import socket
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from lxml import etree

from tests.daemon.conftest import DaemonProcess, Site, daemons, make_site, metric, record
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

FEED_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
TOPICS = ("all", "energy", "climate")
FEEDS = [f"/feeds/{topic}.{fmt}" for topic in TOPICS for fmt in FEED_TYPES]
RECORDS = [
    record("alpha", topics=("energy",), updated_at="2026-06-01T10:00:00+00:00"),
    record("beta", topics=("energy", "climate"), updated_at="2026-06-02T10:00:00+00:00"),
    record("gamma", topics=("climate",), updated_at="2026-06-03T10:00:00+00:00"),
]
STRONG_ETAG = re.compile(r'"[^"]+"')
# Bytes that would show a file outside the routes leaked into a response.
SECRETS = (b"root:", b"[database]", b"sqlite:///", b"[site]")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon over three records, ready and with its first build done."""
    site = make_site(tmp_path_factory.mktemp("http") / "site")
    site.write_records("articles.jsonl", RECORDS)
    with daemons() as start:
        daemon = start(site)
        daemon.wait_for_builds()
        yield daemon


def get_ok(daemon: DaemonProcess, path: str, **kwargs: Any) -> httpx.Response:
    """GET `path` and assert 200."""
    response = daemon.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response


def raw_get(port: int, target: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send `GET target` byte for byte over a socket; return the status and the raw response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        chunks: list[bytes] = []
        while len(chunks) < 10_000:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    status = int(data.split(b" ", 2)[1])
    return status, data


class _LinkCollector(HTMLParser):
    """Collects the attributes of every `<link>` element."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append({k: v or "" for k, v in attrs})


# -- content types and validity ------------------------------------------------


@pytest.mark.parametrize("path", FEEDS)
def test_feed_content_type_and_validity(served: DaemonProcess, path: str) -> None:
    response = get_ok(served, path)
    fmt = path.rsplit(".", 1)[1]
    assert response.headers["content-type"] == FEED_TYPES[fmt]
    check = {"rss": assert_valid_rss, "atom": assert_valid_atom, "json": assert_valid_json_feed}
    check[fmt](response.content)


def test_feeds_hold_their_topics_articles(served: DaemonProcess) -> None:
    expected = {
        "all": {"alpha", "beta", "gamma"},
        "energy": {"alpha", "beta"},
        "climate": {"beta", "gamma"},
    }
    for topic, slugs in expected.items():
        doc = json.loads(get_ok(served, f"/feeds/{topic}.json").content)
        assert {item["url"].rsplit("/", 1)[1] for item in doc["items"]} == slugs
        # Newest updated_at first (SPEC §4).
        dates = [item["date_modified"] for item in doc["items"]]
        assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_the_feed_over_http(served: DaemonProcess, fmt: str) -> None:
    url = f"{served.site.base_url}/feeds/energy.{fmt}"
    no_proxy = urllib.request.ProxyHandler({})
    parsed = feedparser.parse(url, handlers=[no_proxy])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.status == 200
    assert parsed.feed.title == "Daemon Desk: energy"
    assert sorted(e.title for e in parsed.entries) == ["Title of alpha", "Title of beta"]
    # A reader polling again with the ETag it was given gets 304 and no entries.
    again = feedparser.parse(url, etag=parsed.etag, handlers=[no_proxy])
    assert again.status == 304 and again.entries == []


def test_opml_lists_every_feed(served: DaemonProcess) -> None:
    response = get_ok(served, "/feeds.opml")
    assert response.headers["content-type"] == "text/x-opml; charset=utf-8"
    root = etree.fromstring(response.content)
    assert root.tag == "opml"
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    paths = {urlsplit(u).path for u in urls if u}
    assert {f"/feeds/{t}.rss" for t in TOPICS} <= paths
    for path in paths:
        get_ok(served, path)


def test_index_page_autodiscovers_existing_feeds(served: DaemonProcess) -> None:
    response = get_ok(served, "/")
    assert response.headers["content-type"].startswith("text/html")
    collector = _LinkCollector()
    collector.feed(response.text)
    alternates = [link for link in collector.links if link.get("rel") == "alternate"]
    assert len(alternates) == len(FEEDS)
    assert {urlsplit(link["href"]).path for link in alternates} == set(FEEDS)
    for link in alternates:
        assert link["href"].startswith(served.site.base_url + "/")
        feed = get_ok(served, link["href"])
        assert feed.headers["content-type"].split(";")[0] == link["type"]


# -- validators, conditional requests, HEAD, gzip ---------------------------------


@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds/energy.atom", "/feeds.opml", "/"])
def test_validators_and_cache_control(served: DaemonProcess, path: str) -> None:
    response = get_ok(served, path)
    assert STRONG_ETAG.fullmatch(response.headers["etag"])
    last_modified = parsedate_to_datetime(response.headers["last-modified"])
    assert last_modified.tzinfo is not None
    assert response.headers["cache-control"]
    # Same data, same validator on every request.
    assert get_ok(served, path).headers["etag"] == response.headers["etag"]


def test_if_none_match(served: DaemonProcess) -> None:
    first = get_ok(served, "/feeds/all.rss")
    etag = first.headers["etag"]
    cached = served.get("/feeds/all.rss", headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    stale = served.get("/feeds/all.rss", headers={"if-none-match": '"not-the-tag"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_if_modified_since(served: DaemonProcess) -> None:
    first = get_ok(served, "/feeds/climate.atom")
    last_modified = first.headers["last-modified"]
    same = served.get("/feeds/climate.atom", headers={"if-modified-since": last_modified})
    assert same.status_code == 304 and same.content == b""
    earlier = parsedate_to_datetime(last_modified) - timedelta(days=1)
    older = served.get(
        "/feeds/climate.atom", headers={"if-modified-since": format_datetime(earlier, usegmt=True)}
    )
    assert older.status_code == 200 and older.content == first.content


@pytest.mark.parametrize("path", ["/feeds/all.json", "/feeds.opml", "/"])
def test_head_has_the_headers_and_no_body(served: DaemonProcess, path: str) -> None:
    full = get_ok(served, path)
    head = served.request("HEAD", path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == full.headers[name], name
    assert int(head.headers["content-length"]) == len(full.content)


def test_gzip_when_asked(served: DaemonProcess) -> None:
    identity = get_ok(served, "/feeds/all.atom")
    assert "content-encoding" not in identity.headers
    with served.client.stream(
        "GET", "/feeds/all.atom", headers={"accept-encoding": "gzip"}
    ) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_raw())
        headers = response.headers
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(raw) < len(identity.content)
    assert gzip.decompress(raw) == identity.content
    assert headers["content-type"] == identity.headers["content-type"]
    # The compressed variant is a different representation with its own strong tag,
    # and it is revalidated like the identity one.
    assert STRONG_ETAG.fullmatch(headers["etag"])
    revalidated = served.get(
        "/feeds/all.atom",
        headers={"accept-encoding": "gzip", "if-none-match": headers["etag"]},
    )
    assert revalidated.status_code == 304


# -- errors and path traversal ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/unknown.rss",
        "/feeds/unknown.atom",
        "/feeds/unknown.json",
        "/feeds/all.xml",
        "/feeds/all",
        "/feeds/",
        "/feeds",
        "/feeds/all.rss/",
        "/articles/alpha",
        "/favicon.ico",
        "/syndicator.toml",
        "/state.db",
    ],
)
def test_unknown_paths_are_404(served: DaemonProcess, path: str) -> None:
    response = served.get(path)
    assert response.status_code == 404
    assert not any(secret in response.content for secret in SECRETS)


TRAVERSALS = [
    "/feeds/..%2f..%2fetc%2fpasswd.rss",
    "/feeds/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/feeds/%2e%2e%2fsyndicator.toml",
    "/feeds/..%2f..%2fsyndicator.toml",
    "/feeds/../../syndicator.toml",
    "/feeds/%2e%2e/%2e%2e/syndicator.toml",
    "/../syndicator.toml",
    "/..%2fsyndicator.toml",
    "/feeds/..%5c..%5csyndicator.toml",
    "/feeds/all.rss%00.txt",
    "//etc/passwd",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_sent_raw_is_404(served: DaemonProcess, target: str) -> None:
    # The config file does exist two levels above the feeds folder.
    assert (served.site.output / "feeds" / ".." / ".." / "syndicator.toml").is_file()
    status, data = raw_get(served.site.port, target)
    assert status == 404, data[:300]
    assert not any(secret in data for secret in SECRETS)
    # The same through httpx, with the request target kept exactly as written.
    request = served.client.build_request("GET", "/")
    request.extensions["target"] = target.encode()
    response = served.client.send(request)
    assert response.status_code == 404
    assert not any(secret in response.content for secret in SECRETS)


def test_other_methods_are_refused(served: DaemonProcess) -> None:
    response = served.request("POST", "/feeds/all.rss", content=b"x")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


# -- health and metrics -------------------------------------------------------------


def test_healthz_is_json_while_healthy(served: DaemonProcess) -> None:
    response = get_ok(served, "/healthz")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    assert body["consecutive_poll_failures"] == 0


def test_metrics_in_prometheus_text_format(served: DaemonProcess) -> None:
    response = get_ok(served, "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (metric(text, "syndicator_polls_total", outcome="ok") or 0) >= 1
    assert metric(text, "syndicator_polls_total", outcome="failed") == 0
    assert metric(text, "syndicator_records_total", result="created") == len(RECORDS)
    for result in ("updated", "ignored", "quarantined"):
        assert metric(text, "syndicator_records_total", result=result) is not None
    # Three topics in three formats, plus the OPML file and the index page.
    assert (metric(text, "syndicator_feeds_rendered_total") or 0) >= len(FEEDS) + 2
    assert metric(text, "syndicator_delivery_queue_depth") == 0


def test_served_bytes_are_the_files_in_the_output_folder(served: DaemonProcess) -> None:
    site: Site = served.site
    for path in [*FEEDS, "/feeds.opml"]:
        on_disk = Path(site.output, path.lstrip("/")).read_bytes()
        assert get_ok(served, path).content == on_disk, path
    assert get_ok(served, "/").content == (site.output / "index.html").read_bytes()
