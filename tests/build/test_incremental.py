"""Incremental builds reuse the entry bytes of the files they replace.

After every step the feeds on disk must equal the whole-document reference
render of what the store holds now; `reused_entries` shows the reuse happened
(or, where the previous file cannot be trusted, that it did not).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from syndicator.build import BuildResult
from syndicator.build import reuse as reuse_module
from syndicator.build import run as run_module
from syndicator.models import RenderedArticle
from syndicator.render.feeds import FORMATS, FeedInfo, feed_path, reference_render
from syndicator.render.html import render_markdown
from syndicator.render.jsonfeed import reference_render_json
from syndicator.store import schema
from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]

MAX_ENTRIES = 4
TOPICS = ("energy", "space", "climate")


def expected_feeds(pipeline: Cycle) -> dict[str, bytes]:
    """Every feed rendered whole from the store, nothing cached or reused."""
    settings = pipeline.settings
    out: dict[str, bytes] = {}
    for row in pipeline.store.articles.topics():
        entries = [
            RenderedArticle(article, render_markdown(article.body_md) if article.body_md else None)
            for article, _html, _digest in pipeline.store.articles.feed_entries(
                row.name, settings.feeds.max_entries
            )
        ]
        info = FeedInfo(
            site_title=settings.site.title,
            base_url=settings.site.base_url,
            topic=row.name,
            updated=row.changed_at or datetime(1970, 1, 1, tzinfo=UTC),
            hub_urls=pipeline.builder.hub_urls(),
            language=settings.site.language,
            ttl_minutes=pipeline.builder.ttl_minutes(),
        )
        for fmt in FORMATS:
            path = feed_path(row.name, fmt)
            if fmt == "json":
                out[path] = reference_render_json(info, entries)
            else:
                out[path] = reference_render(fmt, info, entries)
    return out


def assert_feeds_match_store(deployment: Deployment, pipeline: Cycle) -> None:
    expected = expected_feeds(pipeline)
    actual = {path: (deployment.output / path).read_bytes() for path in expected}
    mismatched = sorted(path for path in expected if actual[path] != expected[path])
    assert mismatched == []


def build_fresh(run_pipeline: Run, **kwargs: Any) -> tuple[Cycle, BuildResult]:
    """Poll and build in a new pipeline with empty in-memory caches, as a new process."""
    pipeline = run_pipeline()
    pipeline.poll()
    return pipeline, pipeline.build(**kwargs)


def edit_a06_and_build(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> tuple[Cycle, BuildResult]:
    """Edit a06's body (energy; it moves to the top of energy and all), then
    poll and build as a new process."""
    deployment.write_jsonl(
        "b.jsonl", [make_record("a06", topics=["energy"], body_md="Edited.", updated_at=stamp(13))]
    )
    return build_fresh(run_pipeline)


def stamp(hour: int) -> str:
    return f"2026-06-01T{hour:02d}:00:00Z"


@pytest.fixture
def seeded(deployment: Deployment, run_pipeline: Run, make_record: Make) -> Cycle:
    """Twelve articles over three topics, four entries a feed, every feed written."""
    deployment.config.write_text(
        deployment.config.read_text().replace("max_entries = 50", f"max_entries = {MAX_ENTRIES}")
    )
    deployment.write_jsonl(
        "a.jsonl",
        [make_record(f"a{i:02d}", topics=[TOPICS[i % 3]], updated_at=stamp(i)) for i in range(12)],
    )
    pipeline, result = build_fresh(run_pipeline)
    assert result.reused_entries == 0
    assert_feeds_match_store(deployment, pipeline)
    return pipeline


def test_every_written_feed_has_a_manifest(seeded: Cycle) -> None:
    manifests = seeded.store.feeds.manifests(["all", *TOPICS])
    assert sorted(manifests) == sorted((t, f) for t in ("all", *TOPICS) for f in FORMATS)
    energy = manifests[("energy", "rss")]
    assert [slug for slug, _, _ in energy.entries] == ["a09", "a06", "a03", "a00"]


def test_edited_entry_is_the_only_one_rendered(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "b.jsonl",
        [make_record("a06", topics=["energy"], body_md="Edited *body*.", updated_at=stamp(13))],
    )
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["all", "energy"]
    # energy: a06 moved first, a09, a03, a00 reused; all: a06 new on top, a11, a10, a09 reused.
    assert result.reused_entries == 6 * len(FORMATS)
    assert_feeds_match_store(deployment, pipeline)


def test_new_entry_pushes_the_oldest_out(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("b.jsonl", [make_record("new", topics=["space"], updated_at=stamp(20))])
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["all", "space"]
    assert result.reused_entries == 6 * len(FORMATS)
    assert_feeds_match_store(deployment, pipeline)
    rss = (deployment.output / "feeds" / "space.rss").read_bytes()
    assert b"Title of a01" not in rss and b"Title of new" in rss


def test_topic_move_brings_older_entries_into_the_window(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    # a11 (climate, newest) moves to space: climate's window gains a02 from below.
    deployment.write_jsonl("b.jsonl", [make_record("a11", topics=["space"], updated_at=stamp(21))])
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["all", "climate", "space"]
    assert result.reused_entries > 0
    assert_feeds_match_store(deployment, pipeline)


def test_emptied_topic_and_its_return(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    moved = [f"a{i:02d}" for i in range(12) if i % 3 == 2]
    deployment.write_jsonl(
        "b.jsonl",
        [make_record(slug, topics=["space"], updated_at=stamp(14)) for slug in moved],
    )
    pipeline, _ = build_fresh(run_pipeline)
    assert_feeds_match_store(deployment, pipeline)
    assert pipeline.store.feeds.manifests(["climate"])[("climate", "atom")].entries == ()
    deployment.write_jsonl(
        "c.jsonl", [make_record("a02", topics=["climate"], updated_at=stamp(22))]
    )
    pipeline, result = build_fresh(run_pipeline)
    assert "climate" in result.topics
    assert_feeds_match_store(deployment, pipeline)


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_changed_behind_the_manifest_is_not_reused(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make, fmt: str
) -> None:
    path = deployment.output / "feeds" / f"energy.{fmt}"
    # Same size, an unchanged entry's text altered: only the digest can tell.
    data = path.read_bytes()
    assert data.count(b"Title of a03") == 1
    path.write_bytes(data.replace(b"Title of a03", b"Title of X03"))
    pipeline, result = edit_a06_and_build(deployment, run_pipeline, make_record)
    assert_feeds_match_store(deployment, pipeline)
    # The other two formats of energy, and `all`, still reuse theirs.
    assert result.reused_entries == 3 * (len(FORMATS) - 1) + 3 * len(FORMATS)


def test_a_file_as_written_is_reused_without_hashing(
    deployment: Deployment,
    seeded: Cycle,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = seeded.store.feeds.manifests(["all", *TOPICS])
    output = seeded.builder.output
    assert all(m.stamp == output.stamp(feed_path(t, f)) for (t, f), m in manifests.items())

    def no_hash(_data: bytes) -> str:
        raise AssertionError("hashed a file its stamp vouches for")

    monkeypatch.setattr(reuse_module, "sha256", no_hash)
    pipeline, result = edit_a06_and_build(deployment, run_pipeline, make_record)
    assert result.reused_entries == 6 * len(FORMATS)
    assert_feeds_match_store(deployment, pipeline)


def test_a_file_replaced_by_another_writer_is_checked_by_its_digest(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    # Another process renamed other bytes of the same size into place and even
    # kept the old modification time: a new inode, so the digest decides.
    path = deployment.output / "feeds" / "energy.atom"
    before = path.stat()
    other = path.with_name("other.atom")
    other.write_bytes(path.read_bytes().replace(b"Title of a03", b"Title of X03"))
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)
    pipeline, result = edit_a06_and_build(deployment, run_pipeline, make_record)
    assert_feeds_match_store(deployment, pipeline)
    assert result.reused_entries == 3 * (len(FORMATS) - 1) + 3 * len(FORMATS)


def test_deleted_file_is_rendered_whole(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    (deployment.output / "feeds" / "space.json").unlink()
    (deployment.output / "feeds" / "space.rss").write_bytes(b"")
    deployment.write_jsonl(
        "b.jsonl", [make_record("a07", topics=["space"], body_md="Edited.", updated_at=stamp(13))]
    )
    pipeline, result = build_fresh(run_pipeline)
    assert_feeds_match_store(deployment, pipeline)
    # space.atom and the three `all` feeds reuse their three unchanged entries.
    assert result.reused_entries == 3 + 3 * len(FORMATS)


def test_manifest_of_another_renderer_is_ignored(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    m = schema.feed_manifests
    with seeded.store.transaction(datetime.now(UTC)) as tx:
        tx.conn.execute(update(m).values(render_fingerprint="an older renderer"))
    pipeline, result = edit_a06_and_build(deployment, run_pipeline, make_record)
    assert result.reused_entries == 0
    assert_feeds_match_store(deployment, pipeline)


def test_new_title_renders_every_feed_around_its_reused_entries(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run
) -> None:
    deployment.config.write_text(
        deployment.config.read_text().replace('title = "Test Desk"', 'title = "Other Desk"')
    )
    pipeline, result = build_fresh(run_pipeline)
    # Every feed's bytes change (its title), none of its entries' do.
    assert len(result.topics) == 4 and result.written >= 3 * 4
    entries = sum(len(m.entries) for m in seeded.store.feeds.manifests(["all", *TOPICS]).values())
    assert result.reused_entries == entries > 0
    assert_feeds_match_store(deployment, pipeline)
    assert {m.fingerprint for m in pipeline.store.feeds.manifests(["all", *TOPICS]).values()} == {
        pipeline.builder.entry_fingerprint()
    }


def test_new_base_url_renders_every_entry_again(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run
) -> None:
    # The site's URL is in entries (entity category schemes, JSON Feed links):
    # no fragment written under the old one may be reused.
    before = seeded.builder.entry_fingerprint()
    deployment.config.write_text(
        deployment.config.read_text().replace(
            'base_url = "http://127.0.0.1:8080"', 'base_url = "http://127.0.0.1:8081"'
        )
    )
    pipeline, result = build_fresh(run_pipeline)
    assert pipeline.builder.entry_fingerprint() != before
    assert result.reused_entries == 0 and len(result.topics) == 4
    assert_feeds_match_store(deployment, pipeline)


def test_crash_between_file_write_and_manifest_write(
    deployment: Deployment,
    seeded: Cycle,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment.write_jsonl(
        "b.jsonl", [make_record("a06", topics=["energy"], body_md="New.", updated_at=stamp(13))]
    )
    crashing = run_pipeline()
    crashing.poll()

    def die(*_args: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(crashing.store.feeds, "save_written", die)
    with pytest.raises(SystemExit):
        crashing.build()
    monkeypatch.undo()
    # The new files are in place beside the old manifests, and still dirty.
    assert set(crashing.store.feeds.dirty_topics()) >= {"all", "energy"}
    deployment.write_jsonl(
        "c.jsonl", [make_record("a09", topics=["energy"], body_md="Later.", updated_at=stamp(14))]
    )
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["all", "energy"]
    assert_feeds_match_store(deployment, pipeline)
    # Nothing trusted from the files written without a manifest.
    assert result.reused_entries == 0
    # The next edit reuses again.
    deployment.write_jsonl(
        "d.jsonl", [make_record("a03", topics=["energy"], body_md="Edited.", updated_at=stamp(15))]
    )
    pipeline, result = build_fresh(run_pipeline)
    assert result.reused_entries > 0
    assert_feeds_match_store(deployment, pipeline)


def test_full_build_renders_every_feed_from_reused_entries(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run
) -> None:
    before = seeded.store.feeds.manifests(["all", *TOPICS])
    pipeline = run_pipeline()
    result = pipeline.build(full=True)
    # Every feed rendered again, from the same entries: no byte differs.
    entries = sum(len(m.entries) for m in before.values())
    assert result.reused_entries == entries and result.written == 0
    assert pipeline.store.feeds.manifests(["all", *TOPICS]) == before
    assert_feeds_match_store(deployment, pipeline)


def test_other_output_folder_renders_whole(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run, make_record: Make
) -> None:
    """A builder whose folder does not hold the files the manifests describe
    (another host sharing a PostgreSQL store) renders from the store."""
    elsewhere = deployment.root / "elsewhere"
    deployment.config.write_text(
        deployment.config.read_text().replace(str(deployment.output), str(elsewhere))
    )
    pipeline, result = edit_a06_and_build(deployment, run_pipeline, make_record)
    assert len(result.topics) == 4 and result.reused_entries == 0
    deployment.output = elsewhere
    assert_feeds_match_store(deployment, pipeline)


def test_batches_bounded_by_bytes_write_the_same_feeds(
    deployment: Deployment,
    seeded: Cycle,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every topic's documents over the bound: each topic is written as a batch of its own.
    monkeypatch.setattr(run_module, "_WRITE_BATCH_BYTES", 1)
    batches: list[int] = []
    flush = run_module.FeedRun._flush

    def counted(self: run_module.FeedRun, docs: Any) -> None:
        batches.append(len(docs))
        flush(self, docs)

    monkeypatch.setattr(run_module.FeedRun, "_flush", counted)
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record("a06", topics=["energy"], body_md="Edited.", updated_at=stamp(13)),
            make_record("new", topics=["space", "climate"], updated_at=stamp(20)),
        ],
    )
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["all", "climate", "energy", "space"]
    # One batch per topic, then the listings.
    assert batches[:4] == [len(FORMATS)] * 4
    assert_feeds_match_store(deployment, pipeline)
    manifests = pipeline.store.feeds.manifests(["all", *TOPICS])
    assert sorted(manifests) == sorted((t, f) for t in ("all", *TOPICS) for f in FORMATS)


def test_an_edited_body_is_rendered_once_for_all_its_feeds(
    deployment: Deployment,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In 30 topics: its feeds span more than one write batch.
    topics = [f"t{i:02d}" for i in range(30)]
    assert len(topics) * len(FORMATS) > run_module._WRITE_BATCH
    deployment.write_jsonl("a.jsonl", [make_record("wide", topics=topics, updated_at=stamp(1))])
    build_fresh(run_pipeline)
    rendered: list[str] = []

    def counting(body_md: str) -> str:
        rendered.append(body_md)
        return render_markdown(body_md)

    monkeypatch.setattr(run_module, "render_markdown", counting)
    deployment.write_jsonl(
        "b.jsonl", [make_record("wide", topics=topics, body_md="Edited.", updated_at=stamp(2))]
    )
    pipeline, result = build_fresh(run_pipeline)
    assert len(result.topics) == len(topics) + 1
    assert rendered == ["Edited."]
    assert_feeds_match_store(deployment, pipeline)


def test_a_first_build_writes_again_only_the_files_changed_behind_it(
    deployment: Deployment, seeded: Cycle, run_pipeline: Run
) -> None:
    feeds = deployment.output / "feeds"
    # Every file copied in place (a restored backup): new stamps, same bytes.
    for path in sorted(feeds.glob("*.*")):
        copy = path.with_name(path.name + ".copy")
        copy.write_bytes(path.read_bytes())
        os.replace(copy, path)
    pipeline, result = build_fresh(run_pipeline)
    assert result.topics == [] and result.written == 0
    manifests = pipeline.store.feeds.manifests(["all", *TOPICS])
    output = pipeline.builder.output
    # Their stamps are recorded again: the next process does not read them.
    assert all(m.stamp == output.stamp(feed_path(t, f)) for (t, f), m in manifests.items())
    # A file edited (same size) or deleted is written again, its topic alone.
    energy = feeds / "energy.atom"
    energy.write_bytes(energy.read_bytes().replace(b"Title of a03", b"Title of X03"))
    (feeds / "space.rss").unlink()
    pipeline, result = build_fresh(run_pipeline)
    assert sorted(result.topics) == ["energy", "space"]
    assert_feeds_match_store(deployment, pipeline)
