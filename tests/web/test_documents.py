"""Document building and the DocumentSet, without a server."""

from __future__ import annotations

import gzip
import re
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from syndicator.web import Document, DocumentSet
from syndicator.web.app import accepts_gzip

LM = datetime(2026, 6, 30, 12, 31, 1, 999_000, tzinfo=UTC)
BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>\n" * 20


def test_same_bytes_same_etag_and_gzip() -> None:
    a = Document.build(BODY, "application/rss+xml; charset=utf-8", LM)
    b = Document.build(bytes(BODY), "application/rss+xml; charset=utf-8", LM)
    assert a.etag == b.etag
    assert a.gzip_body == b.gzip_body
    assert a.gzip_etag == b.gzip_etag
    assert a == b


def test_etag_format_and_gzip_content() -> None:
    doc = Document.build(BODY, "text/x-opml; charset=utf-8", LM)
    assert re.fullmatch(r'"[0-9a-f]{32}"', doc.etag)
    assert doc.gzip_etag == doc.etag[:-1] + '-gz"'
    assert gzip.decompress(doc.gzip_body) == BODY
    assert Document.build(BODY + b" ", "text/plain", LM).etag != doc.etag


def test_last_modified_http_is_imf_fixdate_in_gmt() -> None:
    plus_two = timezone(timedelta(hours=2))
    doc = Document.build(BODY, "text/plain", LM.astimezone(plus_two))
    assert doc.last_modified_http == "Tue, 30 Jun 2026 12:31:01 GMT"
    assert doc.last_modified_epoch == int(datetime(2026, 6, 30, 12, 31, 1, tzinfo=UTC).timestamp())
    assert doc.last_modified == LM


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Document.build(BODY, "text/plain", datetime(2026, 6, 30))


def test_precomputed_headers() -> None:
    doc = Document.build(BODY, "application/rss+xml; charset=utf-8", LM, cache_control="no-cache")
    identity = dict(doc.headers_identity)
    assert identity[b"content-length"] == str(len(BODY)).encode()
    assert identity[b"etag"] == doc.etag.encode()
    assert identity[b"cache-control"] == b"no-cache"
    gz = dict(doc.headers_gzip)
    assert gz[b"content-encoding"] == b"gzip"
    assert gz[b"content-length"] == str(len(doc.gzip_body)).encode()
    assert dict(doc.headers_304_gzip)[b"etag"] == doc.gzip_etag.encode()
    assert b"content-length" not in dict(doc.headers_304_identity)


def test_document_set_update_replace_and_paths() -> None:
    one = Document.build(b"1", "text/plain", LM)
    two = Document.build(b"2", "text/plain", LM)
    docs = DocumentSet({"/feeds/a.rss": one})
    assert docs.get("/feeds/a.rss") is one
    assert docs.get("/feeds/b.rss") is None
    docs.update({"/feeds/b.rss": two})
    assert docs.paths() == ["/feeds/a.rss", "/feeds/b.rss"]
    assert "/feeds/b.rss" in docs and len(docs) == 2
    docs.replace_all({"/": two})
    assert docs.paths() == ["/"]
    assert docs.get("/feeds/a.rss") is None


@pytest.mark.parametrize("path", ["feeds/a.rss", "", "/a\x00b"])
def test_document_set_rejects_bad_paths(path: str) -> None:
    with pytest.raises(ValueError):
        DocumentSet().update({path: Document.build(b"x", "text/plain", LM)})


def test_concurrent_writers_lose_nothing_and_readers_see_whole_versions() -> None:
    docs = DocumentSet()
    versions = [Document.build(str(i).encode(), "text/plain", LM) for i in range(50)]
    seen: list[Document | None] = []
    stop = threading.Event()

    def write(prefix: str) -> None:
        for version in versions:
            docs.update({f"/{prefix}": version, f"/{prefix}-{version.body.decode()}": version})

    def read() -> None:
        while not stop.is_set():
            seen.append(docs.get("/a"))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in ("a", "b", "c")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(10)
    stop.set()
    reader.join(10)
    assert len(docs) == 3 + 3 * 50
    assert all(doc is None or doc in versions for doc in seen)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"gzip", True),
        (b"GZip", True),
        (b"x-gzip", True),
        (b"deflate, gzip;q=1.0, *;q=0.5", True),
        (b"gzip;q=0.001", True),
        (b"*", True),
        (b"gzip;q=0", False),
        (b"gzip; q=0.0, *;q=1", False),
        (b"gzip;q=abc", False),
        (b"identity", False),
        (b"", False),
        (b"*;q=0", False),
        (b"br, zstd", False),
    ],
)
def test_accepts_gzip(value: bytes, expected: bool) -> None:
    assert accepts_gzip(value) is expected
    assert accepts_gzip(value) is expected  # and again from the cache


def test_update_newer_keeps_a_newer_document() -> None:
    older = Document.build(b"old", "text/plain", LM)
    newer = Document.build(b"new", "text/plain", LM + timedelta(seconds=1))
    docs = DocumentSet({"/a": newer})
    # A build that finished late (older bytes) must not replace newer ones.
    docs.update_newer({"/a": older, "/b": older})
    assert docs.get("/a") is newer
    assert docs.get("/b") is older
    newest = Document.build(b"newest", "text/plain", LM + timedelta(seconds=2))
    docs.update_newer({"/a": newest})
    assert docs.get("/a") is newest


def test_cache_control_from_max_age() -> None:
    from syndicator.web.documents import cache_control

    doc = Document.build(BODY, "text/plain", LM, cache_control=cache_control(300))
    assert (b"cache-control", b"public, max-age=300") in doc.headers_identity
    assert (b"cache-control", b"public, max-age=300") in doc.headers_304_gzip
