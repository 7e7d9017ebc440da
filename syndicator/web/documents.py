"""Finished feed documents held in memory, and the set the HTTP layer serves from.

A build step renders each feed once and wraps the bytes in a :class:`Document`;
everything a response needs (ETag, gzip body, HTTP date, raw header lists) is
computed here, once per feed version, so the request path does no work beyond a
dict lookup and a few byte comparisons.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = [
    "DEFAULT_CACHE_CONTROL",
    "cache_control",
    "Document",
    "DocumentCache",
    "DocumentSet",
    "stand_in",
    "without_body",
    "STYLED_TYPES",
    "DocumentUnavailable",
    "for_browser",
    "is_page_navigation",
    "RawHeaders",
]

#: Feeds change at most once per poll, so a short shared-cache lifetime keeps
#: readers fresh while letting proxies absorb bursts. The daemon passes the
#: configured one (`server.cache_max_age_seconds`, at most a poll interval).
DEFAULT_CACHE_CONTROL = "public, max-age=60"


def cache_control(max_age: int) -> str:
    """The Cache-Control value of documents readers may keep `max_age` seconds."""
    return f"public, max-age={max_age}"


RawHeaders = tuple[tuple[bytes, bytes], ...]

# Sniffing would let a browser run a feed's bytes as HTML; a 304 has no body,
# so it goes without (every header costs time in the server's Python code).
_NOSNIFF = (b"x-content-type-options", b"nosniff")
# Caches must key the gzip and identity variants apart; RFC 9110 §15.4.5 wants
# Vary on a 304 too, as on the 200 it stands for.
_VARY = (b"vary", b"Accept-Encoding")
# RSS and Atom also vary by Accept: a browser opening one gets it labelled
# `application/xml`, the only XML type Chromium applies the feed's XSL
# stylesheet to (see `for_browser`); readers get the SPEC's types.
_VARY_FEED = (b"vary", b"Accept-Encoding, Accept")
#: Media types served as `application/xml` to a browser's page navigation.
STYLED_TYPES = (b"application/rss+xml", b"application/atom+xml")


@dataclass(frozen=True, slots=True)
class Document:
    """One rendered feed (or page) with its validators and precomputed headers.

    Make it with :meth:`build`: the fields after ``last_modified_http`` are
    derived there, and the app sends the ``headers_*`` tuples as they are.
    """

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str
    gzip_body: bytes
    last_modified_http: str
    cache_control: str = DEFAULT_CACHE_CONTROL
    # The gzip variant is a different representation (different bytes), so it
    # gets its own strong ETag; If-None-Match accepts either (see app.py).
    gzip_etag: str = ""
    # Whole seconds since the epoch: HTTP dates have no sub-second part, so
    # If-Modified-Since is compared at this resolution.
    last_modified_epoch: int = 0
    headers_identity: RawHeaders = field(default=(), repr=False, compare=False)
    headers_gzip: RawHeaders = field(default=(), repr=False, compare=False)
    headers_304_identity: RawHeaders = field(default=(), repr=False, compare=False)
    headers_304_gzip: RawHeaders = field(default=(), repr=False, compare=False)
    #: Validators only: the body is loaded (into a bounded cache) when needed.
    lazy: bool = False

    @classmethod
    def build(
        cls,
        body: bytes,
        content_type: str,
        last_modified: datetime,
        *,
        cache_control: str = DEFAULT_CACHE_CONTROL,
        compresslevel: int = 9,
        digest: str | None = None,
    ) -> Document:
        """Hash, compress and format everything a response needs, once.

        A document rendered while a reader waits is compressed at a lower
        `compresslevel`; its ETags do not depend on the gzip bytes. With
        `digest` (the body's SHA-256, hex) the body is not hashed again; a
        stand-in with no body (see `stand_in`) passes its validators that way.
        """
        if last_modified.tzinfo is None or last_modified.utcoffset() is None:
            raise ValueError("last_modified must be timezone-aware")
        lm_utc = last_modified.astimezone(UTC).replace(microsecond=0)
        digest = (digest or hashlib.sha256(body).hexdigest())[:32]
        etag = f'"{digest}"'
        gzip_etag = f'"{digest}-gz"'
        # mtime=0 keeps the gzip header free of the clock: same body, same bytes.
        gzip_body = gzip.compress(body, compresslevel=compresslevel, mtime=0) if body else b""
        lm_http = format_datetime(lm_utc, usegmt=True)

        ct = content_type.encode("latin-1")
        lm = lm_http.encode("latin-1")
        cc = cache_control.encode("latin-1")
        et = etag.encode("latin-1")
        gz_et = gzip_etag.encode("latin-1")
        vary = _VARY_FEED if ct.split(b";")[0] in STYLED_TYPES else _VARY
        validators = ((b"last-modified", lm), (b"cache-control", cc), vary)
        return cls(
            body=body,
            content_type=content_type,
            last_modified=last_modified,
            etag=etag,
            gzip_body=gzip_body,
            last_modified_http=lm_http,
            cache_control=cache_control,
            gzip_etag=gzip_etag,
            last_modified_epoch=int(lm_utc.timestamp()),
            headers_identity=(
                (b"content-type", ct),
                (b"content-length", str(len(body)).encode()),
                (b"etag", et),
                *validators,
                _NOSNIFF,
            ),
            headers_gzip=(
                (b"content-type", ct),
                (b"content-encoding", b"gzip"),
                (b"content-length", str(len(gzip_body)).encode()),
                (b"etag", gz_et),
                *validators,
                _NOSNIFF,
            ),
            headers_304_identity=((b"etag", et), *validators),
            headers_304_gzip=((b"etag", gz_et), *validators),
        )


def stand_in(
    digest: str, content_type: str, last_modified: datetime, cache_control: str
) -> Document:
    """A bodiless document carrying stored validators: enough to answer 304
    to a reader whose copy is current, without rendering or reading it."""
    doc = Document.build(
        b"", content_type, last_modified, cache_control=cache_control, digest=digest
    )
    return replace(doc, lazy=True)


def without_body(doc: Document) -> Document:
    """`doc`'s validators alone (its bytes go to a bounded cache)."""
    return replace(doc, body=b"", gzip_body=b"", lazy=True)


class DocumentUnavailable(Exception):
    """A known document whose bytes cannot be served right now (its file is
    being written again): the reader is asked to come back shortly."""


class DocumentSet:
    """Thread-safe mapping of URL path ("/feeds/ai.rss", "/feeds.opml", "/") to Document.

    Readers get a plain dict that is never mutated after it is published; writers
    build a new dict under a lock and swap the reference, which is atomic. So the
    event loop never waits on the build thread and never sees half an update.
    """

    __slots__ = ("_docs", "_lock")

    def __init__(self, docs: Mapping[str, Document] | None = None) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, Document] = {}
        if docs:
            self.replace_all(docs)

    def get(self, path: str) -> Document | None:
        """Return the document served at ``path``, or None."""
        return self._docs.get(path)

    def update(self, docs: Mapping[str, Document]) -> None:
        """Add or replace some documents, keeping the others."""
        _check_paths(docs)
        # The lock only orders writers against each other (two builds must not
        # lose each other's changes); readers never take it.
        with self._lock:
            merged = dict(self._docs)
            merged.update(docs)
            self._docs = merged

    def update_newer(self, docs: Mapping[str, Document]) -> None:
        """Add or replace some documents, keeping any served one that is newer.

        Several sources hand in documents (this process's builds, other
        processes' builds); one that arrives late must not take the place of
        the newer bytes another already served. A document's Last-Modified
        grows with every change of its bytes, so it orders them.
        """
        _check_paths(docs)
        with self._lock:
            merged = dict(self._docs)
            for path, doc in docs.items():
                current = merged.get(path)
                if current is None or doc.last_modified >= current.last_modified:
                    merged[path] = doc
            self._docs = merged

    def replace_all(self, docs: Mapping[str, Document]) -> None:
        """Serve exactly ``docs`` from now on."""
        _check_paths(docs)
        fresh = dict(docs)
        with self._lock:
            self._docs = fresh

    def paths(self) -> list[str]:
        """Return the served paths, sorted."""
        return sorted(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, path: object) -> bool:
        return path in self._docs


def _check_paths(docs: Mapping[str, Document]) -> None:
    for path, doc in docs.items():
        if not path.startswith("/") or "\x00" in path:
            raise ValueError(f"document path must start with '/' and hold no NUL: {path!r}")
        if not isinstance(doc, Document):
            raise TypeError(f"not a Document at {path!r}: {type(doc).__name__}")


class DocumentCache:
    """Documents rendered on demand, kept while they fit in `max_bytes`.

    Least recently used first out; each document costs its identity and gzip
    bodies. Thread-safe: the event loop reads, render threads add, builds
    invalidate.
    """

    __slots__ = ("_docs", "_lock", "_max", "_size", "hits", "misses")

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, path: str) -> Document | None:
        """The cached document at `path` (now the most recently used), or None."""
        with self._lock:
            doc = self._docs.get(path)
            if doc is None:
                self.misses += 1
                return None
            self._docs.move_to_end(path)
            self.hits += 1
            return doc

    def put(self, path: str, doc: Document) -> None:
        """Keep `doc` at `path`, dropping the least recently used beyond the budget."""
        cost = _cost(doc)
        with self._lock:
            old = self._docs.pop(path, None)
            if old is not None:
                self._size -= _cost(old)
            if cost > self._max:
                return  # larger than the whole budget: served, never kept
            self._docs[path] = doc
            self._size += cost
            while self._size > self._max:
                _, dropped = self._docs.popitem(last=False)
                self._size -= _cost(dropped)

    def discard(self, paths: Iterable[str]) -> list[str]:
        """Forget the documents at `paths`; return those that were cached."""
        gone = []
        with self._lock:
            for path in paths:
                doc = self._docs.pop(path, None)
                if doc is not None:
                    self._size -= _cost(doc)
                    gone.append(path)
        return gone

    def clear(self) -> None:
        """Forget every document."""
        with self._lock:
            self._docs.clear()
            self._size = 0

    def paths(self) -> list[str]:
        """The cached paths, least recently used first."""
        with self._lock:
            return list(self._docs)

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def __len__(self) -> int:
        return len(self._docs)


def _cost(doc: Document) -> int:
    return len(doc.body) + len(doc.gzip_body) + 512


def is_page_navigation(accept: bytes) -> bool:
    """Whether an Accept header is a browser's for a page it opens."""
    # A browser opening a page asks for text/html first and names no feed
    # type; feed readers name the feed types, or send */* or nothing. A
    # client that lists text/html first but prefers something else (a lower
    # q) is not opening a page.
    if not accept.startswith(b"text/html") or b"rss+xml" in accept or b"atom+xml" in accept:
        return False
    ranges = accept.split(b",")
    html = _quality(ranges[0])
    return html > 0 and all(_quality(other) <= html for other in ranges[1:])


def _quality(media_range: bytes) -> float:
    """The q of one media range of an Accept header (1 when it names none)."""
    for param in media_range.split(b";")[1:]:
        name, _, value = param.partition(b"=")
        if name.strip().lower() == b"q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


_BROWSER_TYPE = (b"content-type", b"application/xml; charset=utf-8")


def for_browser(fields: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    """An RSS or Atom answer's headers labelled `application/xml` for a browser,
    which then shows the feed through its XSL stylesheet instead of as text."""
    out = tuple(fields)
    if out and out[0][0] == b"content-type" and out[0][1].split(b";")[0] in STYLED_TYPES:
        return (_BROWSER_TYPE, *out[1:])
    return out
