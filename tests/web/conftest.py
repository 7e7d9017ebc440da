"""Fixtures for the HTTP layer: a real uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from syndicator.web import Document, DocumentSet, ServerThread, create_app, make_server

LAST_MODIFIED = datetime(2026, 6, 30, 12, 31, 1, tzinfo=UTC)
METRICS_BODY = b"# HELP syndicator_polls_total Polls.\nsyndicator_polls_total 3.0\n"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HUB_LINK = '<http://127.0.0.1/websub>; rel="hub", <http://127.0.0.1{path}>; rel="self"'

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def rss_bytes(topic: str, entries: int = 3, marker: str = "") -> bytes:
    """A small well-formed RSS 2.0 document."""
    items = "".join(
        f"<item><title>{topic} entry {i}{marker}</title>"
        f"<link>http://127.0.0.1/articles/{topic}-{i}</link>"
        f'<guid isPermaLink="false">urn:syndicator:{topic}-{i}</guid>'
        f"<pubDate>Tue, 30 Jun 2026 12:0{i}:00 GMT</pubDate>"
        f"<description>Summary {i} of {topic}.</description></item>"
        for i in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{topic}</title><link>http://127.0.0.1/</link>"
        f"<description>Articles about {topic}</description>{items}</channel></rss>\n"
    ).encode()


def atom_bytes(topic: str) -> bytes:
    """A small well-formed Atom document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:syndicator:{topic}</id><title>{topic}</title>"
        "<updated>2026-06-30T12:31:01Z</updated></feed>\n"
    ).encode()


def build_documents() -> dict[str, Document]:
    """The documents the test server starts with."""
    lm = LAST_MODIFIED
    docs = {
        "/": Document.build(b"<!doctype html><title>Feeds</title>\n", CONTENT_TYPES["html"], lm),
        "/feeds.opml": Document.build(
            b'<?xml version="1.0"?><opml version="2.0"><body/></opml>\n', CONTENT_TYPES["opml"], lm
        ),
    }
    for topic in ("ai", "all", "swap"):
        docs[f"/feeds/{topic}.rss"] = Document.build(rss_bytes(topic), CONTENT_TYPES["rss"], lm)
        docs[f"/feeds/{topic}.atom"] = Document.build(atom_bytes(topic), CONTENT_TYPES["atom"], lm)
        docs[f"/feeds/{topic}.json"] = Document.build(
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "%s", "items": []}\n'
            % topic.encode(),
            CONTENT_TYPES["json"],
            lm,
        )
    return docs


def link_for(path: str) -> str | None:
    """Link header callback: hub and self links on feeds only."""
    return HUB_LINK.format(path=path) if path.startswith("/feeds/") else None


async def hub_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stand-in for the WebSub hub plugged in through extra_routes."""
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"accepted"})


async def broken_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An extra route that fails before answering."""
    raise RuntimeError("secret internal detail")


@dataclass
class Served:
    """A running server and the state its callbacks read."""

    documents: DocumentSet
    base_url: str
    port: int
    healthy: bool = True
    health_raises: bool = False
    lifespan_events: list[str] = field(default_factory=list)
    http: str = "h11"

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self.health_raises:
            raise RuntimeError("secret internal detail")
        return self.healthy, {"status": "ok" if self.healthy else "failing", "polls_failed": 0}


def metrics() -> tuple[bytes, str]:
    """Metrics callback returning fixed Prometheus text."""
    return METRICS_BODY, METRICS_TYPE


@contextlib.contextmanager
def serve(http: str = "h11", **app_kwargs: Any) -> Iterator[Served]:
    """Serve a fresh app on a free port for the duration of the block."""
    documents = DocumentSet(build_documents())
    served = Served(documents=documents, base_url="", port=0, http=http)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        served.lifespan_events.append("startup")
        yield
        served.lifespan_events.append("shutdown")

    kwargs: dict[str, Any] = {
        "health": served.health,
        "metrics": metrics,
        "extra_routes": {"/websub": hub_app, "/broken": broken_app},
        "link_headers": link_for,
        "lifespan": lifespan,
    }
    kwargs.update(app_kwargs)
    app = create_app(documents, **kwargs)
    thread = ServerThread(make_server(app, "127.0.0.1", 0, http=http))
    served.port = thread.start()
    served.base_url = f"http://127.0.0.1:{served.port}"
    try:
        yield served
    finally:
        thread.stop()


# Both parsers uvicorn can use, when installed: "auto" picks httptools in
# production if it is there, and its header limit is our own code.
HTTP_STACKS = ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


@pytest.fixture(scope="module", params=HTTP_STACKS)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """One server per test module and HTTP parser uvicorn can use."""
    with serve(http=request.param) as running:
        yield running


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[httpx.Client]:
    """A client for the module's server; asks for identity unless a test says otherwise."""
    with httpx.Client(
        base_url=served.base_url, timeout=10.0, headers={"Accept-Encoding": "identity"}
    ) as c:
        yield c


@pytest.fixture(autouse=True)
def _reset_health(request: pytest.FixtureRequest) -> None:
    if "served" in request.fixturenames:
        state: Served = request.getfixturevalue("served")
        state.healthy = True
        state.health_raises = False


def raw_request(
    port: int, target: bytes, method: bytes = b"GET", extra: bytes = b""
) -> tuple[int, bytes]:
    """Send one request with a byte-exact target over a socket; return (status, body)."""
    head = method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if extra:
        head += extra + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status_line, _, rest = response.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body
