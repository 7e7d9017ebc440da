"""The HTTP layer over real HTTP: uvicorn on 127.0.0.1, httpx as the client."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser
import httpx
import pytest

from syndicator.web import Document
from syndicator.web.documents import DocumentCache, DocumentUnavailable
from tests.web.conftest import (
    CONTENT_TYPES,
    LAST_MODIFIED,
    METRICS_BODY,
    METRICS_TYPE,
    Served,
    link_for,
    raw_request,
    rss_bytes,
    serve,
)

STRONG_ETAG = re.compile(r'^"[0-9a-f]{32}"$')


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def doc(served: Served, path: str) -> Document:
    found = served.documents.get(path)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/feeds/ai.rss", "rss"),
        ("/feeds/ai.atom", "atom"),
        ("/feeds/ai.json", "json"),
        ("/feeds/all.rss", "rss"),
        ("/feeds.opml", "opml"),
        ("/", "html"),
        ("/index.html", "html"),
    ],
)
def test_content_type_and_body(client: httpx.Client, served: Served, path: str, kind: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPES[kind]
    assert response.content == doc(served, "/" if path == "/index.html" else path).body


def test_cache_headers(client: httpx.Client, served: Served) -> None:
    response = client.get("/feeds/ai.rss")
    document = doc(served, "/feeds/ai.rss")
    assert STRONG_ETAG.match(response.headers["etag"])
    assert response.headers["etag"] == document.etag
    assert response.headers["last-modified"] == http_date(LAST_MODIFIED)
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["vary"] == "Accept-Encoding, Accept"  # RSS: see test_browsers.py
    assert response.headers["content-length"] == str(len(document.body))
    assert "server" not in response.headers
    assert "date" in response.headers


def test_query_string_is_ignored(client: httpx.Client) -> None:
    assert client.get("/feeds/ai.rss", params={"utm_source": "x"}).status_code == 200


def _assert_304(response: httpx.Response, etag: str) -> None:
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["last-modified"] == http_date(LAST_MODIFIED)
    assert response.headers["cache-control"] == "public, max-age=60"
    # RSS and Atom vary by Accept as well (see test_browsers.py).
    assert response.headers["vary"] in ("Accept-Encoding", "Accept-Encoding, Accept")


def test_if_none_match_exact(client: httpx.Client, served: Served) -> None:
    etag = doc(served, "/feeds/ai.rss").etag
    _assert_304(client.get("/feeds/ai.rss", headers={"If-None-Match": etag}), etag)


@pytest.mark.parametrize(
    "template",
    ['"nope", {etag}', "W/{etag}", '"a", W/{etag}, "b"', "*", '"x","y",{etag}'],
)
def test_if_none_match_lists_weak_and_star(
    client: httpx.Client, served: Served, template: str
) -> None:
    etag = doc(served, "/feeds/ai.atom").etag
    response = client.get("/feeds/ai.atom", headers={"If-None-Match": template.format(etag=etag)})
    _assert_304(response, etag)


@pytest.mark.parametrize("value", ['"0123"', 'W/"0123"', "garbage", '""', ""])
def test_if_none_match_modified(client: httpx.Client, served: Served, value: str) -> None:
    response = client.get("/feeds/ai.rss", headers={"If-None-Match": value})
    assert response.status_code == 200
    assert response.content == doc(served, "/feeds/ai.rss").body


def test_if_none_match_wins_over_if_modified_since(client: httpx.Client) -> None:
    future = http_date(LAST_MODIFIED + timedelta(days=1))
    headers = {"If-None-Match": '"other"', "If-Modified-Since": future}
    assert client.get("/feeds/ai.rss", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "since",
    [
        http_date(LAST_MODIFIED),
        http_date(LAST_MODIFIED + timedelta(seconds=1)),
        http_date(LAST_MODIFIED + timedelta(days=30)),
        "Tuesday, 30-Jun-26 12:31:01 GMT",  # obsolete RFC 850 form
        "Tue Jun 30 12:31:01 2026",  # asctime form
    ],
)
def test_if_modified_since_not_modified(client: httpx.Client, served: Served, since: str) -> None:
    response = client.get("/feeds/ai.json", headers={"If-Modified-Since": since})
    _assert_304(response, doc(served, "/feeds/ai.json").etag)


@pytest.mark.parametrize(
    "since",
    [
        http_date(LAST_MODIFIED - timedelta(seconds=1)),
        http_date(LAST_MODIFIED - timedelta(days=30)),
        "not a date",
        "Tue, 99 Foo 2026 99:99:99 GMT",
        "",
        # Later than the server's clock: invalid (a client's clock is ahead).
        "Thu, 01 Jan 2099 00:00:00 GMT",
    ],
)
def test_if_modified_since_modified_or_invalid(client: httpx.Client, since: str) -> None:
    response = client.get("/feeds/ai.json", headers={"If-Modified-Since": since})
    assert response.status_code == 200
    assert response.content


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_matches_get(client: httpx.Client, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding}
    get = client.get("/feeds/ai.rss", headers=headers)
    head = client.head("/feeds/ai.rss", headers=headers)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == get.headers[name]
    assert head.headers.get("content-encoding") == get.headers.get("content-encoding")


def test_head_conditional(client: httpx.Client, served: Served) -> None:
    etag = doc(served, "/feeds/ai.rss").etag
    response = client.head("/feeds/ai.rss", headers={"If-None-Match": etag})
    _assert_304(response, etag)


def _raw_get(client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    # stream + iter_raw gives the bytes on the wire, before httpx would decode gzip.
    with client.stream("GET", path, headers=headers) as response:
        response._raw = b"".join(response.iter_raw())  # type: ignore[attr-defined]
    return response


@pytest.mark.parametrize(
    "accept", ["gzip", "gzip, deflate, br", "deflate, gzip;q=0.5", "*", "br;q=1, *;q=0.1"]
)
def test_gzip_when_accepted(client: httpx.Client, served: Served, accept: str) -> None:
    document = doc(served, "/feeds/ai.rss")
    response = _raw_get(client, "/feeds/ai.rss", {"Accept-Encoding": accept})
    raw: bytes = response._raw  # type: ignore[attr-defined]
    assert response.headers["content-encoding"] == "gzip"
    assert raw == document.gzip_body
    assert gzip.decompress(raw) == document.body
    assert response.headers["content-length"] == str(len(raw))
    assert response.headers["etag"] == document.gzip_etag != document.etag
    assert STRONG_ETAG.match(document.gzip_etag.replace("-gz", ""))


@pytest.mark.parametrize(
    "accept", ["identity", "gzip;q=0", "GZIP; q=0.000", "deflate", "*;q=0", "gzip;q=0, *", "br"]
)
def test_no_gzip_when_not_accepted(client: httpx.Client, served: Served, accept: str) -> None:
    response = _raw_get(client, "/feeds/ai.rss", {"Accept-Encoding": accept})
    assert "content-encoding" not in response.headers
    assert response._raw == doc(served, "/feeds/ai.rss").body  # type: ignore[attr-defined]


def test_no_gzip_without_accept_encoding(served: Served) -> None:
    status, body = raw_request(served.port, b"/feeds/ai.rss")
    assert status == 200
    assert body == doc(served, "/feeds/ai.rss").body


def test_either_variant_etag_revalidates(client: httpx.Client, served: Served) -> None:
    document = doc(served, "/feeds/ai.rss")
    for accept in ("gzip", "identity"):
        for etag in (document.etag, document.gzip_etag):
            headers = {"Accept-Encoding": accept, "If-None-Match": etag}
            # The 304 names the variant the client holds, so its cache entry is refreshed.
            _assert_304(client.get("/feeds/ai.rss", headers=headers), etag)


def test_gzip_304_by_date_names_gzip_variant(client: httpx.Client, served: Served) -> None:
    headers = {"Accept-Encoding": "gzip", "If-Modified-Since": http_date(LAST_MODIFIED)}
    _assert_304(
        client.get("/feeds/ai.rss", headers=headers), doc(served, "/feeds/ai.rss").gzip_etag
    )


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/nope.rss",
        "/feeds/ai.xml",
        "/feeds/ai",
        "/feeds/",
        "/feeds",
        "/feeds/AI.rss",
        "/etc/passwd",
        "/index.htm",
        "/feeds/ai.rss/",
        "/healthz/x",
        "/metrics/",
    ],
)
def test_unknown_paths_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Not Found\n"


TRAVERSALS = [
    b"/feeds/..%2f..%2fetc%2fpasswd.rss",
    b"/feeds/..%2F..%2F..%2Fetc%2Fpasswd",
    b"/feeds/../../etc/passwd",
    b"/feeds/../feeds.opml/../../etc/passwd",
    b"/feeds/%2e%2e/%2e%2e/etc/passwd.rss",
    b"/feeds/..\\..\\etc\\passwd.rss",
    b"/feeds/%252e%252e%252fetc%252fpasswd.rss",
    b"//etc/passwd",
    b"/feeds//etc/passwd.rss",
    b"/feeds/ai.rss%00.txt",
    b"/feeds/%c0%ae%c0%ae/etc/passwd",
    b"/" + b"a" * 8000,
    b"/feeds/" + b"../" * 2000 + b"etc/passwd",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_httpx_raw_target(client: httpx.Client, target: bytes) -> None:
    request = client.build_request("GET", "/", extensions={"target": target})
    response = client.send(request)
    assert response.status_code in (400, 404)
    assert b"root:" not in response.content


@pytest.mark.parametrize(
    "target",
    [*TRAVERSALS, b"/feeds/ai\x00.rss", b"/feeds/ai.rss\x00", b"/" + b"x" * 20000, b"*"],
)
def test_path_traversal_socket(served: Served, target: bytes) -> None:
    status, body = raw_request(served.port, target)
    assert status in (400, 404, 414, 431)
    assert b"root:" not in body
    assert b"Traceback" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/feeds/ai.rss", "/", "/healthz", "/metrics"])
def test_other_methods_405(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_healthz(client: httpx.Client, served: Served) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "polls_failed": 0}
    assert response.headers["cache-control"] == "no-store"
    served.healthy = False
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert client.head("/healthz").status_code == 503


def test_errors_become_plain_500(client: httpx.Client, served: Served) -> None:
    served.health_raises = True
    for path in ("/healthz", "/broken"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.text == "Internal Server Error\n"
        assert "secret" not in response.text
        assert "Traceback" not in response.text


def test_metrics_passthrough(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content == METRICS_BODY
    assert response.headers["content-type"] == METRICS_TYPE


def test_metrics_absent_is_404() -> None:
    with serve(metrics=None) as running, httpx.Client(base_url=running.base_url) as c:
        assert c.get("/metrics").status_code == 404
        assert c.get("/feeds/ai.rss").headers["link"] == link_for("/feeds/ai.rss")


def test_link_header(client: httpx.Client, served: Served) -> None:
    expected = link_for("/feeds/ai.rss")
    etag = doc(served, "/feeds/ai.rss").etag
    assert client.get("/feeds/ai.rss").headers["link"] == expected
    assert client.head("/feeds/ai.rss").headers["link"] == expected
    # A 304 carries only what refreshes the stored response (RFC 9110 §15.4.5).
    not_modified = client.get("/feeds/ai.rss", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and "link" not in not_modified.headers
    assert "link" not in client.get("/").headers


def test_no_link_header_without_callback() -> None:
    with serve(link_headers=None) as running, httpx.Client(base_url=running.base_url) as c:
        assert "link" not in c.get("/feeds/ai.rss").headers


def test_extra_route(client: httpx.Client) -> None:
    response = client.post("/websub", data={"hub.mode": "subscribe"})
    assert response.status_code == 202
    assert response.text == "accepted"


def test_documents_swapped_while_serving(client: httpx.Client, served: Served) -> None:
    path = "/feeds/swap.rss"
    old = client.get(path)
    new_body = rss_bytes("swap", entries=4, marker=" (new)")
    new_doc = Document.build(new_body, CONTENT_TYPES["rss"], LAST_MODIFIED + timedelta(hours=1))
    served.documents.update({path: new_doc})
    # A reader holding the old ETag now gets the new version in full.
    response = client.get(path, headers={"If-None-Match": old.headers["etag"]})
    assert response.status_code == 200
    assert response.content == new_body
    assert response.headers["etag"] == new_doc.etag != old.headers["etag"]
    assert response.headers["last-modified"] == http_date(LAST_MODIFIED + timedelta(hours=1))
    # Other documents are untouched by a partial update.
    assert client.get("/feeds/ai.rss").status_code == 200


def test_lifespan_runs_around_serving() -> None:
    with serve() as running:
        assert running.lifespan_events == ["startup"]
    assert running.lifespan_events == ["startup", "shutdown"]


def test_feedparser_reads_served_rss(client: httpx.Client) -> None:
    response = client.get("/feeds/ai.rss", headers={"Accept-Encoding": "gzip"})
    parsed = feedparser.parse(
        response.content, response_headers={"content-type": response.headers["content-type"]}
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert [e.title for e in parsed.entries] == ["ai entry 0", "ai entry 1", "ai entry 2"]
    assert parsed.entries[0].id == "urn:syndicator:ai-0"


@pytest.mark.parametrize("size", [300_000, 2_000_000])
def test_oversized_request_head_rejected(served: Served, size: int) -> None:
    try:
        status, body = raw_request(served.port, b"/feeds/ai.rss", extra=b"X-Pad: " + b"a" * size)
    except (ConnectionResetError, BrokenPipeError):
        return  # refused before the client finished sending: also a rejection
    assert status == 400
    assert b"Traceback" not in body


def test_header_limit_is_exact_on_httptools() -> None:
    # h11 applies its limit only to requests still incomplete after one read,
    # so the exact bound is checked on the httptools stack the daemon uses.
    with serve(http="httptools") as served:
        assert raw_request(served.port, b"/feeds/ai.rss", extra=b"X-Pad: " + b"a" * 8000)[0] == 200
        assert raw_request(served.port, b"/feeds/ai.rss", extra=b"X-Pad: " + b"a" * 20000)[0] == 400


class _UnreachableLoader:
    """A loader whose store cannot be reached: every facet path is unavailable."""

    def __init__(self) -> None:
        self.cache = DocumentCache(1 << 20)

    def wants(self, path: str) -> bool:
        return path.startswith("/feeds/entities/")

    def validators(self, path: str) -> Document | None:
        raise DocumentUnavailable(path)

    def load(self, path: str) -> Document | None:
        raise DocumentUnavailable(path)


def test_a_document_that_cannot_be_loaded_now_is_a_503_to_retry() -> None:
    with serve(loader=_UnreachableLoader()) as running:
        for headers in ({}, {"If-None-Match": '"abc"'}):
            answer = httpx.get(f"{running.base_url}/feeds/entities/nvidia.atom", headers=headers)
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "2"
        # The letter-case redirect looks the feed up first: the same answer.
        answer = httpx.get(f"{running.base_url}/feeds/entities/NVIDIA.atom")
        assert answer.status_code == 503
