"""A real, scriptable webhook receiver on 127.0.0.1 for delivery tests.

It runs the stdlib ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) in a background
thread, records every request, and answers from a script::

    with Receiver() as receiver:
        receiver.respond_with(Reply(status=500), Reply(status=200))
        ...  # deliver to receiver.url_for("/hook")
        [first, second] = receiver.wait_for(2)
        assert receiver.max_in_flight <= 4

Replies queued for a path win over replies queued for any path; when both queues are
empty the ``default`` reply (``200 ok``) is used. Since it is a thread, it serves
asyncio code in the test's own loop; ``await asyncio.to_thread(receiver.wait_for, n)``
waits without blocking that loop.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook

__all__ = ["ReceivedRequest", "Receiver", "Reply"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before the status line is sent
    body_size: int | None = None  # stream this many filler bytes instead of `body`
    drip_interval: float | None = None  # send the body `drip_bytes` at a time, this often
    drip_bytes: int = 1


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float  # time.monotonic()
    client_port: int  # the same port on two requests means a reused keep-alive connection

    def verify(self, secret: str) -> Any:
        """Check the signature with the reference ``standardwebhooks`` package; return the JSON."""
        return Webhook(secret).verify(self.body, self.headers)


class _Server(ThreadingHTTPServer):
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer (timeouts, bounded reads) are the point of
        # several tests; don't print their tracebacks.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    # The status line and headers go out in one write and the body in another; with
    # Nagle's algorithm on, the body waits for the client's delayed ACK (40 ms on
    # Linux), which capped a 4-connection endpoint at ≈87 requests/s. Real servers
    # set TCP_NODELAY too.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _handle(self) -> None:
        receiver = self.server.receiver
        body = self._read_body()
        if body is None:
            # The client went away mid-body (a killed sender): like a real server,
            # do not act on half a request.
            self.close_connection = True
            return
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
            client_port=int(self.client_address[1]),
        )
        reply = receiver._record(request)
        if reply.delay and receiver._stopping.wait(reply.delay):
            receiver._done()
            self.close_connection = True
            return
        # Out of flight once the answer starts: the client may send its next
        # request as soon as the last byte lands, before this thread runs again.
        receiver._done()
        self._answer(reply, receiver._stopping)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

    def _read_body(self) -> bytes | None:
        """The request body, or None when the connection ended before all of it."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def _answer(self, reply: Reply, stopping: threading.Event) -> None:
        size = reply.body_size if reply.body_size is not None else len(reply.body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            if reply.body_size is not None:
                self._stream_filler(reply.body_size, stopping)
            elif reply.drip_interval is not None:
                self._drip(reply.body, reply.drip_interval, reply.drip_bytes, stopping)
            else:
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True  # the client went away mid-body

    def _stream_filler(self, size: int, stopping: threading.Event) -> None:
        block = b"x" * _CHUNK
        sent = 0
        while sent < size and not stopping.is_set():
            piece = block[: size - sent]
            self.wfile.write(piece)
            sent += len(piece)
        if sent < size:
            self.close_connection = True

    def _drip(self, body: bytes, interval: float, step: int, stopping: threading.Event) -> None:
        for start in range(0, len(body), step):
            self.wfile.write(body[start : start + step])
            self.wfile.flush()
            if stopping.wait(interval):
                self.close_connection = True
                return


class Receiver:
    """A scripted HTTP receiver on 127.0.0.1 that records every request."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, default: Reply | None = None):
        self.default = default or Reply()
        self._address = (host, port)
        self._lock = threading.Condition()
        self._requests: list[ReceivedRequest] = []
        self._queue: deque[Reply] = deque()
        self._path_queues: dict[str, deque[Reply]] = {}
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Receiver:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("receiver already started")
        self._stopping.clear()
        server = _Server(self._address, _Handler)
        server.receiver = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and wake delayed handlers."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("receiver not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str = "/hook") -> str:
        """Absolute URL of ``path`` on this receiver."""
        return self.url + path

    # -- script ----------------------------------------------------------------------

    def respond_with(self, *replies: Reply, path: str | None = None) -> None:
        """Queue replies, used in order (for ``path`` only, if given)."""
        with self._lock:
            if path is None:
                self._queue.extend(replies)
            else:
                self._path_queues.setdefault(path, deque()).extend(replies)

    # -- observations ----------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        """Requests being answered right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests ever answered at the same time."""
        with self._lock:
            return self._max_in_flight

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests arrived; raise ``TimeoutError`` otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests after {timeout} s")
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests, queued replies and the in-flight maximum."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._path_queues.clear()
            self._max_in_flight = self._in_flight

    # -- called from handler threads ---------------------------------------------------

    def _record(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._lock.notify_all()
            path_queue = self._path_queues.get(request.path.split("?")[0])
            if path_queue:
                return path_queue.popleft()
            if self._queue:
                return self._queue.popleft()
            return self.default

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
