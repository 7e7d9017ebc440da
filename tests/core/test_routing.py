"""Which endpoints get which events: event types, topics, entities, language (SPEC §6)."""

from __future__ import annotations

import pytest

from syndicator.core.routing import (
    Route,
    Subject,
    check_entity_names,
    check_language_ranges,
    language_matches,
)

CREATED = "article.created"
ALL_EVENTS = ("article.created", "article.updated", "article.deleted")


def route(
    topics: tuple[str, ...] = ("*",),
    entities: tuple[str, ...] = (),
    langs: tuple[str, ...] = (),
    events: tuple[str, ...] = ALL_EVENTS,
) -> Route:
    return Route.of("hook", events, topics, entities, langs)


def subject(
    topics: tuple[str, ...] = ("energy",), entities: tuple[str, ...] = (), lang: str | None = "en"
) -> Subject:
    return Subject.of(topics, entities, lang)


def test_topic_only_route_keeps_its_rules() -> None:
    assert route().matches(CREATED, subject(topics=()))
    assert route(("space",)).matches(CREATED, subject(topics=("energy", "space")))
    assert not route(("space",)).matches(CREATED, subject(topics=("energy",)))
    assert not route(events=("article.updated",)).matches(CREATED, subject())
    assert not route(()).matches(CREATED, subject())  # an empty topic list selects nothing


@pytest.mark.parametrize(
    ("wanted", "named", "expected"),
    [
        (("nvidia",), ("NVIDIA",), True),
        (("Nvidia",), ("Intel", "nvidia"), True),
        (("NVIDIA",), ("Nvidia Corp",), False),
        (("Société Générale",), ("SOCIÉTÉ  GÉNÉRALE",), True),
        (("Societe Generale",), ("Société Générale",), False),  # accents count
        (("societe-generale",), ("Société Générale",), True),  # by its slug (SPEC §6)
        (("open-ai",), ("Open  AI",), True),
        (("societe",), ("Société Générale",), False),
        (("nvidia",), (), False),
        (("Zero\u200bWidth",), ("ZeroWidth",), True),  # invisible characters do not count
        ((), (), True),  # no entity filter: any article
    ],
)
def test_entity_filter(wanted: tuple[str, ...], named: tuple[str, ...], expected: bool) -> None:
    assert route(entities=wanted).matches(CREATED, subject(entities=named)) is expected


@pytest.mark.parametrize(
    ("ranges", "tag", "expected"),
    [
        (("en",), "en", True),
        (("en",), "en-GB", True),
        (("EN",), "en-us", True),
        (("en",), "eng", False),  # a prefix only on a '-' boundary
        (("en-gb",), "en-GB-oxendict", True),
        (("en-gb",), "en", False),  # a region does not take the bare language
        (("en-gb",), "en-US", False),
        (("de", "fr"), "fr-CA", True),
        (("de",), None, False),  # an article without a language matches no range
        ((), None, True),
        ((), "xx", True),
    ],
)
def test_language_filter(ranges: tuple[str, ...], tag: str | None, expected: bool) -> None:
    assert route(langs=ranges).matches(CREATED, subject(lang=tag)) is expected
    assert language_matches(tuple(r.lower() for r in ranges), tag) is expected


def test_every_given_filter_must_match() -> None:
    both = route(("chips",), ("nvidia",), ("de",))
    assert both.matches(CREATED, subject(("chips",), ("NVIDIA",), "de-AT"))
    assert not both.matches(CREATED, subject(("chips",), ("NVIDIA",), "en"))
    assert not both.matches(CREATED, subject(("chips",), ("Intel",), "de"))
    assert not both.matches(CREATED, subject(("energy",), ("NVIDIA",), "de"))
    assert not route(events=("article.updated",), entities=("nvidia",)).matches(
        CREATED, subject(entities=("NVIDIA",))
    )


def test_subject_from_event_data_of_each_type() -> None:
    created = {"slug": "s", "topics": ["chips"], "entities": ["NVIDIA"], "lang": "en-GB"}
    deleted = {"slug": "s", "id": "urn:uuid:x", "topics": ["chips"], "entities": ["NVIDIA"],
               "lang": "en-GB", "deleted_at": "2026-07-01T00:00:00Z"}  # fmt: skip
    for data in (created, deleted):
        assert Subject.from_data(data) == Subject(("chips",), frozenset({"nvidia"}), "en-GB")
    bare = Subject.from_data({"slug": "s", "topics": [], "entities": [], "lang": None})
    assert bare == Subject((), frozenset(), None)
    assert Subject.from_data({"lang": 3}).lang is None  # never trusted blindly


def test_filters_facets() -> None:
    assert not route().filters_facets
    assert route(entities=("x",)).filters_facets
    assert route(langs=("en",)).filters_facets
    assert route(langs=("EN", "en")).langs == ("en",)


@pytest.mark.parametrize(
    ("names", "message"),
    [((" ",), "entry 1 is an empty name"), (("ok", "x" * 201), "entry 2")],
)
def test_bad_entity_names(names: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_entity_names(names)


def test_good_entity_names_pass() -> None:
    assert check_entity_names(("Nvidia", "x" * 200)) == ("Nvidia", "x" * 200)


@pytest.mark.parametrize("tag", ["en__US", "", "en-", "-en", "toolonglang", "en GB"])
def test_bad_language_tags(tag: str) -> None:
    with pytest.raises(ValueError, match="not a BCP 47 language tag"):
        check_language_ranges(("en", tag))


def test_a_locale_name_is_taken_as_its_tag() -> None:
    assert check_language_ranges(("en_US", "de")) == ("en-US", "de")


def test_good_language_tags_pass() -> None:
    assert check_language_ranges(("en", "pt-BR", "zh-Hant-TW")) == ("en", "pt-BR", "zh-Hant-TW")
