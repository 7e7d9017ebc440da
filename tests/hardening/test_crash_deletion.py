"""kill -9 while a daemon applies tombstones: nothing lost, no `article.deleted` twice.

A site imports its articles and delivers their events; then a file of
tombstones arrives and the daemon is killed at random instants (from
``random.Random(seed)``) while it polls, builds and delivers. After a last,
clean run every tombstoned article is deleted, announced by exactly one
`article.deleted` event under one `webhook-id` (re-sends share it), gone from
the feeds, and the newest 50 (`feeds.max_entries`) listed as deleted in the
Atom feed of `all`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicator.core.article import entry_id
from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver, Reply
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed
from tests.hardening.harness import daemons, integrity_check, make_site, wait_for
from tests.hardening.harness import webhook_config as hook_table
from tests.hardening.test_crash import _kill_when

ARTICLES = 1200
DELETED = 500
KILLS = 4
TOPICS = ("energy", "space", "ai")
# Near the real clock, so the Atom feeds still list the deletions.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
_TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"


def _record(index: int) -> dict[str, Any]:
    stamp = (START + timedelta(seconds=index)).isoformat()
    return {
        "slug": f"s{index}",
        "title": f"Article {index}",
        "body_md": f"Body of **{index}**.",
        "url": f"https://news.example.org/s{index}",
        "published_at": stamp,
        "updated_at": stamp,
        "topics": [TOPICS[index % len(TOPICS)]],
    }


def _settled(site: Any, deleted: int) -> bool | None:
    [(gone,)] = site.query("SELECT count(*) FROM articles WHERE deleted_at IS NOT NULL")
    [(open_,)] = site.query("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed')")
    return True if gone == deleted and open_ == 0 else None


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [11, 22], ids=lambda seed: f"seed{seed}")
def test_kill_9_during_deletions_loses_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    secret = generate_secret()
    with Receiver(default=Reply(delay=rng.choice([0.0, 0.01]))) as receiver:
        site = make_site(
            tmp_path / "site",
            extra=hook_table(
                "crash",
                receiver.url_for("/hook"),
                secret,
                events=["article.created", "article.updated", "article.deleted"],
            ),
        )
        site.write_records("a.jsonl", [_record(i) for i in range(ARTICLES)])
        doomed = sorted(rng.sample(range(ARTICLES), DELETED))
        with daemons() as start:
            daemon = start(site)
            wait_for(lambda: _settled(site, 0), 90.0, "the import to be delivered")
            assert daemon.terminate() == 0
            when = START + timedelta(hours=1)
            site.write_records(
                "b.jsonl",
                [
                    {"slug": f"s{i}", "deleted": True, "updated_at": when.isoformat()}
                    for i in doomed
                ],
            )
            kills = []
            for number in range(KILLS):
                daemon = start(site, ready=False)
                pause = rng.uniform(0.3, 2.5)
                _kill_when(daemon, lambda: False, pause)
                kills.append(f"#{number} at {pause:.3f} s")
                result = integrity_check(site.database)
                assert result in ("ok", "absent"), f"integrity_check: {result} ({kills})"
            daemon = start(site)
            wait_for(lambda: _settled(site, DELETED), 90.0, f"deletions to settle ({kills})")
            assert daemon.terminate() == 0

    # The outbox: one article.deleted event per doomed slug, none for the others.
    rows = site.query(
        "SELECT slug, count(*) FROM events WHERE type = 'article.deleted' GROUP BY slug"
    )
    assert dict(rows) == {f"s{i}": 1 for i in doomed}, kills
    # The receiver: each deletion under one webhook-id, every signature valid.
    ids: dict[str, set[str]] = defaultdict(set)
    for request in receiver.requests:
        if len(request.body) != int(request.headers.get("content-length", -1)):
            continue  # cut short by a kill: never acknowledged, so sent again
        body = request.verify(secret)
        if body["type"] == "article.deleted":
            ids[body["data"]["slug"]].add(request.headers["webhook-id"])
    assert set(ids) == {f"s{i}" for i in doomed}, kills
    assert all(len(v) == 1 for v in ids.values()), kills
    # The feeds: the deleted articles are gone, and listed as deleted in Atom.
    feeds = site.output / "feeds"
    doc = assert_valid_json_feed((feeds / "all.json").read_bytes())
    gone = {entry_id(f"s{i}") for i in doomed}
    assert not gone & {item["id"] for item in doc["items"]}
    root = assert_valid_atom((feeds / "all.atom").read_bytes())
    listed = {e.get("ref") for e in root.iter(f"{{{_TOMBSTONES_NS}}}deleted-entry")}
    # At most feeds.max_entries (50) of them, the newest: all were deleted at
    # one time, so the first by slug.
    assert listed == {entry_id(slug) for slug in sorted(f"s{i}" for i in doomed)[:50]}
    report = json.loads(site.cli("status", "--json").stdout)
    assert report["articles"] == ARTICLES - DELETED
