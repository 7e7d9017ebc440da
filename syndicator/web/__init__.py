"""HTTP layer: serves pre-rendered feeds from memory over ASGI.

The names below load their module on first use: a build that only needs
`web.documents` (on-demand facet feeds, `once`) does not import the ASGI
app, uvicorn and click with the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "create_app": "app",
    "DEFAULT_CACHE_CONTROL": "documents",
    "Document": "documents",
    "DocumentSet": "documents",
    "PING_PATH": "ping",
    "make_ping_route": "ping",
    "ServerThread": "server",
    "make_server": "server",
    "request_shutdown": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
