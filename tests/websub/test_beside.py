"""Builds made beside the daemon reach its WebSub subscribers.

`syndicator once` run against the daemon's database polls and builds in its
own process; the daemon serves what it built within a second and must push it
to subscribers as it pushes its own builds. The daemon here polls only at
start (an hour's interval, no folder watching), so any push after that comes
from the `once` build.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.websub.conftest import Live, article, running_daemon, subscribed
from tests.websub.subscriber import Subscriber

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory, subscriber: Subscriber) -> Iterator[Live]:
    """A daemon that does not poll again by itself."""
    root = tmp_path_factory.mktemp("beside")
    with running_daemon(root, subscriber, interval=3600, watch=False) as running:
        yield running


def test_a_once_beside_the_daemon_is_pushed_to_topic_and_entity_subscribers(
    idle: Live, subscriber: Subscriber
) -> None:
    first = article("beside-one", "energy", minute=40)
    first["entities"] = ["Beside Corp"]
    idle.add(first)
    assert idle.cli("once").returncode == 0
    topic = f"{idle.base_url}/feeds/energy.atom"
    entity = f"{idle.base_url}/feeds/entities/beside-corp.atom"
    # Subscribed once the daemon serves that build: its push is not this test's.
    deadline = time.monotonic() + 10
    while b"beside-one" not in httpx.get(topic).content and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(entity).status_code == 200
    subscribed(idle, subscriber, topic, "/beside-topic")
    subscribed(idle, subscriber, entity, "/beside-entity")
    assert subscriber.pushes_to("/beside-topic") == []

    second = article("beside-two", "energy", minute=41)
    second["entities"] = ["Beside Corp"]
    idle.add(second)
    done = idle.cli("once")
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout

    for path in ("/beside-topic", "/beside-entity"):
        subscriber.wait(
            lambda path=path: any(  # type: ignore[misc]
                b"news.example.org/beside-two" in p.body for p in subscriber.pushes_to(path)
            ),
            10.0,
            f"a push to {path} of the feed with the article `once` added",
        )
    # Each change is pushed once, not again by later refreshes.
    time.sleep(1.5)
    assert len(subscriber.pushes_to("/beside-topic")) == 1
    assert len(subscriber.pushes_to("/beside-entity")) == 1
