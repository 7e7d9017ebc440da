"""The ASGI application: feeds from memory, health, metrics and pluggable extra routes.

Raw ASGI rather than a framework: the feed route is the hot path and must stay
within a small factor of nginx, so it is one dict lookup, one pass over the
request headers and two ``send`` calls with header lists built when the
Document was built. Routing order: feed documents, extra routes, mounted apps
(every path under a prefix, e.g. the console's ``/console/``; the prefix without
its slash redirects to it), ``/healthz``, ``/metrics``, else 404. Nothing here
touches the filesystem, so a path that is not an exact key of the DocumentSet
(``..``, encoded slashes, NUL, ...) can only ever 404. An optional observer is
told of every document answered (200 or 304, never a 404) after its response is
sent: reader analytics count there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from email.utils import mktime_tz, parsedate_tz
from typing import Any, Protocol
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicator.web.documents import (
    Document,
    DocumentCache,
    DocumentSet,
    DocumentUnavailable,
    RawHeaders,
    for_browser,
    is_page_navigation,
)

__all__ = [
    "DocumentLoader",
    "HealthCheck",
    "Lifespan",
    "LinkHeaders",
    "MetricsExporter",
    "Observer",
    "create_app",
]

logger = logging.getLogger(__name__)

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
MetricsExporter = Callable[[], tuple[bytes, str]]
LinkHeaders = Callable[[str], str | None]
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
#: Told of every document answered: (path, status, User-Agent bytes, client
#: address). Called on the event loop, so it must be O(1) and do no I/O.
Observer = Callable[[str, int, bytes, str], None]

Response = tuple[int, Iterable[tuple[bytes, bytes]], bytes]


class DocumentLoader(Protocol):
    """Documents made when first asked for (facet feeds, bodies read back): loaded
    on a thread, kept by the loader in its bounded `DocumentCache` until invalidated."""

    cache: DocumentCache

    def wants(self, path: str) -> bool:
        """Whether `path` is one this loader renders when asked (a cheap test, no
        I/O); it also loads the bodies of lazy documents of the document set."""

    def validators(self, path: str) -> Document | None:
        """A bodiless stand-in with the validators of the current document,
        when they are known without rendering; else None."""

    def load(self, path: str) -> Document | None:
        """The document at `path`, rendered now and kept in `cache`; None when
        there is none (404)."""


_ALLOW = (b"allow", b"GET, HEAD")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
# Error answers change when a build adds a topic, so no cache may keep them.
_NO_STORE = (b"cache-control", b"no-store")
# Paths that serve another document's bytes.
_ALIASES = {"/index.html": "/"}
# Feeds whose names are case-insensitive (SPEC §4b: BCP 47 tags, entities
# merged case-insensitively) and served under lower-case paths: another case
# is redirected. Topic slugs are lower-case by rule, so `/feeds/AI.rss` is no
# topic's feed and stays a 404.
_CASE_INSENSITIVE = ("/feeds/lang/", "/feeds/entities/")


def _facet_path(path: str) -> str:
    """The path a language or entity feed is served at: lower-case, and a
    language tag written as a POSIX locale (`pt_BR`) as its BCP 47 tag, as
    records' `lang` is read (no served slug or tag holds `_`)."""
    lower = path.lower()
    return lower.replace("_", "-") if lower.startswith("/feeds/lang/") else lower


# Entity tags in an If-None-Match list; etagc excludes DQUOTE, so this cannot
# split a tag, and anything malformed simply fails to match.
_ETAG_RE = re.compile(r'(?:W/)?"([^"]*)"')
# Parsed Accept-Encoding values: clients send few distinct ones. Bounded so a
# client cycling through values cannot grow it without limit.
_AE_CACHE: dict[bytes, bool] = {}
_AE_CACHE_MAX = 512
_AE_CACHEABLE_LEN = 256
# Link fields by path: the same for a path for the life of the process (base
# URL and hubs are fixed), and worth keeping off the hot path.
_LINKS_MAX = 4096
_NO_LINK: Any = object()


def _plain(status: int, text: str, *extra: tuple[bytes, bytes]) -> Response:
    body = text.encode()
    headers = (_TEXT, (b"content-length", str(len(body)).encode()), _NOSNIFF, _NO_STORE, *extra)
    return status, headers, body


_NOT_FOUND = _plain(404, "Not Found\n")
_NOT_ALLOWED = _plain(405, "Method Not Allowed\n", _ALLOW)
_SERVER_ERROR = _plain(500, "Internal Server Error\n")
_UNAVAILABLE = _plain(503, "Service Unavailable\n", (b"retry-after", b"2"))


def accepts_gzip(value: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip (an explicit or ``*`` q above 0)."""
    cached = _AE_CACHE.get(value)
    if cached is not None:
        return cached
    gzip_q: float | None = None
    star_q: float | None = None
    for part in value.split(b","):
        coding, _, params = part.partition(b";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(b";"):
            key, _, raw = param.partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    q = 0.0  # an unreadable weight is not consent
        if coding in (b"gzip", b"x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == b"*":
            star_q = q
    result = gzip_q > 0 if gzip_q is not None else (star_q is not None and star_q > 0)
    if len(value) <= _AE_CACHEABLE_LEN:
        if len(_AE_CACHE) >= _AE_CACHE_MAX:
            _AE_CACHE.clear()
        _AE_CACHE[value] = result
    return result


def _match_etag(value: str, doc: Document, gz: bool) -> RawHeaders | None:
    """The 304 headers if If-None-Match matches ``doc``, else None.

    Weak comparison (RFC 9110 §13.1.2, required for GET/HEAD): a ``W/`` prefix
    is ignored. Either variant's tag matches: both name the same content, and a
    cache holding the identity body that now asks with gzip accepted is still
    current. The 304 carries the tag the client sent, since that is the stored
    response a cache must refresh (RFC 9111 §4.3.4).
    """
    value = value.strip()
    # The common case, a client echoing the tag it was given, needs no parsing.
    if value == doc.etag:
        return doc.headers_304_identity
    if value == doc.gzip_etag:
        return doc.headers_304_gzip
    if value == "*":
        return doc.headers_304_gzip if gz else doc.headers_304_identity
    for tag in _ETAG_RE.findall(value):
        quoted = f'"{tag}"'
        if quoted == doc.etag:
            return doc.headers_304_identity
        if quoted == doc.gzip_etag:
            return doc.headers_304_gzip
    return None


def _not_modified_since(value: str, doc: Document) -> bool:
    """Whether If-Modified-Since shows ``doc`` unchanged; an invalid date never
    does, nor one later than the clock (a client whose clock runs ahead)."""
    if value == doc.last_modified_http:
        return True  # the date this server sent, even one it dated ahead
    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return False
        since = mktime_tz(parsed)
        return doc.last_modified_epoch <= since <= time.time() + 1
    except (ValueError, OverflowError, TypeError, IndexError):
        return False


def _feed_response(method: str, headers: Iterable[tuple[bytes, bytes]], doc: Document) -> Response:
    """Choose 200, 304 or 405 and the variant for one request to a document."""
    if method != "GET" and method != "HEAD":
        return _NOT_ALLOWED
    inm: bytes | None = None
    ims: bytes | None = None
    ae: bytes | None = None
    accept: bytes | None = None
    for name, value in headers:
        # Repeated fields are one comma-separated list (RFC 9110 §5.3).
        if name == b"if-none-match":
            inm = value if inm is None else inm + b", " + value
        elif name == b"if-modified-since":
            ims = value
        elif name == b"accept-encoding":
            ae = value if ae is None else ae + b", " + value
        elif name == b"accept":
            accept = value if accept is None else accept + b", " + value
    gz = ae is not None and accepts_gzip(ae)
    if inm is not None:
        # If-Modified-Since is ignored whenever If-None-Match is present.
        matched = _match_etag(inm.decode("latin-1"), doc, gz)
        if matched is not None:
            return 304, matched, b""
    elif ims is not None and _not_modified_since(ims.decode("latin-1").strip(), doc):
        return 304, doc.headers_304_gzip if gz else doc.headers_304_identity, b""
    fields = doc.headers_gzip if gz else doc.headers_identity
    if accept is not None and is_page_navigation(accept):
        fields = for_browser(fields)
    if gz:
        return 200, fields, b"" if method == "HEAD" else doc.gzip_body
    return 200, fields, b"" if method == "HEAD" else doc.body


async def _sent(
    send: Send, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes
) -> bool:
    """Send a whole answer; False when the client went away meanwhile. A
    transport that closed before uvicorn heard of it (a client hanging up on
    pipelined requests) refuses the write: nothing to log, nobody to answer."""
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    except (RuntimeError, OSError):
        return False
    return True


class _App:
    """The callable returned by :func:`create_app`."""

    __slots__ = (
        "_docs",
        "_extra",
        "_health",
        "_inflight",
        "_lifespan",
        "_link",
        "_links",
        "_loader",
        "_metrics",
        "_mounts",
        "_observer",
    )

    def __init__(
        self,
        documents: DocumentSet,
        health: HealthCheck,
        metrics: MetricsExporter | None,
        extra_routes: Mapping[str, ASGIApp] | None,
        link_headers: LinkHeaders | None,
        lifespan: Lifespan | None,
        loader: DocumentLoader | None = None,
        observer: Observer | None = None,
        mounts: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self._docs = documents
        self._observer = observer
        self._mounts = tuple((_prefix(p), app) for p, app in (mounts or {}).items())
        self._loader = loader
        self._inflight: dict[str, asyncio.Future[Document | None]] = {}
        self._health = health
        self._metrics = metrics
        self._extra = dict(extra_routes or {})
        self._link = link_headers
        self._links: dict[str, tuple[bytes, bytes] | None] = {}
        self._lifespan = lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            doc = self._docs.get(path)
            if doc is None and path in _ALIASES:
                path = _ALIASES[path]
                doc = self._docs.get(path)
            if (
                doc is None
                and path.startswith(_CASE_INSENSITIVE)
                and path != _facet_path(path)
                and await self._redirected(scope, send)
            ):
                return
            loader = self._loader
            if loader is not None:
                if doc is None and loader.wants(path):
                    doc = loader.cache.get(path)
                    if doc is None:
                        await self._on_demand(loader, scope, send, path, None)
                        return
                elif doc is not None and doc.lazy:
                    # Validators in memory, bytes in a bounded cache or on disk.
                    full = loader.cache.get(path)
                    if full is None or full.etag != doc.etag:
                        await self._on_demand(loader, scope, send, path, doc)
                        return
                    doc = full
            if doc is None:
                await self._other(scope, receive, send)
                return
            status, headers, body = self._respond(scope, path, doc)
            if await _sent(send, status, headers, body) and self._observer is not None:
                _observe(self._observer, scope, path, status)
        elif kind == "lifespan":
            await self._run_lifespan(scope, receive, send)
        elif kind == "websocket":
            # Closing before accepting makes the server answer 403.
            await send({"type": "websocket.close", "code": 1008})

    def _respond(self, scope: Scope, path: str, doc: Document) -> Response:
        try:
            status, headers, body = _feed_response(scope["method"], scope["headers"], doc)
            # Not on a 304: it must carry only what refreshes a cached response
            # (RFC 9110 §15.4.5), and discovery reads the 200 a reader stored.
            if self._link is not None and status == 200:
                headers = self._with_link(headers, path)
        except Exception:
            logger.exception("error serving %s", path)
            return _SERVER_ERROR
        return status, headers, body

    async def _on_demand(
        self,
        loader: DocumentLoader,
        scope: Scope,
        send: Send,
        path: str,
        known: Document | None,
    ) -> None:
        """A document not in memory: 304 from its validators (`known`, or stored
        ones) when the reader's copy is current, else loaded on a thread (once
        for concurrent readers)."""
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = _NOT_ALLOWED
        else:
            try:
                response = await self._load(loader, scope, path, known)
            except DocumentUnavailable:
                response = _UNAVAILABLE
            except Exception:
                logger.exception("error rendering %s", path)
                response = _SERVER_ERROR
        status, headers, body = response
        if not await _sent(send, status, headers, body):
            return
        if self._observer is not None and status != 404:
            _observe(self._observer, scope, path, status)

    async def _load(
        self, loader: DocumentLoader, scope: Scope, path: str, known: Document | None
    ) -> Response:
        conditional = any(
            name in (b"if-none-match", b"if-modified-since") for name, _ in scope["headers"]
        )
        if conditional:
            stub = known or await asyncio.to_thread(loader.validators, path)
            if stub is not None:
                answer = self._respond(scope, path, stub)
                if answer[0] == 304:
                    return answer
        doc = await self._loaded(loader, path)
        if doc is None:
            return _NOT_FOUND
        return self._respond(scope, path, doc)

    async def _loaded(self, loader: DocumentLoader, path: str) -> Document | None:
        """The document at `path`, loaded on a thread, once for concurrent readers."""
        pending = self._inflight.get(path)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self._render, loader, path))
            self._inflight[path] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(path, None))
        return await asyncio.shield(pending)

    async def _redirected(self, scope: Scope, send: Send) -> bool:
        """Answer a GET or HEAD of a language or entity feed's path in other
        letter case (`/feeds/lang/pt-BR.atom`, or a locale's `pt_BR`) with a 301
        to its path, which is lower-case, keeping the query; False when there is
        no such feed (the request goes on, to its 404)."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        lower = _facet_path(scope["path"])
        found = lower in self._docs
        loader = self._loader
        if not found and loader is not None and loader.wants(lower):
            # Loaded here, it is cached for the request the redirect brings.
            try:
                found = loader.cache.get(lower) is not None or (
                    await self._loaded(loader, lower) is not None
                )
            except DocumentUnavailable:
                await _sent(send, *_UNAVAILABLE)
                return True
        if not found:
            return False
        query: bytes = scope.get("query_string", b"")
        target = quote(lower, safe="/").encode()
        location = (b"location", target + b"?" + query if query else target)
        status, headers, body = _plain(301, "Moved Permanently\n", location)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        return True

    @staticmethod
    def _render(loader: DocumentLoader, path: str) -> Document | None:
        # The loader caches what it loads: it knows what a document was made
        # from, so caching it here after the fact could keep one already stale.
        return loader.load(path)

    def _with_link(
        self, headers: Iterable[tuple[bytes, bytes]], path: str
    ) -> Iterable[tuple[bytes, bytes]]:
        field = self._links.get(path, _NO_LINK)
        if field is _NO_LINK:
            field = self._link_field(path)
            if len(self._links) >= _LINKS_MAX:
                self._links.clear()
            self._links[path] = field
        return headers if field is None else (*headers, field)

    def _link_field(self, path: str) -> tuple[bytes, bytes] | None:
        assert self._link is not None
        link = self._link(path)
        if link is None:
            return None
        if "\r" in link or "\n" in link:
            # A newline would let the value start a header of its own.
            logger.warning("dropping Link header with a line break for %s", path)
            return None
        return (b"link", link.encode("latin-1"))

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything that is not a document: extra routes, health, metrics, 404."""
        path = scope["path"]
        extra = self._extra.get(path)
        if extra is not None:
            await _guarded(extra, scope, receive, send)
            return
        for prefix, app in self._mounts:
            if path.startswith(prefix):
                await _guarded(app, scope, receive, send)
                return
        response: Response
        if any(path == prefix[:-1] for prefix, _ in self._mounts):
            # 308: the method and body survive the redirect.
            response = _plain(308, "Permanent Redirect\n", (b"location", f"{path}/".encode()))
        elif path == "/healthz":
            response = self._answer(scope, self._healthz)
        elif path == "/metrics" and self._metrics is not None:
            response = self._answer(scope, self._export_metrics)
        else:
            response = _NOT_FOUND
        status, headers, body = response
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope: Scope, produce: Callable[[], Response]) -> Response:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return _NOT_ALLOWED
        try:
            status, headers, body = produce()
        except Exception:
            logger.exception("error serving %s", scope["path"])
            return _SERVER_ERROR
        return status, headers, b"" if method == "HEAD" else body

    def _healthz(self) -> Response:
        healthy, info = self._health()
        body = json.dumps(info, default=str, sort_keys=True).encode()
        return 200 if healthy else 503, _dynamic(b"application/json", body), body

    def _export_metrics(self) -> Response:
        assert self._metrics is not None
        body, content_type = self._metrics()
        return 200, _dynamic(content_type.encode("latin-1"), body), body

    async def _run_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI lifespan protocol around the optional context manager."""
        await receive()  # lifespan.startup
        manager: AbstractAsyncContextManager[Any] | None = None
        if self._lifespan is not None:
            try:
                manager = self._lifespan(self)
                state = await manager.__aenter__()
            except Exception as exc:
                logger.exception("application start-up failed")
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            if isinstance(state, Mapping) and "state" in scope:
                scope["state"].update(state)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if manager is not None:
            try:
                await manager.__aexit__(None, None, None)
            except Exception as exc:
                logger.exception("application shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
                return
        await send({"type": "lifespan.shutdown.complete"})


def _observe(observer: Observer, scope: Scope, path: str, status: int) -> None:
    """Tell the observer of one answered document; its failure never reaches the reader."""
    agent = b""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            agent = value
            break
    client = scope.get("client")
    try:
        observer(path, status, agent, client[0] if client else "")
    except Exception:
        logger.exception("request observer failed for %s", path)


def _dynamic(content_type: bytes, body: bytes) -> RawHeaders:
    return (
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        _NOSNIFF,
        _NO_STORE,
    )


async def _guarded(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run a plugged-in app; an exception becomes a plain 500, never a traceback."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception:
        logger.exception("error serving %s", scope["path"])
        if not started:
            status, headers, body = _SERVER_ERROR
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def _prefix(path: str) -> str:
    if not path.startswith("/") or not path.endswith("/") or len(path) < 3:
        raise ValueError(f"a mount prefix is /name/, not {path!r}")
    return path


def create_app(
    documents: DocumentSet,
    *,
    health: HealthCheck,
    metrics: MetricsExporter | None = None,
    extra_routes: Mapping[str, ASGIApp] | None = None,
    link_headers: LinkHeaders | None = None,
    lifespan: Lifespan | None = None,
    loader: DocumentLoader | None = None,
    observer: Observer | None = None,
    mounts: Mapping[str, ASGIApp] | None = None,
) -> ASGIApp:
    """Build the ASGI app serving ``documents`` (and what ``loader`` renders on
    demand) plus health, metrics, extra routes (exact paths) and ``mounts`` (every
    path under a ``/prefix/``, passed on unchanged); ``observer`` is told of each
    document answered."""
    return _App(
        documents, health, metrics, extra_routes, link_headers, lifespan, loader, observer, mounts
    )
