"""kill -9 at random instants: nothing lost, nothing announced twice, files always whole.

Each test id carries its seed (``seed101`` ...): the instants, the phases aimed
at, the receiver's delay and the edits made between restarts all come from
``random.Random(seed)``, so a failure reproduces with the same id. The phase a
kill aims at is reached by watching the daemon: "import" kills soon after a
start with new records waiting, "build" kills right after a poll committed
(the feed writes follow it), "deliver" kills once the receiver has seen a
random number of requests. Between restarts the source sometimes grows (new
files, appended lines, edits that change titles and topics).

After every kill: the SQLite file (a copy, with its WAL) passes
``PRAGMA integrity_check`` and every feed file present parses. After the last,
clean run: every article in the source was announced as ``article.created``
under exactly one ``webhook-id`` (re-sends share it), every signature
verifies, the last version of every article was announced, each feed is valid
and holds exactly the newest articles of its topic, no temporary file is left,
and the database holds one ``article.created`` event per slug.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndicator.core.signing import generate_secret
from syndicator.render.common import entry_id
from tests.delivery.receiver import ReceivedRequest, Receiver, Reply
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss
from tests.hardening.harness import Daemon, Site, daemons, integrity_check, make_site, wait_for
from tests.hardening.harness import webhook_config as hook_table

TOPICS = ("energy", "space", "ai", "health", "climate", "sport")
FILES = 5
PER_FILE = 400  # 2,000 articles to begin with
KILLS = 6  # per test; four seeds give 24 kill points
MAX_ENTRIES = 50
BASE_TIME = datetime(2026, 6, 1, tzinfo=UTC)
FINAL_TIMEOUT = 90.0

_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class Source:
    """What the test wrote into the source folder, i.e. what the final state must show."""

    site: Site
    rng: random.Random
    clock: int = 0  # seconds after BASE_TIME of the newest updated_at handed out
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: int = 0

    def _stamp(self) -> str:
        # Strictly increasing updated_at: feed order (updated_at desc) is unambiguous.
        self.clock += 1
        return (BASE_TIME + timedelta(seconds=self.clock)).isoformat()

    def _record(self, slug: str, title: str) -> dict[str, Any]:
        record = {
            "slug": slug,
            "title": title,
            "summary": f"Summary of {slug}",
            "body_md": f"Body of **{slug}** with [a link](https://example.org/{slug}).",
            "url": f"https://news.example.org/{slug}",
            "published_at": BASE_TIME.isoformat(),
            "updated_at": self._stamp(),
            "lang": "en",
            "topics": self.rng.sample(TOPICS, self.rng.randint(1, 2)),
        }
        self.articles[slug] = record
        return record

    def initial(self) -> None:
        for f in range(FILES):
            records = [self._record(f"a{f}-{i}", f"Article {f}-{i}") for i in range(PER_FILE)]
            self.site.write_records(f"a{f}.jsonl", records)

    def grow(self) -> str:
        """New articles and edits of old ones, as a new file or lines appended to one."""
        self.files += 1
        tag = f"n{self.files}"
        fresh = [
            self._record(f"{tag}-{i}", f"New {tag}-{i}") for i in range(self.rng.randint(20, 120))
        ]
        old = [s for s in self.articles if s not in {r["slug"] for r in fresh}]
        edits = []
        for slug in self.rng.sample(old, self.rng.randint(5, 40)):
            edits.append(self._record(slug, f"Edited {tag} {slug}"))
        lines = fresh + edits
        if self.rng.random() < 0.5:
            self.site.write_records(f"{tag}.jsonl", lines)
            return f"new file {tag}.jsonl ({len(fresh)} new, {len(edits)} edits)"
        # Appending whole lines to a file already read exercises the tail reader.
        target = self.site.source / f"a{self.rng.randrange(FILES)}.jsonl"
        with target.open("a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in lines))
        return f"appended to {target.name} ({len(fresh)} new, {len(edits)} edits)"


def _count(log: str, needle: str) -> int:
    return log.count(needle)


def _kill_when(daemon: Daemon, condition: Callable[[], bool], max_wait: float) -> bool:
    """Kill once `condition` holds or `max_wait` passed (either way a random instant)."""
    deadline = time.monotonic() + max_wait
    hit = False
    while time.monotonic() < deadline and daemon.alive():
        if condition():
            hit = True
            break
        time.sleep(0.005)
    daemon.kill9()
    return hit


def _check_files_whole(site: Site, when: str) -> None:
    """Every feed file present is complete: a crash never leaves half a document."""
    feeds = site.output / "feeds"
    if not feeds.exists():
        return
    for path in sorted(feeds.iterdir()):
        if ".tmp-" in path.name:
            continue  # a crash may leave one; the next start removes it
        data = path.read_bytes()
        try:
            if path.suffix == ".json":
                json.loads(data)
            else:
                etree.fromstring(data, _XML)
        except (ValueError, etree.XMLSyntaxError) as exc:
            pytest.fail(f"{when}: {path.name} is not whole ({len(data)} bytes): {exc}")


def _deliveries_settled(site: Site, expected_articles: int) -> bool | None:
    # Read the database directly while waiting (a CLI run per check costs a
    # Python start-up); `status --json` confirms the result afterwards.
    [(articles,)] = site.query("SELECT count(*) FROM articles")
    [(open_,)] = site.query("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed')")
    return True if articles == expected_articles and open_ == 0 else None


def _check_final(site: Site, source: Source, requests: list[ReceivedRequest], secret: str) -> None:
    created: dict[str, set[str]] = defaultdict(set)
    latest: dict[str, tuple[datetime, str]] = {}
    for request in requests:
        if len(request.body) != int(request.headers.get("content-length", -1)):
            continue  # cut short by a kill: never acknowledged, so it is sent again
        try:
            body = request.verify(secret)
        except Exception as exc:  # the library raises its own error type
            raise AssertionError(
                f"signature does not verify ({exc}): webhook-id {request.headers.get('webhook-id')}"
                f", {len(request.body)} bytes: {request.body[:200]!r}"
            ) from None
        data = body["data"]
        if body["type"] == "article.created":
            created[data["slug"]].add(request.headers["webhook-id"])
        version = (datetime.fromisoformat(data["updated_at"]), data["title"])
        latest[data["slug"]] = max(latest.get(data["slug"], version), version)
    missing = sorted(set(source.articles) - set(created))
    assert not missing, f"{len(missing)} articles never announced, e.g. {missing[:5]}"
    twice = {slug: ids for slug, ids in created.items() if len(ids) > 1}
    assert not twice, f"announced as created under several webhook-ids: {list(twice.items())[:3]}"
    assert not set(created) - set(source.articles), "announced an article that does not exist"
    # An edit read in the same poll as its original may be announced as the
    # created version itself, so what must hold is: the last version of every
    # article reached the receiver.
    stale = [
        slug
        for slug, record in source.articles.items()
        if latest[slug] != (datetime.fromisoformat(record["updated_at"]), record["title"])
    ]
    assert not stale, f"final versions never announced: {stale[:5]}"

    # The outbox itself: one article.created event per slug, nothing dead.
    doubled = site.query(
        "SELECT slug, count(*) FROM events WHERE type = 'article.created' "
        "GROUP BY slug HAVING count(*) > 1"
    )
    assert doubled == [], f"article.created committed twice: {doubled[:5]}"
    report = site.status()
    assert report["articles"] == len(source.articles)
    assert report["quarantine"] == []
    assert report["deliveries"]["dead"] == 0

    # Every feed valid and holding exactly the newest articles of its topic.
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in source.articles.values():
        by_topic["all"].append(record)
        for topic in record["topics"]:
            by_topic[topic].append(record)
    for topic, records in by_topic.items():
        newest = sorted(records, key=lambda r: r["updated_at"], reverse=True)[:MAX_ENTRIES]
        feeds = site.output / "feeds"
        assert_valid_rss((feeds / f"{topic}.rss").read_bytes())
        assert_valid_atom((feeds / f"{topic}.atom").read_bytes())
        doc = assert_valid_json_feed((feeds / f"{topic}.json").read_bytes())
        assert [item["id"] for item in doc["items"]] == [entry_id(r["slug"]) for r in newest], (
            f"feed {topic}.json is not the newest {MAX_ENTRIES} articles of its topic"
        )
        assert [item["title"] for item in doc["items"]] == [r["title"] for r in newest]
    for extra in ("feeds.opml", "index.html"):
        assert (site.output / extra).is_file()
    leftovers = [p.name for p in site.output.rglob("*") if ".tmp-" in p.name]
    assert leftovers == [], f"temporary files left after a clean finish: {leftovers}"
    assert integrity_check(site.database) == "ok"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [101, 202, 303, 404], ids=lambda seed: f"seed{seed}")
def test_kill_9_at_random_instants_loses_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    secret = generate_secret()
    # Some runs answer slowly, so that kills land while requests are in flight.
    delay = rng.choice([0.0, 0.005, 0.02])
    kills: list[str] = []
    with Receiver(default=Reply(delay=delay)) as receiver:
        site = make_site(
            tmp_path / "site",
            extra="per_endpoint_concurrency = 16\n"
            + hook_table("crash", receiver.url_for("/hook"), secret),
        )
        source = Source(site, rng)
        source.initial()

        def context() -> str:
            return f"seed {seed}, receiver delay {delay}, kills so far:\n  " + "\n  ".join(kills)

        began = time.monotonic()
        with daemons() as start:
            for number in range(KILLS):
                phase = "import" if number == 0 else rng.choice(["import", "build", "deliver"])
                grew = ""
                if phase in ("import", "build") and number > 0 or rng.random() < 0.3:
                    grew = source.grow()
                daemon = start(site, ready=False)
                seen = len(receiver.requests)
                if phase == "import":
                    # Start-up takes ~0.6 s; the import follows at once.
                    pause = rng.uniform(0.3, 1.5)
                    hit = _kill_when(daemon, lambda: False, pause)
                    what = f"{pause:.3f} s after start"
                elif phase == "build":
                    pause = rng.uniform(0.0, 0.15)
                    committed: list[float] = []

                    def polled(
                        d: Daemon = daemon, c: list[float] = committed, p: float = pause
                    ) -> bool:
                        if not c and _count(d.log(), "poll ok") >= 1:
                            c.append(time.monotonic())
                        return bool(c) and time.monotonic() - c[0] >= p

                    hit = _kill_when(daemon, polled, 15.0)
                    what = f"{pause:.3f} s after the poll committed"
                else:
                    target = seen + rng.randint(1, 400)

                    def received(t: int = target) -> bool:
                        return len(receiver.requests) >= t

                    hit = _kill_when(daemon, received, 15.0)
                    what = f"after {target - seen} requests this run"
                log = daemon.log()
                kills.append(
                    f"#{number} {phase} at {time.monotonic() - began:.1f} s: {what} "
                    f"(reached: {hit}; "
                    f"{_count(log, 'poll ok')} polls, {_count(log, 'build:')} builds logged, "
                    f"{len(receiver.requests) - seen} requests) {grew}"
                )
                result = integrity_check(site.database)
                assert result in ("ok", "absent"), (
                    f"integrity_check after kill: {result}\n{context()}"
                )
                _check_files_whole(site, f"after kill #{number}\n{context()}")

            # The last run finishes: everything pending goes out, then a clean stop.
            daemon = start(site)
            wait_for(
                lambda: _deliveries_settled(site, len(source.articles)),
                FINAL_TIMEOUT,
                "every delivery to settle",
                lambda: f"{context()}\nstatus: {site.status()}\nlog:\n{daemon.log()[-4000:]}",
                interval=0.2,
            )
            assert daemon.terminate() == 0
            report = site.status()
            counts = report["deliveries"]
            assert counts["pending"] + counts["failed"] == 0, report
        try:
            _check_final(site, source, receiver.requests, secret)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{context()}") from None
