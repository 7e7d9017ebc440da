"""docs/webhooks.md: the receiver example runs and verifies real signed deliveries."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from syndicator.core.events import event_payload
from syndicator.core.records import parse_record
from syndicator.core.signing import decode_secret, generate_secret, new_message_id, webhook_headers
from syndicator.models import ChangeKind
from tests.docs.helpers import DOCS, ROOT, code_blocks

WEBHOOKS = DOCS / "webhooks.md"
SEED = ROOT / "seeds" / "000_e0a2023c70849939.json"


def _block(language: str, first_line: str) -> str:
    blocks = code_blocks(WEBHOOKS.read_text(encoding="utf-8"), language)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"expected one {language} block starting with {first_line!r}"
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


class _Running:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[_Running, str, str]]:
    """The documented receiver, run as a script with a fresh secret."""
    script = tmp_path / "receiver.py"
    script.write_text(_block("python", "# receiver.py"), encoding="utf-8")
    secret, old_secret = generate_secret(), generate_secret()
    port = _free_port()
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.05)
        yield _Running(process, port), secret, old_secret
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def _delivery(secrets: list[str]) -> tuple[bytes, dict[str, str]]:
    """A delivery exactly as the sender builds it: seed article, orjson body, signed headers."""
    article = parse_record(json.loads(SEED.read_text(encoding="utf-8")))
    body = orjson.dumps(event_payload(ChangeKind.CREATED, article, "http://127.0.0.1:8080"))
    keys = [decode_secret(s) for s in secrets]
    return body, webhook_headers(keys, new_message_id(), int(time.time()), body)


def test_documented_receiver_verifies_and_deduplicates(
    receiver: tuple[_Running, str, str],
) -> None:
    running, secret, old_secret = receiver
    body, headers = _delivery([secret])
    assert _post(running.port, body, headers) == 204
    # The same delivery again (a retry): accepted, not handled twice.
    assert _post(running.port, body, headers) == 204
    # A rotation: the new secret first, the old one after; still verified.
    rotated_body, rotated = _delivery([secret, old_secret])
    assert " " in rotated["webhook-signature"]
    assert _post(running.port, rotated_body, rotated) == 204
    # Tampered body, wrong secret, missing headers: refused with a 400 (not retried).
    assert _post(running.port, body.replace(b"Panasonic", b"Panasonix"), headers) == 400
    wrong_body, wrong = _delivery([old_secret])
    assert _post(running.port, wrong_body, wrong) == 400
    assert _post(running.port, body, {"content-type": "application/json"}) == 400

    running.process.terminate()
    out, _ = running.process.communicate(timeout=10)
    slug = json.loads(body)["data"]["slug"]
    assert out.splitlines() == [f"article.created {slug}", f"article.created {slug}"]


def test_documented_payload_example_has_the_real_shape() -> None:
    examples = [
        json.loads(b)
        for b in code_blocks(WEBHOOKS.read_text(encoding="utf-8"), "json")
        if '"article.updated"' in b
    ]
    assert examples, "the payload example is missing"
    article = parse_record(json.loads(SEED.read_text(encoding="utf-8")))
    real = event_payload(ChangeKind.UPDATED, article, "http://127.0.0.1:8080")
    for example in examples:
        assert list(example) == list(real)
        assert list(example["data"]) == list(real["data"])
        assert list(example["data"]["feeds"][example["data"]["topics"][0]]) == [
            "rss",
            "atom",
            "json",
        ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_documented_node_receiver_parses(tmp_path: Path) -> None:
    script = tmp_path / "receiver.mjs"
    script.write_text(_block("js", "// receiver.mjs"), encoding="utf-8")
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
