"""The asyncio network backend under the sender: streams, errors, TLS, corked writes."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpcore
import pytest

from syndicator.core.retry import AttemptOutcome
from syndicator.core.signing import decode_secret
from syndicator.delivery.netio import AsyncioBackend
from syndicator.delivery.sender import EndpointTarget, Sender
from tests.delivery.receiver import Receiver

T = TypeVar("T")
REQUEST = b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_response(stream: httpcore.AsyncNetworkStream) -> bytes:
    data = b""
    while b"\r\n\r\nok" not in data:
        chunk = await stream.read(65536, timeout=5)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def test_request_and_response_over_a_kept_alive_connection(receiver: Receiver) -> None:
    async def go() -> None:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", receiver.port, timeout=5)
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", receiver.port)
        for _ in range(2):
            await stream.write(REQUEST, timeout=5)
            await stream.write(b"{}", timeout=5)
            assert (await read_response(stream)).startswith(b"HTTP/1.1 200")
        assert stream.get_extra_info("is_readable") is False  # idle and open
        await stream.aclose()

    run(go())
    assert [r.body for r in receiver.requests] == [b"{}", b"{}"]
    assert len({r.client_port for r in receiver.requests}) == 1


def test_head_and_body_leave_in_one_segment() -> None:
    # A server that reads once: with two sends the body would often arrive apart.
    async def go() -> bytes:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0.05)  # let everything the client sent arrive
            got.set_result(await reader.read(65536))
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(REQUEST, timeout=5)
        await stream.write(b"{}", timeout=5)
        assert await stream.read(10, timeout=5) == b""  # flushes, then the server hangs up
        data = await asyncio.wait_for(got, 5)
        assert stream.get_extra_info("is_readable") is True  # closed by the server
        await stream.aclose()
        server.close()
        await server.wait_closed()
        return data

    assert run(go()) == REQUEST + b"{}"


def test_errors_are_httpcore_errors_with_the_os_error_as_cause() -> None:
    async def refused() -> None:
        await AsyncioBackend().connect_tcp("127.0.0.1", closed_port(), timeout=5)

    with pytest.raises(httpcore.ConnectError) as caught:
        run(refused())
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    async def silent() -> None:
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.wait_for(done.wait(), 5)
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        try:
            await stream.write(REQUEST, timeout=5)
            started = time.monotonic()
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(100, timeout=0.2)
            assert time.monotonic() - started < 2
        finally:
            await stream.aclose()
            done.set()
            server.close()
            await asyncio.sleep(0.05)  # let the handler close its side

    run(silent())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` (key, cert), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


def test_https_through_the_sender_verifies_the_host_name(
    certificate: tuple[Path, Path], secret: str
) -> None:
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async def go() -> list[Any]:
        seen: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            seen.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        results = []
        async with Sender(resolver=resolve, ssl_context=client_context) as sender:
            for host in ("localhost", "127.0.0.1"):  # the certificate names only localhost
                target = EndpointTarget(
                    name=host,
                    url=f"https://{host}:{port}/hook",
                    secrets=(decode_secret(secret),),
                    allow_private_network=True,
                    timeout_seconds=5,
                )
                results.append(await sender.send(target, "msg_1", b"{}", timestamp=1))
        server.close()
        assert seen == [b"{}"]
        return results

    good, wrong_name = run(go())
    assert good.outcome is AttemptOutcome.DELIVERED and good.status_code == 204
    assert wrong_name.outcome is AttemptOutcome.RETRY
    assert wrong_name.error is not None and "connect error" in wrong_name.error
