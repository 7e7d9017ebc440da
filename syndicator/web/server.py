"""Run the app under uvicorn with hardened settings, in this thread or a background one.

Signals: uvicorn's ``Server.serve()`` installs SIGINT/SIGTERM handlers only when
it runs in the main thread, and after a signal-triggered shutdown it re-raises
the captured signal with the original handler restored, so a default SIGTERM
disposition then kills the process (exit status -15 instead of 0). The daemon
must finish its in-flight job before exiting, so it owns the signals: servers
made here never install handlers (unless ``handle_signals=True``), and the
daemon's own SIGTERM/SIGINT handler calls :func:`request_shutdown` (which sets
``server.should_exit``). uvicorn then stops accepting, closes idle keep-alive
connections, waits up to ``timeout_graceful_shutdown`` seconds for requests in
flight, runs the lifespan shutdown and returns from ``serve()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ServerThread", "bound_port", "make_server", "request_shutdown", "run_loop"]

T = TypeVar("T")

# Defaults sized for a feed server: many small, cacheable GETs from readers.
#: Open connections; one more is answered 503 (with Retry-After) and closed, so
#: those already open keep being served. Fewer when the file limit is lower.
MAX_CONNECTIONS = 4096
#: Requests in flight past which uvicorn answers 503 instead of queueing. Above
#: MAX_CONNECTIONS: uvicorn also counts open connections against it, and an
#: idle one must never turn away a reader's request.
LIMIT_CONCURRENCY = 2 * MAX_CONNECTIONS
#: Seconds a client has to send a request's line and headers, from the
#: connection's start or the request's first byte (slow or silent clients).
HEADER_TIMEOUT = 20.0
TIMEOUT_KEEP_ALIVE = 5  # seconds an idle keep-alive connection is held
MAX_HEADER_BYTES = 16 * 1024  # request line + headers, see make_server
TIMEOUT_GRACEFUL_SHUTDOWN = 5  # keeps SIGTERM-to-exit well inside 10 s
RETRY_AFTER_SECONDS = 5  # on the 503 of a connection over MAX_CONNECTIONS
_FILES_SPARE = 256  # descriptors kept for the database, feed files and clients

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: " + str(RETRY_AFTER_SECONDS).encode() + b"\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 19\r\n"
    b"Connection: close\r\n\r\n"
    b"Service Unavailable"
)


class _NoSignalServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _HeaderTooLarge(Exception):
    """Raised inside a parser callback; httptools reports it as a parse error."""


def connection_cap() -> int:
    """MAX_CONNECTIONS, or fewer when the process may not open that many files.

    Raises the soft limit on open files towards the hard one first (often
    1,024 soft under a higher hard limit), as servers do.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: no limit to read
        return MAX_CONNECTIONS
    wanted = MAX_CONNECTIONS + _FILES_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft - _FILES_SPARE))


def _http_protocol(http: str) -> type[asyncio.Protocol] | str:
    """The HTTP protocol for uvicorn, hardened on httptools (the default).

    - A header-size limit: uvicorn enforces ``h11_max_incomplete_event_size``
      on h11 only; its httptools protocol accumulates the request line and
      headers without bound. This subclass counts them and fails the parse
      past MAX_HEADER_BYTES, which uvicorn answers with 400 and a closed
      connection.
    - A header deadline: uvicorn times out idle keep-alive connections but
      not one that never sends (or trickles) a request; this one is closed
      after HEADER_TIMEOUT.
    - A connection cap: past it, the new connection alone is turned away.
    """
    if http not in ("auto", "httptools"):
        return http
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        if http == "httptools":
            raise
        return "h11"

    cap = connection_cap()

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        header_bytes = 0
        header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap:
                transport.write(_BUSY)
                transport.close()
                return
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            self.header_bytes = 0
            self._arm()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            self._disarm()
            self.header_deadline = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

        def _disarm(self) -> None:
            if self.header_deadline is not None:
                self.header_deadline.cancel()
                self.header_deadline = None

        def _headers_too_slow(self) -> None:
            self.header_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self.header_bytes += size
            if self.header_bytes > MAX_HEADER_BYTES:
                raise _HeaderTooLarge

    return BoundedHttpToolsProtocol


def make_server(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    log_config: dict[str, Any] | None = None,
    handle_signals: bool = False,
    limit_concurrency: int = LIMIT_CONCURRENCY,
    http: str = "auto",
    loop: str = "auto",
) -> uvicorn.Server:
    """Return a uvicorn server for ``app`` on ``host:port`` (port 0 picks a free one).

    ``log_config=None`` leaves logging to the caller. ``http``/``loop`` "auto"
    use httptools/uvloop when installed (2-3x the requests/s of h11/asyncio).
    Request line plus headers are limited to MAX_HEADER_BYTES: exactly on
    httptools; on h11 the limit applies to a request still incomplete, so one
    arriving whole in a single read (asyncio reads up to 256 KiB) passes.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_http_protocol(http),
        loop=loop,
        lifespan="on",
        log_config=log_config,
        access_log=False,
        server_header=False,
        date_header=True,
        # No proxy trust by default: the app never reads the client address
        # or scheme, and the middleware would sit on the hot path.
        proxy_headers=False,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE,
        timeout_graceful_shutdown=TIMEOUT_GRACEFUL_SHUTDOWN,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ws="none",
    )
    return uvicorn.Server(config) if handle_signals else _NoSignalServer(config)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on uvloop when installed, else asyncio's own loop.

    ``asyncio.run`` always makes asyncio's loop: uvicorn picks uvloop only when
    it creates the loop itself (``Server.run``), not in ``serve()`` under a loop
    the caller made. On uvloop a cached feed's 304 costs about half the CPU.
    """
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def request_shutdown(server: uvicorn.Server) -> None:
    """Ask ``server`` to stop; safe to call from a signal handler or any thread."""
    # A plain attribute the server's main loop polls every 0.1 s.
    server.should_exit = True


def bound_port(server: uvicorn.Server) -> int:
    """The TCP port a started server listens on (useful after binding port 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server is not listening")


class ServerThread:
    """Run a uvicorn server in a daemon thread; for tests and embedding."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.port = 0
        self.exit_code: int | str | None = None
        self._thread = threading.Thread(target=self._run, name="uvicorn", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit as exc:
            # uvicorn exits this way when the lifespan start-up fails; in a thread
            # that would only end the thread, so keep the code for start() to report.
            self.exit_code = exc.code

    def start(self, timeout: float = 10.0) -> int:
        """Start serving and return the bound port once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server failed to start (exit code {self.exit_code})")
            if time.monotonic() > deadline:
                request_shutdown(self.server)
                raise TimeoutError(f"server not started within {timeout} s")
            time.sleep(0.01)
        self.port = bound_port(self.server)
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to stop and wait for its thread to end."""
        request_shutdown(self.server)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"server did not stop within {timeout} s")

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
