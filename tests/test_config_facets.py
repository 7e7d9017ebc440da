"""`[[feeds.custom]]` and the webhook entity and language filters in the config (SPEC §6, §7).

Every case goes through the real `load_settings` on a TOML file, as
`syndicator check-config` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import Settings, load_settings
from syndicator.core.custom import CustomFeed
from syndicator.core.routing import Route
from syndicator.errors import ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CHIPS = """
[feeds]
max_entries = 30

[[feeds.custom]]
name = "chips-en"
topics = ["ai-chips"]
entities = ["Nvidia"]
lang = ["en"]
exclude_topics = ["sponsored"]
content = "summary"
max_entries = 20

[[feeds.custom]]
name = "deutsch"
lang = ["de"]
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=env or {})


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def custom(body: str, name: str = "chips-en") -> str:
    return f'[[feeds.custom]]\nname = "{name}"\n{body}\n'


def webhook(body: str) -> str:
    head = "[[webhooks]]\nname = 'crm'\nurl = 'https://h.example.com/in'\n"
    return f"{head}secret = '{SECRET}'\n{body}\n"


def test_custom_feeds_load_and_resolve(tmp_path: Path) -> None:
    settings = load(tmp_path, CHIPS)
    assert [feed.name for feed in settings.feeds.custom] == ["chips-en", "deutsch"]
    chips, deutsch = settings.feeds.custom_feeds()
    assert chips == CustomFeed(
        name="chips-en",
        topics=frozenset({"ai-chips"}),
        entity_keys=frozenset({"nvidia"}),
        langs=("en",),
        exclude_topics=frozenset({"sponsored"}),
        content="summary",
        max_entries=20,
    )
    assert (deutsch.content, deutsch.max_entries, deutsch.topics) == ("full", 30, frozenset())


def test_no_custom_feeds_by_default(tmp_path: Path) -> None:
    assert load(tmp_path, "").feeds.custom_feeds() == ()


def test_a_custom_feed_can_be_overridden_by_name(tmp_path: Path) -> None:
    settings = load(tmp_path, CHIPS, {"SYNDICATOR_FEEDS__CUSTOM__DEUTSCH__MAX_ENTRIES": "7"})
    assert settings.feeds.custom_feeds()[1].max_entries == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (custom('topics = ["x"]\ncontent = "partial"'), "feeds.custom.chips-en.content: "),
        (custom('topics = ["x"]\nmax_entries = 0'), "feeds.custom.chips-en.max_entries: "),
        (custom('topics = ["x"]\nmax_entries = 1001'), "feeds.custom.chips-en.max_entries: "),
        (custom('topics = ["x"]\nmax_entries = "many"'), "feeds.custom.chips-en.max_entries: "),
        (custom('topics = ["Not A Slug"]'), "feeds.custom.chips-en.topics: 'Not A Slug'"),
        (custom('topics = ["all"]'), "feeds.custom.chips-en.topics: 'all'"),
        (custom('exclude_topics = ["a/b"]\nlang = ["en"]'), "feeds.custom.chips-en.exclude_topics"),
        (custom('entities = ["  "]'), "feeds.custom.chips-en.entities: entry 1 is an empty name"),
        (custom(f'entities = ["{"x" * 201}"]'), "feeds.custom.chips-en.entities: entry 1"),
        (custom('lang = ["en__GB"]'), "feeds.custom.chips-en.lang: not a BCP 47 language tag"),
        (custom('entities = ["bell\\u0007"]'), "feeds.custom.chips-en.entities: entry 1: entity"),
        (custom('lang = ["en"]\ncolour = "red"'), "feeds.custom.chips-en.colour: unknown key"),
        (custom(""), "feeds.custom.chips-en: give at least one of topics, entities, lang or"),
        (
            custom('topics = ["x", "y"]\nexclude_topics = ["y", "x", "z"]'),
            "feeds.custom.chips-en: exclude_topics leaves out every topic of topics",
        ),
        (custom('lang = ["x"]'), "feeds.custom.chips-en.lang: not a BCP 47 language tag"),
        (custom('topics = ["x"]', name="Chips EN"), "feeds.custom.Chips EN.name: 'Chips EN'"),
        (custom('topics = ["x"]', name="../etc"), "feeds.custom.../etc.name: '../etc' is not"),
        # Without a usable name the feed is named by its place in the list.
        ('[[feeds.custom]]\ntopics = ["x"]\n', "feeds.custom.0.name: Field required"),
        (
            custom('topics = ["x"]') + custom('lang = ["en"]', name="ok") + custom('lang = ["de"]'),
            "feeds.custom: duplicate name 'chips-en'",
        ),
    ],
)
def test_custom_feed_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error(tmp_path, text)


@pytest.mark.parametrize(
    "text",
    [
        'exclude_topics = ["sponsored"]',  # everything but one topic
        'content = "summary"',  # everything, as summaries
        "max_entries = 200",  # everything, a longer window
    ],
)
def test_a_custom_feed_of_every_topic_but_some_or_of_another_shape_loads(
    tmp_path: Path, text: str
) -> None:
    (feed,) = load(tmp_path, custom(text)).feeds.custom_feeds()
    assert (feed.topics, feed.entity_keys, feed.langs) == (frozenset(), frozenset(), ())
    assert feed.matches(["energy"], [], None)
    assert feed.matches(["sponsored"], [], "en") is (feed.exclude_topics == frozenset())


def test_a_language_filter_takes_a_locale_name_as_its_tag(tmp_path: Path) -> None:
    # As records' `lang` does: `de_DE` is `de-DE`, in custom feeds and webhooks.
    (feed,) = load(tmp_path, custom('lang = ["de_DE", "pt"]')).feeds.custom_feeds()
    assert feed.langs == ("de-de", "pt")
    hook = load(tmp_path, webhook('lang = ["pt_BR"]')).webhooks[0]
    assert hook.lang == ("pt-BR",) and hook.route().langs == ("pt-br",)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("topics = []", 'webhooks.crm.topics: an empty list matches no article; use ["*"]'),
        ('topics = ["Bad Topic"]', "webhooks.crm.topics: 'Bad Topic' is not a topic slug"),
        ('topics = ["all"]', "webhooks.crm.topics: 'all' is not a topic slug"),
        ('entities = ["bell\\u0007"]', "webhooks.crm.entities: entry 1: entity 'bell\\x07' holds"),
    ],
)
def test_webhook_filters_that_could_never_match_are_config_errors(
    tmp_path: Path, filters: str, expected: str
) -> None:
    assert expected in error(tmp_path, webhook(filters))


def test_every_bad_custom_feed_is_reported_at_once(tmp_path: Path) -> None:
    message = error(tmp_path, custom('content = "x"') + custom('lang = ["?"]', name="b"))
    assert "feeds.custom.chips-en.content" in message
    assert "feeds.custom.b.lang" in message


def test_webhook_facet_filters_load(tmp_path: Path) -> None:
    settings = load(tmp_path, webhook('entities = ["NVIDIA", "Société"]\nlang = ["de", "EN-gb"]'))
    hook = settings.webhooks[0]
    assert (hook.entities, hook.lang) == (("NVIDIA", "Société"), ("de", "EN-gb"))
    assert hook.route() == Route(
        "crm",
        frozenset({"article.created", "article.updated"}),
        frozenset({"*"}),
        frozenset({"nvidia", "société"}),
        ("de", "en-gb"),
    )


def test_webhook_without_facet_filters_routes_by_topics_alone(tmp_path: Path) -> None:
    route = load(tmp_path, webhook('topics = ["space"]')).webhooks[0].route()
    assert route.topics == frozenset({"space"}) and not route.filters_facets


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('entities = [""]', "webhooks.crm.entities: entry 1 is an empty name"),
        (f'entities = ["ok", "{"y" * 201}"]', "webhooks.crm.entities: entry 2"),
        ("entities = [3]", "webhooks.crm.entities.0: "),
        ('lang = ["english please"]', "webhooks.crm.lang: not a BCP 47 language tag"),
        ('lang = "en"', "webhooks.crm.lang: "),
    ],
)
def test_webhook_facet_filter_errors_name_the_key(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in error(tmp_path, webhook(body))
