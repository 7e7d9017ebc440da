"""Entity and language feeds served by the real daemon (SPEC §4b): rendered on the
first request, valid in every format, 404 for what does not exist, fresh after an
edit, and answered 304 from stored validators after a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feedparser

from syndicator.cli import main
from tests.daemon.conftest import DaemonProcess, Site, make_site, record
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

Start = Callable[..., DaemonProcess]


def _records() -> list[dict[str, object]]:
    return [
        record("chip-1", entities=["NVIDIA", "TSMC"], topics=("ai-chips",)),
        record(
            "chip-2",
            entities=["Nvidia", "Société Générale"],
            updated_at="2026-06-02T10:00:00+00:00",
        ),
        record("berlin", entities=["Berlin"], lang="de"),
        record("chip-0", entities=["Nvidia"], updated_at="2026-05-30T10:00:00+00:00"),
        record("lisbon", lang="pt_BR"),  # a POSIX locale name, as CMS exports write it
    ]


def _serving(site: Site, start_daemon: Start) -> DaemonProcess:
    """The daemon started on `_records()`, its first build done."""
    site.write_records("a.jsonl", _records())
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    return daemon


def test_entity_and_language_feeds_are_served_valid(site: Site, start_daemon: Start) -> None:
    daemon = _serving(site, start_daemon)
    atom = daemon.get("/feeds/entities/nvidia.atom")
    assert atom.status_code == 200
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert_valid_atom(atom.content)
    parsed = feedparser.parse(atom.content)
    assert [e.link for e in parsed.entries] == [
        "https://news.example.org/chip-2",
        "https://news.example.org/chip-1",
        "https://news.example.org/chip-0",
    ]
    # Every entry lists its entities as categories with the entity scheme.
    tags = {(t.term, t.label, t.scheme) for t in parsed.entries[0].tags}
    scheme = f"{site.base_url}/feeds/entities/"
    assert ("nvidia", "Nvidia", scheme) in tags
    assert parsed.feed.title == "Daemon Desk: Nvidia"  # the most frequent spelling
    assert_valid_rss(daemon.get("/feeds/entities/societe-generale.rss").content)
    feed = assert_valid_json_feed(daemon.get("/feeds/lang/de.json").content)
    assert [item["url"] for item in feed["items"]] == ["https://news.example.org/berlin"]
    # A language feed is named by its language, its tag beside it.
    assert feed["title"] == "Daemon Desk: German (de)"
    assert "Articles in German (de)" in feed["description"]
    brazil = assert_valid_json_feed(daemon.get("/feeds/lang/pt-br.json").content)
    assert [item["url"] for item in brazil["items"]] == ["https://news.example.org/lisbon"]
    # Gzip and HEAD as for topic feeds.
    gz = daemon.get("/feeds/entities/tsmc.rss", headers={"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and b"chip-1" in gz.content
    head = daemon.request("HEAD", "/feeds/entities/tsmc.rss")
    assert head.status_code == 200 and head.content == b""


def test_unknown_facets_are_404(site: Site, start_daemon: Start) -> None:
    daemon = _serving(site, start_daemon)
    for path in (
        "/feeds/entities/nobody.atom",
        "/feeds/lang/fr.rss",
        "/feeds/custom/nothing.json",
        "/feeds/people/nvidia.atom",
        "/feeds/entities/nvidia.xml",
        "/feeds/entities/%2e%2e/all.atom",
        "/feeds/entities/nvidia/x.atom",
    ):
        assert daemon.get(path).status_code == 404, path
    assert daemon.request("POST", "/feeds/entities/nvidia.atom").status_code == 405


def test_a_feed_path_in_other_letter_case_redirects_to_the_feed(
    site: Site, start_daemon: Start
) -> None:
    # Language tags are case-insensitive (BCP 47) and entities merge across
    # case (SPEC §4b): a reader may well type `pt-BR` or `NVIDIA`. Their feeds'
    # paths are lower-case, so the answer is a redirect.
    daemon = _serving(site, start_daemon)
    for path in (
        "/feeds/lang/pt-BR.atom",
        "/feeds/entities/NVIDIA.rss",
        "/feeds/entities/Tsmc.json",
    ):
        moved = daemon.get(path)
        assert moved.status_code == 301, path
        target = moved.headers["location"]
        assert target == path.lower()
        assert daemon.get(target).status_code == 200, target
    # A locale name is its tag, as in records; a query string is kept.
    moved = daemon.get("/feeds/lang/pt_BR.atom?utm_source=x")
    assert (moved.status_code, moved.headers["location"]) == (
        301,
        "/feeds/lang/pt-br.atom?utm_source=x",
    )
    head = daemon.request("HEAD", "/feeds/lang/DE.json")
    assert (head.status_code, head.headers["location"], head.content) == (
        301,
        "/feeds/lang/de.json",
        b"",
    )
    # A feed that does not exist in any case is still a plain 404, and topic
    # slugs are lower-case by rule: another case names no topic.
    assert daemon.get("/feeds/entities/Nobody.atom").status_code == 404
    assert daemon.get("/feeds/AI-Chips.json").status_code == 404
    assert daemon.request("POST", "/feeds/lang/DE.json").status_code == 405


def test_an_edit_reaches_the_entity_feed(site: Site, start_daemon: Start) -> None:
    daemon = _serving(site, start_daemon)
    first = daemon.get("/feeds/entities/tsmc.atom")
    assert b"chip-3" not in first.content
    site.write_records(
        "b.jsonl",
        [record("chip-3", entities=["tsmc"], updated_at="2026-06-05T10:00:00+00:00")],
    )

    def updated() -> bool | None:
        body = daemon.get("/feeds/entities/tsmc.atom").content
        return True if b"news.example.org/chip-3" in body else None

    daemon.wait_until(updated, 15, "the new article in the entity feed")
    second = daemon.get("/feeds/entities/tsmc.atom")
    assert second.headers["etag"] != first.headers["etag"]
    # The reader's old copy is no longer current.
    stale = daemon.get(
        "/feeds/entities/tsmc.atom", headers={"if-none-match": first.headers["etag"]}
    )
    assert stale.status_code == 200


def test_the_daemon_keeps_an_export_of_facet_feeds_current(site: Site, start_daemon: Start) -> None:
    daemon = _serving(site, start_daemon)
    assert main(["--config", str(site.config), "export", "--facets"]) == 0
    exported = site.output / "feeds" / "entities" / "tsmc.atom"
    assert b"news.example.org/chip-3" not in exported.read_bytes()
    site.write_records(
        "b.jsonl",
        [record("chip-3", entities=["tsmc"], updated_at="2026-06-05T10:00:00+00:00")],
    )

    def written() -> bool | None:
        return True if b"news.example.org/chip-3" in exported.read_bytes() else None

    daemon.wait_until(written, 15, "the new article in the exported entity feed")
    assert daemon.get("/feeds/entities/tsmc.atom").content == exported.read_bytes()


def test_validators_survive_a_restart(tmp_path: Path, start_daemon: Start) -> None:
    site = make_site(tmp_path / "site")
    daemon = _serving(site, start_daemon)
    first = daemon.get("/feeds/entities/nvidia.rss")
    assert first.status_code == 200
    daemon.stop()
    again = start_daemon(site)  # ready: serving, nothing new to build
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    cached = again.get("/feeds/entities/nvidia.rss", headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.headers["etag"] == etag
    assert cached.headers["last-modified"] == modified
    since = again.get("/feeds/entities/nvidia.rss", headers={"if-modified-since": modified})
    assert since.status_code == 304
    full = again.get("/feeds/entities/nvidia.rss")
    assert full.content == first.content and full.headers["etag"] == etag
    assert full.headers["last-modified"] == modified


def test_custom_feeds_are_served_with_their_size_and_content(
    tmp_path: Path, start_daemon: Start
) -> None:
    extra = (
        '\n[[feeds.custom]]\nname = "chips"\nentities = ["nvidia"]\n'
        'content = "summary"\nmax_entries = 2\n'
    )
    site = make_site(tmp_path / "site", extra=extra)
    daemon = _serving(site, start_daemon)
    atom = daemon.get("/feeds/custom/chips.atom")
    assert atom.status_code == 200
    assert_valid_atom(atom.content)
    parsed = feedparser.parse(atom.content)
    assert [e.link for e in parsed.entries] == [
        "https://news.example.org/chip-2",
        "https://news.example.org/chip-1",
    ]
    assert all("content" not in entry for entry in parsed.entries)  # summaries only
    assert parsed.entries[0].summary == "Summary of chip-2"
    feed = assert_valid_json_feed(daemon.get("/feeds/custom/chips.json").content)
    assert all("content_html" not in item for item in feed["items"])
    assert daemon.get("/feeds/custom/other.atom").status_code == 404
