"""make_server and ServerThread: start, stop, lifespan failures, signal ownership."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from syndicator.web import DocumentSet, ServerThread, create_app, make_server, request_shutdown
from syndicator.web import server as server_module
from syndicator.web.server import run_loop


def _health() -> tuple[bool, dict[str, object]]:
    return True, {}


def test_default_server_leaves_signals_to_the_owner() -> None:
    app = create_app(DocumentSet(), health=_health)
    server = make_server(app, "127.0.0.1", 0)
    assert type(server) is not uvicorn.Server
    assert type(make_server(app, "127.0.0.1", 0, handle_signals=True)) is uvicorn.Server
    config = server.config
    assert config.timeout_keep_alive == 5
    assert config.server_header is False
    assert config.access_log is False
    assert config.limit_concurrency is not None


def test_request_shutdown_stops_promptly() -> None:
    thread = ServerThread(make_server(create_app(DocumentSet(), health=_health), "127.0.0.1", 0))
    port = thread.start()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    started = time.monotonic()
    request_shutdown(thread.server)
    thread.stop(timeout=10)
    assert time.monotonic() - started < 5


def test_failing_lifespan_stops_the_server(caplog: pytest.LogCaptureFixture) -> None:
    @contextlib.asynccontextmanager
    async def failing(app: object) -> AsyncIterator[None]:
        raise RuntimeError("scheduler would not start")
        yield  # pragma: no cover

    app = create_app(DocumentSet(), health=_health, lifespan=failing)
    thread = ServerThread(make_server(app, "127.0.0.1", 0))
    with pytest.raises(RuntimeError, match="failed to start"):
        thread.start()
    assert "start-up failed" in caplog.text


def test_lifespan_state_reaches_requests() -> None:
    seen: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[dict[str, object]]:
        yield {"scheduler": "running"}

    async def probe(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = create_app(
        DocumentSet(), health=_health, lifespan=lifespan, extra_routes={"/probe": probe}
    )
    with ServerThread(make_server(app, "127.0.0.1", 0)) as running:
        assert httpx.get(f"http://127.0.0.1:{running.port}/probe", timeout=5).status_code == 204
    assert seen == {"scheduler": "running"}


def test_run_loop_runs_on_uvloop() -> None:
    # The daemon serves under run_loop: asyncio.run would give asyncio's own
    # loop whatever uvicorn's loop="auto" says, and about half the 304 rate.
    async def loop_module() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__

    assert run_loop(loop_module()).startswith("uvloop")


def _read_all(sock: socket.socket, limit: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(limit)
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_connection_that_sends_no_request_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "HEADER_TIMEOUT", 0.5)
    app = create_app(DocumentSet(), health=_health)
    with ServerThread(make_server(app, "127.0.0.1", 0)) as thread:
        with (
            socket.create_connection(("127.0.0.1", thread.port)) as silent,
            socket.create_connection(("127.0.0.1", thread.port)) as trickling,
        ):
            trickling.sendall(b"GET /healthz HTTP/1.1\r\n")
            started = time.monotonic()
            assert _read_all(silent) == b""
            assert _read_all(trickling) == b""
            assert time.monotonic() - started < 3
        # A request sent in time is answered, and its keep-alive connection
        # is held by the keep-alive timeout alone.
        with httpx.Client(base_url=f"http://127.0.0.1:{thread.port}") as client:
            assert client.get("/healthz").status_code == 200
            time.sleep(1.0)
            assert client.get("/healthz").status_code == 200


def test_connections_past_the_cap_are_turned_away_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 20)
    app = create_app(DocumentSet(), health=_health)
    with ServerThread(make_server(app, "127.0.0.1", 0)) as thread:
        with httpx.Client(base_url=f"http://127.0.0.1:{thread.port}") as client:
            assert client.get("/healthz").status_code == 200  # one connection, kept alive
            idle = [socket.create_connection(("127.0.0.1", thread.port)) for _ in range(19)]
            try:
                time.sleep(0.2)
                with socket.create_connection(("127.0.0.1", thread.port)) as extra:
                    answer = _read_all(extra)
                assert answer.startswith(b"HTTP/1.1 503 ")
                assert b"\r\nRetry-After: 5\r\n" in answer
                # The reader already connected is still served.
                assert client.get("/healthz").status_code == 200
            finally:
                for sock in idle:
                    sock.close()
            time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{thread.port}/healthz").status_code == 200


def test_the_cap_follows_the_open_files_limit() -> None:
    resource = pytest.importorskip("resource")
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = server_module.connection_cap()
    after, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert after >= soft
    assert 1 <= cap <= server_module.MAX_CONNECTIONS
    if after != resource.RLIM_INFINITY:
        assert cap <= after - server_module._FILES_SPARE or cap == 1
