"""The delivery worker against a real receiver: every delivery sent, recorded, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syndicator.config import Settings, load_settings
from syndicator.delivery.worker import DeliveryWorker
from syndicator.errors import StoreError
from syndicator.store import Outbox, Store
from syndicator.wiring import utc_now
from tests.delivery.receiver import Receiver, Reply
from tests.delivery.rows import add_deliveries

CONFIG = """
[site]
title = "Worker test"
base_url = "http://127.0.0.1:8080"

[source]
kind = "dir"
path = "{root}/source"

[feeds]
output_dir = "{root}/public"

[database]
url = "sqlite:///{root}/state.db"

[delivery]
max_concurrency = 3
per_endpoint_concurrency = 2
retry_schedule = [0.05, 0.05]

[[webhooks]]
name = "a"
url = "{url_a}"
secret = "{secret}"
allow_private_network = true

[[webhooks]]
name = "b"
url = "{url_b}"
secret = "{secret}"
allow_private_network = true
"""


def setup(tmp_path: Path, receiver: Receiver, secret: str) -> tuple[Settings, Outbox]:
    (tmp_path / "source").mkdir()
    config = tmp_path / "syndicator.toml"
    config.write_text(
        CONFIG.format(
            root=tmp_path, url_a=receiver.url_for("/a"), url_b=receiver.url_for("/b"), secret=secret
        )
    )
    settings = load_settings(config, environ={})
    store = Store(settings.database.url)
    store.migrate()
    return settings, store.outbox


def test_drain_delivers_each_once_and_retries_through_the_same_loop(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    settings, outbox = setup(tmp_path, receiver, secret)
    add_deliveries(outbox, ["a", "b"], 30)
    # A little delay per answer, so that attempts overlap; the first answer fails, so
    # one delivery is retried.
    receiver.default = Reply(delay=0.005)
    receiver.respond_with(Reply(500))
    worker = DeliveryWorker(settings, outbox, owner="test", clock=utc_now)

    async def go() -> int:
        try:
            return await worker.drain(30)
        finally:
            await worker.aclose()

    attempted = asyncio.run(go())
    assert attempted == 61
    assert outbox.counts() == {"pending": 0, "delivered": 60, "failed": 0, "dead": 0}
    requests = receiver.requests
    ids = Counter(r.headers["webhook-id"] for r in requests)
    assert len(ids) == 60 and sorted(ids.values()) == [1] * 59 + [2]
    for request in requests:
        request.verify(secret)
    # (The concurrency limits themselves are the sender's: see test_sender.py. The
    # receiver's own in-flight count races with the client here, so it is not used.)
    outbox.db.close()


def test_run_delivers_what_is_committed_and_records_it_on_stop(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    settings, outbox = setup(tmp_path, receiver, secret)
    worker = DeliveryWorker(settings, outbox, owner="test", clock=utc_now)

    async def go() -> None:
        running = asyncio.create_task(worker.run())
        for batch in range(3):
            await asyncio.to_thread(add_deliveries, outbox, ["a", "b"], 5, utc_now())
            worker.wake()
            await asyncio.to_thread(receiver.wait_for, 10 * (batch + 1), 10.0)
        worker.stop()
        await asyncio.wait_for(running, 10)
        await worker.aclose()

    asyncio.run(go())
    assert outbox.counts()["delivered"] == 30
    assert outbox.queue_depth() == 0
    assert {s["name"]: s["consecutive_failures"] for s in outbox.endpoint_states(["a", "b"])} == {
        "a": 0,
        "b": 0,
    }
    outbox.db.close()


def test_run_survives_a_database_outage(
    tmp_path: Path, receiver: Receiver, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the database cannot be reached (a restart, a failover), every
    store call fails; once it answers again, what was committed goes out."""
    settings, outbox = setup(tmp_path, receiver, secret)
    worker = DeliveryWorker(settings, outbox, owner="test", clock=utc_now)
    down = True

    def unreachable(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if down:
                raise StoreError("database write failed: connection refused")
            return real(*args, **kwargs)

        return call

    for name in ("record_and_claim", "next_due", "queue_depth"):
        monkeypatch.setattr(outbox, name, unreachable(getattr(outbox, name)))

    async def go() -> None:
        nonlocal down
        running = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)  # several failed cycles
        assert not running.done()
        down = False
        await asyncio.to_thread(add_deliveries, outbox, ["a", "b"], 3, utc_now())
        worker.wake()
        await asyncio.to_thread(receiver.wait_for, 6, 10.0)
        worker.stop()
        await asyncio.wait_for(running, 10)
        await worker.aclose()

    asyncio.run(go())
    assert outbox.counts()["delivered"] == 6
    outbox.db.close()
