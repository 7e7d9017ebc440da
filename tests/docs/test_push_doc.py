"""docs/push.md: the ping examples, run as written, are accepted by the real route."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.core.signing import decode_secret, generate_secret
from syndicator.web.ping import PING_PATH, make_ping_route
from tests.docs.helpers import DOCS, code_blocks
from tests.web.conftest import serve

PUSH = DOCS / "push.md"


def _block(language: str, marker: str) -> str:
    found = [b for b in code_blocks(PUSH.read_text(encoding="utf-8"), language) if marker in b]
    assert len(found) == 1, f"expected one {language} block containing {marker!r}"
    return found[0]


class Pinged:
    """A served app with the ping route; counts the polls it was asked for."""

    def __init__(self) -> None:
        self.secret = generate_secret()
        self.count = 0
        self.event = threading.Event()
        self.url = ""

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def env(self, secret: str | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "SYNDICATOR_PING_SECRET": secret or self.secret,
            "SYNDICATOR_PING_URL": self.url,
        }


@pytest.fixture
def pinged() -> Iterator[Pinged]:
    target = Pinged()
    route = make_ping_route(decode_secret(target.secret), target)
    with serve(extra_routes={PING_PATH: route}) as served:
        target.url = served.base_url + PING_PATH
        yield target


def test_the_python_example_is_accepted(pinged: Pinged, tmp_path: Path) -> None:
    script = tmp_path / "ping.py"
    script.write_text(_block("python", "Webhook(secret).sign"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], env=pinged.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("202 ")
    assert pinged.event.wait(10)
    wrong = subprocess.run(
        [sys.executable, str(script)],
        env=pinged.env(generate_secret()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode != 0
    assert wrong.stdout.startswith("401 ")
    assert pinged.count == 1


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "openssl", "xxd", "curl", "base64")),
    reason="needs bash, openssl, xxd, curl and base64",
)
def test_the_shell_example_is_accepted(pinged: Pinged) -> None:
    script = _block("sh", "openssl dgst")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=pinged.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"accepted"' in done.stdout
    assert pinged.event.wait(10)
    assert pinged.count == 1
