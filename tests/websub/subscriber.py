"""A real WebSub subscriber (and stand-in hub) on 127.0.0.1 for the tests.

A stdlib ``ThreadingHTTPServer`` in a background thread. ``GET`` is a verification
of intent: by default the challenge is echoed, and a path can be told to answer
with a wrong body or a ``404`` instead. ``POST`` is a push (or, for a stand-in hub,
a publish ping): recorded and answered with the path's next scripted status, else
``200``. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Push", "Subscriber", "Verification"]


@dataclass(frozen=True)
class Verification:
    """One verification request (``GET``) as received."""

    path: str
    params: dict[str, str]
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Push:
    """One ``POST`` as received."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        status, body = self.server.subscriber._verify(parts.path, params)
        self._answer(status, body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = self.server.subscriber._push(urlsplit(self.path).path, headers, body)
        self._answer(status, b"thanks")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    subscriber: Subscriber


class Subscriber:
    """Records verifications and pushes per path; scriptable answers."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.verifications: list[Verification] = []
        self.pushes: list[Push] = []
        self._refuse: dict[str, str] = {}  # path -> "wrong" | "404"
        self._statuses: dict[str, deque[int]] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.subscriber = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Subscriber:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    # -- scripting -----------------------------------------------------------------

    def refuse(self, path: str, how: str = "wrong") -> None:
        """Fail verifications at ``path``: ``wrong`` body (with 200) or ``404``."""
        self._refuse[path] = how

    def answer_pushes(self, path: str, *statuses: int) -> None:
        """Answer the next pushes to ``path`` with these statuses, then 200."""
        self._statuses.setdefault(path, deque()).extend(statuses)

    # -- what was received -----------------------------------------------------------

    def pushes_to(self, path: str) -> list[Push]:
        """Pushes received at ``path`` so far."""
        with self._lock:
            return [p for p in self.pushes if p.path == path]

    def verifications_of(self, path: str) -> list[Verification]:
        """Verifications received at ``path`` so far."""
        with self._lock:
            return [v for v in self.verifications if v.path == path]

    def wait(self, ready: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Wait until ``ready()`` holds; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what or ready}")
                self._lock.wait(min(left, 0.1))

    def wait_pushes(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Push]:
        """Wait for ``count`` pushes at ``path``; return them all."""
        self.wait(lambda: len(self.pushes_to(path)) >= count, timeout, f"{count} pushes to {path}")
        return self.pushes_to(path)

    def wait_verification(self, path: str, count: int = 1, timeout: float = 10.0) -> Verification:
        """Wait for the ``count``-th verification at ``path``; return it."""
        self.wait(
            lambda: len(self.verifications_of(path)) >= count,
            timeout,
            f"verification {count} at {path}",
        )
        return self.verifications_of(path)[count - 1]

    # -- called by the handler ---------------------------------------------------------

    def _verify(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        with self._lock:
            self.verifications.append(Verification(path, params, time.monotonic()))
            self._lock.notify_all()
        how = self._refuse.get(path)
        if how == "404":
            return 404, b"not mine"
        if how == "wrong":
            return 200, b"not-the-challenge"
        return 200, params.get("hub.challenge", "").encode()

    def _push(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.pushes.append(Push(path, headers, body, time.monotonic()))
            self._lock.notify_all()
            queue = self._statuses.get(path)
            return queue.popleft() if queue else 200
