"""An httpcore network backend straight on asyncio transports, for the webhook sender.

httpcore's default backend goes through anyio, which on every request builds cancel
scopes, pauses and resumes reading (two ``epoll_ctl`` calls), and answers the pool's
"is this idle connection still open?" question with ``getpeername`` and ``poll``
system calls. At a hundred endpoints that overhead, not the network, bounded the
delivery rate. Here the event loop reads into a buffer all along, so that question
is answered from the buffer, and the request head and body, which httpcore writes
separately, leave in one ``send``.

Only what the sender needs: TCP, optional TLS, httpcore's exception types (with the
``OSError`` as the cause, which the sender reports).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

__all__ = ["AsyncioBackend"]

# Stop reading from the socket above this many unread bytes (a huge response body
# that the sender only reads the start of), and resume below a quarter of it.
_READ_HIGH_WATER = 256 * 1024
# Writes are held until the next read (httpcore always reads after writing a
# request) or until this many bytes are pending.
_CORK_LIMIT = 64 * 1024


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    # -- asyncio callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports (the daemon's
        # loop) implement the interface without subclassing asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close our side too: HTTP/1.1 has nothing to say after EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._writing_paused = False
        self._wake_drain()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_drain()

    # -- for the stream ---------------------------------------------------------------

    async def wait_readable(self) -> None:
        """Until data, EOF or an error is there to report."""
        while not self.buffer and not self.eof:
            waiter = asyncio.get_running_loop().create_future()
            self._read_waiter = waiter
            try:
                await waiter
            finally:
                self._read_waiter = None

    async def drain(self) -> None:
        """Until the transport's write buffer is below its high-water mark."""
        while self._writing_paused and self.error is None:
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiter = waiter
            try:
                await waiter
            finally:
                self._drain_waiter = None

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    def _wake_drain(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)


class _Stream(httpcore.AsyncNetworkStream):
    """One connection: an asyncio transport and its buffering protocol."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pending: list[bytes] = []
        self._pending_size = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore's interface
        """Up to `max_bytes` received bytes; ``b""`` at end of stream."""
        protocol = self._protocol
        if self._pending:
            # A server may answer and close before taking the whole request (a 413,
            # say); like httpcore with a failed write, read the answer regardless.
            await self._flush(timeout, tolerate_closed=True)
        if not protocol.buffer and not protocol.eof:
            try:
                async with asyncio.timeout(timeout):
                    await protocol.wait_readable()
            except TimeoutError as exc:
                raise httpcore.ReadTimeout("timed out reading") from exc
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) < _READ_HIGH_WATER // 4:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or "connection lost") from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore's interface
        """Queue `buffer`; it is sent with the next read, or now if much is pending."""
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("connection closed") from self._protocol.error
        self._pending.append(buffer)
        self._pending_size += len(buffer)
        if self._pending_size >= _CORK_LIMIT:
            await self._flush(timeout, tolerate_closed=False)

    async def _flush(self, limit: float | None, *, tolerate_closed: bool) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        protocol = self._protocol
        if self._transport.is_closing():
            if tolerate_closed:
                return
            raise httpcore.WriteError("connection closed") from protocol.error
        self._transport.write(data)
        try:
            async with asyncio.timeout(limit):
                await protocol.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("timed out writing") from exc
        if protocol.error is not None and not tolerate_closed:
            raise httpcore.WriteError(str(protocol.error) or "connection lost") from protocol.error

    async def aclose(self) -> None:
        """Close the connection (unsent queued bytes are dropped)."""
        self._pending.clear()
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS in place; returns the stream to use from now on."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # only when the loop was closed under us
            raise httpcore.ConnectError("TLS handshake failed")
        self._protocol.transport = transport
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore and the destination guard ask about the connection."""
        if info == "is_readable":
            # An idle keep-alive connection with something to read has been closed
            # (or broken) by the server: the pool must not reuse it.
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections as asyncio transports (see the module docstring for why)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to `host` (an IP literal when called by the guard) on `port`."""
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if socket_options:
            sock = transport.get_extra_info("socket")
            for option in socket_options:
                sock.setsockopt(*option)
        return _Stream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Not supported: webhooks go over TCP."""
        raise httpcore.ConnectError("unix sockets are not supported")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(seconds)
