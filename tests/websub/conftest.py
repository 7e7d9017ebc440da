"""Fixtures for WebSub: a real subscriber, a real daemon with the hub on, an in-process hub.

The daemon is ``python -m syndicator --config cfg run`` on a free port with a short
poll interval; it is started once per module (starting takes a second or two) and
every test uses callback paths of its own. It is stopped with SIGTERM, killed if it
does not go.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from syndicator.config import Settings
from syndicator.delivery.guard import Resolver
from syndicator.metrics import Metrics
from syndicator.models import Published
from syndicator.store.store import Store
from syndicator.web.documents import Document, DocumentSet
from syndicator.websub.service import WebSub
from tests.websub.subscriber import Subscriber

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:8080"
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def article(slug: str, topic: str = "energy", minute: int = 0) -> dict[str, Any]:
    """A valid record in ``topic``; ``minute`` orders updates."""
    stamp = f"2026-06-01T10:{minute:02d}:00+00:00"
    return {
        "slug": slug,
        "title": f"Title of {slug}",
        "summary": f"Summary of {slug}",
        "body_md": f"Body of *{slug}*.",
        "url": f"https://news.example.org/{slug}",
        "published_at": stamp,
        "updated_at": stamp,
        "lang": "en",
        "topics": [topic],
    }


@dataclass
class Live:
    """A running daemon with WebSub on, its folders, and the stand-in external hub."""

    root: Path
    config: Path
    source: Path
    port: int
    process: subprocess.Popen[bytes]
    hub_path: str
    subscriber_hub: str  # the stand-in external hub, served by the test subscriber
    _files: int = 0

    @property
    def base_url(self) -> str:
        """The daemon's public base URL (also where it listens)."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, *records: dict[str, Any]) -> None:
        """Drop a new JSONL file into the source folder, atomically."""
        self._files += 1
        name = f"batch-{self._files:03d}.jsonl"
        partial = self.source / f".{name}.partial"
        partial.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        os.replace(partial, self.source / name)

    def subscriptions(self) -> list[dict[str, Any]]:
        """What the daemon stored, read straight from its database (a CLI call takes ~1 s)."""
        store = Store(f"sqlite:///{self.root}/state.db")
        try:
            now = datetime.now(UTC)
            return [sub.public(now) for sub in store.websub.all()]
        finally:
            store.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``syndicator --config cfg ARGS`` against this deployment."""
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=self.root,
            check=False,
        )


CONFIG = """\
[site]
title = "Hub Desk"
base_url = "http://127.0.0.1:{port}"

[source]
kind = "dir"
path = "{source}"
watch = {watch}

[poll]
interval_seconds = {interval}

[feeds]
output_dir = "{root}/public"

[server]
host = "127.0.0.1"
port = {port}

[delivery]
allow_private_network = true
timeout_seconds = 3
retry_schedule = [0.2, 0.2]

[websub]
enabled = true
external_hubs = ["{standin}"]
default_lease_seconds = 60
max_lease_seconds = 120

[database]
url = "sqlite:///{root}/state.db"
"""


def _wait_ready(live: Live, deadline: float) -> None:
    while time.monotonic() < deadline:
        if live.process.poll() is not None:
            log = (live.root / "daemon.log").read_text(errors="replace")
            raise AssertionError(f"daemon exited: {log[-2000:]}")
        try:
            if httpx.get(f"{live.base_url}/feeds/energy.atom", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("daemon not ready in time")


@pytest.fixture(scope="module")
def subscriber() -> Iterator[Subscriber]:
    """A real subscriber on 127.0.0.1 (also the stand-in external hub, at /standin-hub)."""
    with Subscriber() as running:
        yield running


def subscribe(live: Live, topic: str, callback: str, **extra: str) -> httpx.Response:
    """POST a subscription request to the daemon's hub."""
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    return httpx.post(f"{live.base_url}{live.hub_path}", data=form, timeout=5)


def subscribed(live: Live, subscriber: Subscriber, topic: str, path: str, **extra: str) -> None:
    """Subscribe ``path`` and wait until the daemon has verified and stored it."""
    assert subscribe(live, topic, subscriber.url(path), **extra).status_code == 202
    subscriber.wait_verification(path)
    wait_stored(live, subscriber.url(path), present=True)


def wait_stored(live: Live, callback: str, *, present: bool) -> None:
    """Wait until the daemon stored (or removed) the subscription of ``callback``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(s["callback"] == callback for s in live.subscriptions()) == present:
            return
        time.sleep(0.02)
    raise AssertionError(f"{callback} {'never stored' if present else 'still stored'}")


@contextlib.contextmanager
def running_daemon(
    root: Path, subscriber: Subscriber, *, interval: float = 0.25, watch: bool = True
) -> Iterator[Live]:
    """The real daemon with the hub on, seeded with one article in "energy" and one
    in "ai"; stopped with SIGTERM (killed if it does not go) on the way out."""
    source = root / "articles"
    source.mkdir()
    port = _free_port()
    config = root / "syndicator.toml"
    standin = subscriber.url("/standin-hub")
    config.write_text(
        CONFIG.format(
            port=port,
            source=source,
            root=root,
            standin=standin,
            interval=interval,
            watch=str(watch).lower(),
        ),
        encoding="utf-8",
    )
    (source / "seed.jsonl").write_text(
        json.dumps(article("first", "energy")) + "\n" + json.dumps(article("robots", "ai")) + "\n",
        encoding="utf-8",
    )
    with (root / "daemon.log").open("wb") as log:  # read it when a test fails
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(config), "run"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    running = Live(root, config, source, port, process, "/websub", standin)
    try:
        _wait_ready(running, time.monotonic() + 20)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, subscriber: Subscriber) -> Iterator[Live]:
    """The real daemon with the hub on, polling four times a second."""
    with running_daemon(tmp_path_factory.mktemp("websub"), subscriber) as running:
        yield running


# -- in-process hub ---------------------------------------------------------------------


def feed_doc(topic: str = "energy", fmt: str = "atom", body: bytes = b"<feed/>") -> Published:
    """A rendered feed document as a build hands it over."""
    types = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
    return Published(f"feeds/{topic}.{fmt}", body, f"{types[fmt]}; charset=utf-8", NOW)


def make_settings(tmp_path: Path, **delivery: Any) -> Settings:
    """Settings for an in-process hub on an SQLite file under ``tmp_path``."""
    return Settings.model_validate(
        {
            "site": {"base_url": BASE},
            "websub": {"enabled": True, "default_lease_seconds": 100, "max_lease_seconds": 1000},
            "delivery": {"timeout_seconds": 2, "retry_schedule": [0.05, 0.05], **delivery},
            "database": {"url": f"sqlite:///{tmp_path}/hub.db"},
        }
    )


def make_websub(
    settings: Settings, store: Store, documents: DocumentSet, resolver: Resolver | None = None
) -> WebSub:
    """A WebSub service serving ``documents`` (every feed in ``documents`` is a topic)."""
    return WebSub(
        settings,
        store,
        documents,
        clock=lambda: datetime.now(UTC),
        metrics=Metrics(),
        resolver=resolver,
    )


def serve(documents: DocumentSet, *docs: Published) -> None:
    """Serve ``docs`` as the daemon would after a build."""
    documents.update(
        {f"/{d.path}": Document.build(d.body, d.content_type, d.last_modified) for d in docs}
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store."""
    opened = Store(f"sqlite:///{tmp_path}/hub.db")
    opened.migrate()
    yield opened
    opened.close()
