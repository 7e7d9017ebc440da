"""Entity and language feeds in the store (SPEC §4b): slugs, merges, counts, versions,
deletion, bad entities, and indexing a database written before facets existed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import delete

from syndicator.core.entities import entity_slug, suffixed_slug
from syndicator.core.times import EPOCH
from syndicator.store import schema
from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def facet(pipeline: Cycle, name: str) -> tuple[str, int, int] | None:
    row = pipeline.store.facets.get(name)
    return None if row is None else (row.label, row.articles, row.version)


def members(pipeline: Cycle, name: str) -> list[str]:
    return [article.slug for article, _, _ in pipeline.store.articles.feed_entries(name, 100)]


def test_entities_merge_by_case_and_take_the_most_frequent_spelling(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["NVIDIA", "Société Générale"]),
            make_record("two", entities=["Nvidia"]),
            make_record("three", entities=["nvidia ", "Nvidia"]),  # one entity, counted once
            make_record("four", entities=["Nvidia"]),
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    assert facet(pipeline, "entities/nvidia") == ("Nvidia", 4, 1)
    assert sorted(members(pipeline, "entities/nvidia")) == ["four", "one", "three", "two"]
    assert facet(pipeline, "entities/societe-generale") == ("Société Générale", 1, 1)
    # Facets are not topics: no topic feed is rendered for them.
    assert [row.name for row in pipeline.store.articles.topics()] == ["all", "energy"]


def test_colliding_slugs_get_a_suffix_derived_from_the_name(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one", entities=["C++"])])
    pipeline = run_pipeline()
    pipeline.poll()
    deployment.write_jsonl("b.jsonl", [make_record("two", entities=["C#", "华为"])])
    pipeline.poll()
    # The first name keeps the plain slug; the later one's suffix is its own hash.
    assert facet(pipeline, "entities/c") == ("C++", 1, 1)
    assert facet(pipeline, f"entities/{suffixed_slug('C#')}") == ("C#", 1, 1)
    hashed = entity_slug("华为")
    assert hashed.startswith("x-") and hashed == entity_slug("华为")
    assert facet(pipeline, f"entities/{hashed}") == ("华为", 1, 1)


def test_colliding_names_in_one_poll_go_by_first_appearance_as_across_polls(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """`C++` then `C#` in one file: `C++` keeps `c`, as when they come in two
    polls, whatever order their merge keys sort in (`c#` sorts first)."""
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["C++"]),
            make_record("two", entities=["C#"], updated_at="2026-06-02T10:00:00+00:00"),
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    assert facet(pipeline, "entities/c") == ("C++", 1, 1)
    assert facet(pipeline, f"entities/{suffixed_slug('C#')}") == ("C#", 1, 1)


def test_language_feeds_are_lower_cased(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", lang="pt-BR"), make_record("two", lang="de"), make_record("three")],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    assert members(pipeline, "lang/pt-br") == ["one"]
    assert members(pipeline, "lang/de") == ["two"]
    listed = [row.name for row in pipeline.store.facets.listing("lang")]
    assert sorted(listed) == ["lang/de", "lang/en", "lang/pt-br"]


def test_an_edit_moves_the_article_and_the_versions(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("one", entities=["Arm", "Intel"])])
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", entities=["Intel", "AMD"], updated_at="2026-06-02T10:00:00+00:00")],
    )
    changes = pipeline.poll()
    assert changes.updated == 1
    # Left: the feed stays (empty) but leaves the listings.
    assert facet(pipeline, "entities/arm") == ("Arm", 0, 2)
    assert members(pipeline, "entities/arm") == []
    assert facet(pipeline, "entities/intel") == ("Intel", 1, 2)
    assert facet(pipeline, "entities/amd") == ("AMD", 1, 1)
    live = [row.name for row in pipeline.store.facets.listing("entities")]
    assert sorted(live) == ["entities/amd", "entities/intel"]
    result = pipeline.build()
    assert {"entities/arm", "entities/amd", "entities/intel", "lang/en"} <= set(result.facets)
    assert pipeline.store.feeds.dirty_topics() == []


def test_a_deletion_empties_its_entity_feeds_and_leaves_a_tombstone(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", entities=["Arm"]), make_record("two", entities=["Arm"])],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    deployment.write_jsonl(
        "b.jsonl",
        [{"slug": "one", "deleted": True, "updated_at": "2026-06-03T00:00:00+00:00"}],
    )
    assert pipeline.poll().deleted == 1
    assert members(pipeline, "entities/arm") == ["two"]
    assert facet(pipeline, "entities/arm") == ("Arm", 1, 2)

    stones = pipeline.store.facets.tombstones("entities/arm", datetime(2026, 1, 1, tzinfo=UTC))
    assert [slug for slug, _ in stones] == ["one"]
    # Restored by a newer record: back in the feed, its tombstone gone.
    deployment.write_jsonl(
        "c.jsonl",
        [make_record("one", entities=["Arm"], updated_at="2026-06-04T00:00:00+00:00")],
    )
    assert pipeline.poll().updated == 1
    assert sorted(members(pipeline, "entities/arm")) == ["one", "two"]
    assert pipeline.store.facets.tombstones("entities/arm", datetime(2026, 1, 1, tzinfo=UTC)) == []


def test_bad_entities_are_dropped_with_a_note_and_the_article_kept(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", entities=["Arm", "", "   ", "x" * 201, "bad\x07bell", 7])],
    )
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert changes.created == 1 and changes.quarantined == 0
    assert members(pipeline, "entities/arm") == ["one"]
    notes = pipeline.store.polls.quarantined()
    reasons = sorted(note["reason"] for note in notes)
    assert len(reasons) == 5 and all(r.startswith("entity dropped: ") for r in reasons)
    assert all(note["slug"] == "one" for note in notes)


def test_padded_and_disguised_spellings_count_as_the_clean_one(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """ "  Nvidia  " is the spelling "Nvidia": three articles spell it so against
    two NVIDIA, so the feed is titled Nvidia; a right-to-left override is not kept."""
    spellings = ["NVIDIA", "Nvidia", "Nvidia", "NVIDIA", "  Nvidia  "]
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record(f"r{i}", entities=[name, "\u202eevil\u202c"])
            for i, name in enumerate(spellings)
        ],
    )
    pipeline = run_pipeline()
    assert pipeline.poll().created == 5
    assert facet(pipeline, "entities/nvidia") == ("Nvidia", 5, 1)
    assert facet(pipeline, "entities/evil") == ("evil", 5, 1)
    assert pipeline.store.polls.quarantined() == []  # cleaned, not dropped


def test_entities_past_the_limit_are_dropped_with_a_note_and_the_article_kept(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    # A hostile record naming thousands of entities would make as many feeds.
    many = [f"Name {i}" for i in range(150)]
    deployment.write_jsonl("a.jsonl", [make_record("many", entities=many)])
    pipeline = run_pipeline()
    assert pipeline.poll().created == 1
    assert members(pipeline, "entities/name-99") == ["many"]
    assert facet(pipeline, "entities/name-100") is None
    (note,) = pipeline.store.polls.quarantined()
    assert note["slug"] == "many"
    assert note["reason"] == (
        "entity dropped: 50 past the limit of 100 distinct entities (source.limits.max_entities)"
    )
    # Spellings of one entity count once; the limit is configurable.
    with deployment.config.open("a") as handle:
        handle.write("\n[source.limits]\nmax_entities = 1\n")
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record("same", entities=["Arm", "ARM", "arm"]),
            make_record("two", entities=["Arm", "Nvidia", "ARM"]),
        ],
    )
    pipeline = run_pipeline()
    assert pipeline.poll().created == 2
    assert sorted(members(pipeline, "entities/arm")) == ["same", "two"]
    assert facet(pipeline, "entities/nvidia") is None
    reasons = [q["reason"] for q in pipeline.store.polls.quarantined() if q["slug"] != "many"]
    assert reasons == [
        "entity dropped: 1 past the limit of 1 distinct entities (source.limits.max_entities)"
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_older_database_is_indexed_at_migration(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [make_record("one", entities=["Arm"], lang="de"), make_record("two", entities=["Arm"])],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    at, tp = schema.article_topics, schema.topics
    with pipeline.store.db.engine.begin() as conn:
        # As a database written before facet feeds: no facet rows, no flag.
        conn.execute(delete(at).where(at.c.topic.like("%/%")))
        conn.execute(delete(tp).where(tp.c.name.like("%/%")))
        conn.execute(delete(schema.entities))
        conn.execute(delete(schema.entity_spellings))
        conn.execute(delete(schema.meta).where(schema.meta.c.key == "facets_indexed"))
    pipeline.store.close()
    reopened = run_pipeline()
    assert sorted(members(reopened, "entities/arm")) == ["one", "two"]
    assert members(reopened, "lang/de") == ["one"]
    assert facet(reopened, "entities/arm") == ("Arm", 2, 1)


CUSTOM = """
[[feeds.custom]]
name = "chips-de"
topics = ["chips", "energy"]
entities = ["nvidia"]
lang = ["de"]
exclude_topics = ["opinion"]
content = "summary"
max_entries = 2
"""


def test_custom_feeds_hold_what_their_filters_choose(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.config.write_text(deployment.config.read_text() + CUSTOM, encoding="utf-8")
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("yes", entities=["NVIDIA"], lang="de-AT"),
            make_record("wrong-lang", entities=["Nvidia"], lang="en"),
            make_record("no-entity", entities=["Arm"], lang="de"),
            make_record("excluded", entities=["Nvidia"], lang="de", topics=["chips", "opinion"]),
        ],
    )
    pipeline = run_pipeline()
    assert facet(pipeline, "custom/chips-de") == ("chips-de", 0, 1)  # served before any match
    pipeline.poll()
    assert members(pipeline, "custom/chips-de") == ["yes"]
    # An edit that stops matching takes it out, in the poll's transaction.
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "yes", entities=["NVIDIA"], lang="en", updated_at="2026-06-02T10:00:00+00:00"
            )
        ],
    )
    pipeline.poll()
    assert members(pipeline, "custom/chips-de") == []
    pipeline.store.close()

    # Edited filters: the membership is made again when the store is opened.
    text = deployment.config.read_text().replace('lang = ["de"]\n', "")
    deployment.config.write_text(text, encoding="utf-8")
    reopened = run_pipeline()
    assert sorted(members(reopened, "custom/chips-de")) == ["wrong-lang", "yes"]
    row = reopened.store.facets.get("custom/chips-de")
    assert row is not None and row.articles == 2 and row.version > 1


def test_a_custom_feed_is_dated_by_its_articles_never_by_the_clock(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """SPEC §4: feed dates come from the data, so two deployments fed the same
    records render the same bytes, whenever their custom feeds were made."""
    deployment.config.write_text(deployment.config.read_text() + CUSTOM, encoding="utf-8")
    pipeline = run_pipeline()
    row = pipeline.store.facets.get("custom/chips-de")
    assert row is not None and row.changed_at == EPOCH  # no article yet: no date of its own
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record(
                "yes", entities=["NVIDIA"], lang="de", updated_at="2026-06-03T08:00:00+00:00"
            ),
            make_record("other", lang="en", updated_at="2026-06-05T08:00:00+00:00"),
        ],
    )
    pipeline.poll()
    row = pipeline.store.facets.get("custom/chips-de")
    assert row is not None and row.changed_at == datetime(2026, 6, 3, 8, tzinfo=UTC)


def test_feeds_opml_lists_the_language_and_custom_feeds_that_hold_articles(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """`/feeds.opml` is every feed (SPEC §4): topics, then languages and custom
    feeds; entities have their own list. A feed with no article is left out."""
    extra = CUSTOM + '\n[[feeds.custom]]\nname = "nothing"\nlang = ["ja"]\n'
    deployment.config.write_text(deployment.config.read_text() + extra, encoding="utf-8")
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("yes", entities=["NVIDIA"], lang="de-AT"),
            make_record("en", entities=["Arm"], lang="en"),
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    root = ElementTree.fromstring((deployment.output / "feeds.opml").read_bytes())
    listed = {
        group.get("text"): [feed.get("xmlUrl", "").rsplit("/feeds/", 1)[1] for feed in group]
        for group in root.findall("body/outline")
    }
    assert listed == {
        "Test Desk": ["all.rss", "energy.rss"],
        "Test Desk: languages": ["lang/de-at.rss", "lang/en.rss"],
        "Test Desk: custom feeds": ["custom/chips-de.rss"],
    }


def test_the_opml_follows_custom_feeds_added_and_removed_in_the_config(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    """A `[[feeds.custom]]` added or removed changes `/feeds.opml` at the next
    build, with no new record: readers importing it get no dead subscription."""

    def custom_listed() -> list[str]:
        root = ElementTree.fromstring((deployment.output / "feeds.opml").read_bytes())
        return [
            feed.get("xmlUrl", "").rsplit("/feeds/", 1)[1]
            for group in root.findall("body/outline")
            if group.get("text", "").endswith("custom feeds")
            for feed in group
        ]

    original = deployment.config.read_text()
    deployment.write_jsonl("a.jsonl", [make_record("yes", entities=["NVIDIA"], lang="de")])
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    assert custom_listed() == []
    pipeline.store.close()

    deployment.config.write_text(original + CUSTOM, encoding="utf-8")
    added = run_pipeline()
    added.build()
    assert custom_listed() == ["custom/chips-de.rss"]
    added.store.close()

    deployment.config.write_text(original, encoding="utf-8")
    removed = run_pipeline()
    removed.build()
    assert custom_listed() == []


def test_status_counts_dropped_entities_apart_from_quarantined_records(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    from syndicator.status import collect_status, format_status

    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["Arm", "", "\u200b"]),
            {"slug": "broken", "title": "no dates"},
        ],
    )
    pipeline = run_pipeline()
    changes = pipeline.poll()
    assert changes.created == 1 and changes.quarantined == 1
    lines = format_status(collect_status(deployment.settings(), pipeline.store)).splitlines()
    assert "quarantined: 1" in lines
    assert "entities dropped (their articles published): 2" in lines
    start = lines.index("entities dropped (their articles published): 2")
    assert all("[one]: entity dropped: " in line for line in lines[start + 1 : start + 3])
    # status --json tells them apart too: a monitor counting quarantined
    # records counts the record alone.
    listed = collect_status(deployment.settings(), pipeline.store)["quarantine"]
    assert sorted((item["slug"], item["kind"]) for item in listed) == [
        ("broken", "record"),
        ("one", "entity"),
        ("one", "entity"),
    ]
