"""HTTP layer: serves pre-rendered feeds from memory over ASGI."""

from __future__ import annotations

from syndicator.web.app import create_app
from syndicator.web.documents import DEFAULT_CACHE_CONTROL, Document, DocumentSet
from syndicator.web.ping import PING_PATH, make_ping_route
from syndicator.web.server import ServerThread, make_server, request_shutdown

__all__ = [
    "DEFAULT_CACHE_CONTROL",
    "Document",
    "DocumentSet",
    "PING_PATH",
    "ServerThread",
    "create_app",
    "make_ping_route",
    "make_server",
    "request_shutdown",
]
