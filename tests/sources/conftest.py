"""A programmable article API on 127.0.0.1, and a deployment that polls it."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from syndicator.config import Settings, load_settings
from syndicator.sources.http_api import HttpSource
from syndicator.store.store import Store
from syndicator.wiring import open_store
from tests.cycle import Cycle, make_cycle

HANG = "hang"  # a scripted "reply": accept the request and never answer


@dataclass
class Reply:
    """A canned answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # no Content-Length: the client must stream to find the end

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


@dataclass
class Seen:
    """One request the API received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names


@dataclass
class Api:
    """State and behaviour of the local API; tests change it between polls."""

    records: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100
    plain: bool = False  # answer a bare JSON array, no pagination
    script: deque[Reply | str] = field(default_factory=deque)  # answers to the next requests
    pages: dict[int, Reply] = field(default_factory=dict)  # fixed answers for page numbers
    requests: list[Seen] = field(default_factory=list)
    base: str = ""
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"{self.base}/articles"

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply | str:
        if self.script:
            return self.script.popleft()
        page = int(query.get("page", "1"))
        if page in self.pages:
            return self.pages[page]
        since = query.get("updated_since")
        chosen = [r for r in self.records if since is None or _after(r, since)]
        chosen.sort(key=lambda r: str(r.get("updated_at")))
        if self.plain:
            body: Any = chosen
        else:
            start = (page - 1) * self.page_size
            more = start + self.page_size < len(chosen)
            params = {**query, "page": str(page + 1)}
            body = {
                "items": chosen[start : start + self.page_size],
                "next": f"{self.base}{path}?{urlencode(params)}" if more else None,
            }
        data = json.dumps(body).encode()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        stamps = [_when(r) for r in chosen]
        known = [s for s in stamps if s is not None]
        extra = {"ETag": etag}
        if known:
            extra["Last-Modified"] = format_datetime(max(known), usegmt=True)
        if headers.get("if-none-match") == etag:
            return Reply(304, b"", extra)
        return Reply(200, data, {"Content-Type": "application/json", **extra})


def _when(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["updated_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def _after(record: dict[str, Any], since: str) -> bool:
    when = _when(record)
    return when is None or when >= datetime.fromisoformat(since.replace("Z", "+00:00"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        api.requests.append(Seen(parts.path, query, headers))
        reply = api.answer(parts.path, query, headers)
        if isinstance(reply, str):  # HANG
            api.release.wait(10)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(reply.body), 1000):
                piece = reply.body[start : start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if reply.status != 304:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: Api

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client hanging up early (a cap, a timeout) is expected here
        super().handle_error(request, client_address)


@pytest.fixture
def api() -> Iterator[Api]:
    """A running API on an ephemeral port of 127.0.0.1."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = Api()
    server.api.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.api
    server.api.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


CONFIG = """
[site]
title = "API Desk"
base_url = "http://127.0.0.1:8080"

[source]
kind = "http"
url = "{url}"
{extra}

[feeds]
output_dir = "{output}"

[database]
url = "sqlite:///{database}"
"""


@dataclass
class Desk:
    """A deployment in a temporary folder whose source is the local API."""

    root: Path
    api: Api
    sleeps: list[float] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    sources: list[HttpSource] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "syndicator.toml"

    @property
    def output(self) -> Path:
        return self.root / "public"

    def configure(self, url: str | None = None, **source: Any) -> None:
        """Write the config; keyword arguments become `[source]` keys."""
        source.setdefault("timeout_seconds", 5)
        extra = "\n".join(f"{k} = {_toml(v)}" for k, v in source.items())
        self.config.write_text(
            CONFIG.format(
                url=url or self.api.url,
                extra=extra,
                output=self.output,
                database=self.root / "state.db",
            ),
            encoding="utf-8",
        )

    def settings(self) -> Settings:
        # The source resolves `headers_env` from the environ each test hands it.
        return load_settings(self.config, environ={}, require_secrets=False)

    def source(self, environ: dict[str, str] | None = None) -> HttpSource:
        source = HttpSource(self.settings().source, environ or {}, sleep=self.sleeps.append)
        self.sources.append(source)  # its connections are closed after the test
        return source

    def pipeline(self, environ: dict[str, str] | None = None) -> Cycle:
        """A fresh store and pipeline, as a new process would open them."""
        settings = self.settings()
        store = open_store(settings)
        self.stores.append(store)
        return make_cycle(settings, store, self.source(environ))


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)  # strings, numbers, booleans: JSON spells them as TOML does


@pytest.fixture
def desk(tmp_path: Path, api: Api) -> Iterator[Desk]:
    d = Desk(tmp_path, api)
    d.configure()
    yield d
    for source in d.sources:
        source.close()
    for store in d.stores:
        store.close()
