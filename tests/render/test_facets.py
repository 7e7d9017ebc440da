"""Every field of the record in every format: entity categories, alternate
links, the JSON Feed `_syndicator` object, and facet feeds (SPEC §4b)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import feedparser
import pytest

from syndicator.core.urls import facet_name, split_feed_name
from syndicator.errors import RenderError
from syndicator.models import RenderedArticle
from syndicator.render import cache, feeds
from syndicator.render.feeds import (
    FORMATS,
    FeedInfo,
    entry_id,
    feed_path,
    feed_url,
    is_feed_name,
    reference_render,
    render_atom,
    render_feed,
    render_json,
    render_rss,
)
from syndicator.render.jsonfeed import reference_render_json
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss
from tests.render.articles import BASE_URL, make_article, rendered, when

A = "{http://www.w3.org/2005/Atom}"
SCHEME = f"{BASE_URL}/feeds/entities/"
ENTITIES = (("nvidia", "Nvidia"), ("societe-generale", "Société Générale"), ("arm", "Arm"))
ALTERNATES = {
    "jsonld": "https://example.com/p.jsonld",
    "html": "https://example.com/p/print",
    "unknown": "https://example.com/p.pdf",
    "text": "https://example.com/p.txt",
    "markdown": "https://example.com/p.md",
}


def _item(slug: str = "post", **changes: object) -> RenderedArticle:
    article = make_article(slug, **{"alternates": ALTERNATES, **changes})
    return replace(rendered(article), entities=ENTITIES)


def _info(**changes: object) -> FeedInfo:
    base = FeedInfo(site_title="Site", base_url=BASE_URL, topic="ai", updated=when(4))
    return replace(base, **changes)


# --- entity categories -----------------------------------------------------


def test_atom_categories_carry_topics_then_entities_once_each() -> None:
    root = assert_valid_atom(render_atom(_info(), [_item()]))
    categories = [c.attrib for c in root.iter(f"{A}category")]
    assert categories == [
        {"term": "ai"},
        {"term": "chips"},
        *({"term": slug, "scheme": SCHEME, "label": label} for slug, label in ENTITIES),
    ]


def test_rss_categories_carry_the_label_and_the_entity_domain() -> None:
    root = assert_valid_rss(render_rss(_info(), [_item()]))
    categories = root.findall("channel/item/category")
    assert [(c.text, c.get("domain")) for c in categories] == [
        ("ai", None),
        ("chips", None),
        *((label, SCHEME) for _, label in ENTITIES),
    ]


def test_repeated_or_blank_entities_become_one_category_each() -> None:
    item = replace(
        _item(), entities=(("nvidia", "Nvidia"), ("nvidia", "NVIDIA"), ("x-1", " \x01 "))
    )
    root = assert_valid_atom(render_atom(_info(), [item]))
    entities = [c.attrib for c in root.iter(f"{A}category") if c.get("scheme")]
    assert entities == [
        {"term": "nvidia", "scheme": SCHEME, "label": "Nvidia"},
        {"term": "x-1", "scheme": SCHEME, "label": "x-1"},  # blank label: the slug
    ]
    items = assert_valid_json_feed(render_json(_info(), [item]))["items"]
    assert [e["slug"] for e in items[0]["_syndicator"]["entities"]] == ["nvidia", "x-1"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_entities_back_as_tags(fmt: str) -> None:
    parsed = feedparser.parse(render_feed(fmt, _info(), [_item()]))
    assert not parsed.bozo
    tags = parsed.entries[0].tags
    entity_tags = [t for t in tags if t.scheme == SCHEME]
    if fmt == "atom":
        assert [(t.term, t.label) for t in entity_tags] == list(ENTITIES)
    else:  # RSS has no term: the category's text is the label
        assert [t.term for t in entity_tags] == [label for _, label in ENTITIES]
    assert [t.term for t in tags if not t.scheme] == ["ai", "chips"]


def test_entity_scheme_follows_the_base_url() -> None:
    info = _info(base_url="https://news.example/site/")
    root = assert_valid_atom(render_atom(info, [_item()]))
    schemes = {c.get("scheme") for c in root.iter(f"{A}category") if c.get("scheme")}
    assert schemes == {"https://news.example/site/feeds/entities/"}


# --- alternates ------------------------------------------------------------


def _alternates(data: bytes) -> list[tuple[str | None, str | None]]:
    root = assert_valid_atom(data)
    entry = root.find(f"{A}entry")
    assert entry is not None
    links = entry.findall(f"{A}link")
    return [(ln.get("type"), ln.get("href")) for ln in links if ln.get("rel") == "alternate"]


def test_atom_alternates_are_typed_links_and_unknown_names_are_skipped() -> None:
    assert _alternates(render_atom(_info(), [_item()])) == [
        # The article URL, as before. The html alternate is another page:
        # a second text/html alternate would be read as the entry's link.
        (None, "https://example.com/post"),
        ("text/markdown", "https://example.com/p.md"),
        ("text/plain", "https://example.com/p.txt"),
        ("application/ld+json", "https://example.com/p.jsonld"),
    ]


def test_no_two_alternates_share_a_type() -> None:
    # RFC 4287 §4.1.1: no two rel="alternate" links with the same type and
    # hreflang. An html alternate that is the article URL types the main link.
    same = {"html": "https://example.com/post", "markdown": "https://example.com/p.md"}
    item = rendered(make_article("post", alternates=same))
    links = _alternates(render_atom(_info(), [item]))
    assert links == [
        ("text/html", "https://example.com/post"),
        ("text/markdown", same["markdown"]),
    ]
    for data in (render_atom(_info(), [item]), render_atom(_info(), [_item()])):
        types = [t for t, _ in _alternates(data)]
        assert len(types) == len(set(types))


def test_rss_items_are_unchanged_by_alternates() -> None:
    root = assert_valid_rss(render_rss(_info(), [_item()]))
    item = root.find("channel/item")
    assert item is not None
    assert item.findtext("link") == "https://example.com/post"
    assert b"p.md" not in render_rss(_info(), [_item()])


def test_feedparser_sees_the_typed_alternates() -> None:
    entry = feedparser.parse(render_atom(_info(), [_item()])).entries[0]
    assert entry.link == "https://example.com/post"  # the article, not the html alternate
    links = {ln.get("type"): ln.href for ln in entry.links if ln.rel == "alternate"}
    assert links == {
        "text/html": "https://example.com/post",  # feedparser's default type
        "text/markdown": ALTERNATES["markdown"],
        "text/plain": ALTERNATES["text"],
        "application/ld+json": ALTERNATES["jsonld"],
    }


# --- the JSON Feed extension object ----------------------------------------


def test_json_items_carry_the_syndicator_object() -> None:
    items = assert_valid_json_feed(render_json(_info(), [_item()]))["items"]
    assert items[0]["_syndicator"] == {
        "entities": [
            {"slug": slug, "name": name, "feed": f"{BASE_URL}/feeds/entities/{slug}.json"}
            for slug, name in ENTITIES
        ],
        # Every alternate, unknown names too; known names first, in a fixed order.
        "alternates": {
            "html": ALTERNATES["html"],
            "markdown": ALTERNATES["markdown"],
            "text": ALTERNATES["text"],
            "jsonld": ALTERNATES["jsonld"],
            "unknown": ALTERNATES["unknown"],
        },
    }
    assert list(items[0]["_syndicator"]["alternates"]) == [
        "html",
        "markdown",
        "text",
        "jsonld",
        "unknown",
    ]


def test_json_object_keeps_both_keys_and_is_absent_when_empty() -> None:
    only_entities = replace(rendered(make_article("a")), entities=ENTITIES[:1])
    only_alternates = rendered(make_article("b", alternates={"text": "https://e.example/b"}))
    neither = rendered(make_article("c"))
    items = assert_valid_json_feed(render_json(_info(), [only_entities, only_alternates, neither]))[
        "items"
    ]
    assert items[0]["_syndicator"]["alternates"] == {}
    assert items[1]["_syndicator"]["entities"] == []
    assert "_syndicator" not in items[2]


def test_bytes_do_not_depend_on_the_order_of_the_alternates() -> None:
    reordered = dict(reversed(list(ALTERNATES.items())))
    for fmt in FORMATS:
        assert render_feed(fmt, _info(), [_item()]) == render_feed(
            fmt, _info(), [_item(alternates=reordered)]
        )


# --- facet feeds -------------------------------------------------------------


def test_facet_names_round_trip() -> None:
    assert facet_name("entities", "nvidia") == "entities/nvidia"
    assert split_feed_name("entities/nvidia") == ("entities", "nvidia")
    assert split_feed_name("lang/pt-br") == ("lang", "pt-br")
    assert split_feed_name("ai") == (None, "ai")
    assert split_feed_name("foo/bar") == (None, "foo/bar")
    with pytest.raises(ValueError, match="facet kind"):
        facet_name("people", "x")


@pytest.mark.parametrize(
    "name", ["entities/nvidia", "lang/pt-br", "lang/de", "custom/chips-en", "entities/all"]
)
def test_facet_names_are_feed_paths(name: str) -> None:
    assert is_feed_name(name)
    assert feed_path(name, "atom") == f"feeds/{name}.atom"
    assert feed_url(BASE_URL + "/", name, "json") == f"{BASE_URL}/feeds/{name}.json"


@pytest.mark.parametrize(
    "name",
    [
        "entities/../x",
        "entities/",
        "foo/bar",
        "entities/a/b",
        "lang/PT-BR",
        "custom/x y",
        "/etc",
        "entities/-x",
        "entities/..",
    ],
)
def test_other_names_never_become_paths(name: str) -> None:
    assert not is_feed_name(name)
    with pytest.raises(RenderError, match="unsafe feed name"):
        feed_path(name, "rss")


@pytest.mark.parametrize(
    ("topic", "label", "title", "description"),
    [
        ("entities/nvidia", "Nvidia", "Site: Nvidia", "Articles mentioning Nvidia from Site"),
        ("lang/de", "German (de)", "Site: German (de)", "Articles in German (de) from Site"),
        (
            "custom/chips-en",
            "chips-en",
            "Site: chips-en",
            "Articles of the custom feed chips-en from Site",
        ),
        ("entities/arm", None, "Site: arm", "Articles mentioning arm from Site"),
        ("ai", "ignored", "Site: ai", "Articles on ai from Site"),
        ("all", "ignored", "Site", "All articles from Site"),
    ],
)
def test_facet_feed_titles_and_self_links(
    topic: str, label: str | None, title: str, description: str
) -> None:
    info = _info(topic=topic, label=label)
    atom = assert_valid_atom(render_atom(info, [_item()]))
    assert atom.findtext(f"{A}title") == title
    assert atom.findtext(f"{A}subtitle") == description
    self_links = [ln.get("href") for ln in atom.findall(f"{A}link") if ln.get("rel") == "self"]
    assert self_links == [f"{BASE_URL}/feeds/{topic}.atom"]
    assert atom.findtext(f"{A}id") == f"{BASE_URL}/feeds/{topic}.atom"

    rss = assert_valid_rss(render_rss(info, [_item()]))
    assert rss.findtext("channel/title") == title
    assert rss.findtext("channel/description") == description
    rss_self = [ln.get("href") for ln in rss.iter(f"{A}link") if ln.get("rel") == "self"]
    assert rss_self == [f"{BASE_URL}/feeds/{topic}.rss"]

    doc = assert_valid_json_feed(render_json(info, [_item()]))
    assert (doc["title"], doc["description"]) == (title, description)
    assert doc["feed_url"] == f"{BASE_URL}/feeds/{topic}.json"


def test_entity_feed_self_link_as_feedparser_sees_it() -> None:
    parsed = feedparser.parse(render_atom(_info(topic="entities/nvidia", label="Nvidia"), []))
    assert not parsed.bozo
    assert parsed.feed.title == "Site: Nvidia"
    self_links = [ln.href for ln in parsed.feed.links if ln.rel == "self"]
    assert self_links == [f"{BASE_URL}/feeds/entities/nvidia.atom"]


def test_hostile_label_is_cleaned_and_escaped() -> None:
    info = _info(topic="custom/x", label="<b>A\x00 & B</b>")
    atom = assert_valid_atom(render_atom(info, []))
    assert atom.findtext(f"{A}title") == "Site: <b>A & B</b>"
    doc = json.loads(render_json(info, []))
    assert doc["title"] == "Site: <b>A & B</b>"


# --- composition and the fragment cache ------------------------------------

CACHES = cache.RenderCache()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    CACHES.clear()
    yield
    CACHES.clear()


def _reference(fmt: str, info: FeedInfo, entries: list[RenderedArticle]) -> bytes:
    if fmt == "json":
        return reference_render_json(info, entries)
    return reference_render(fmt, info, entries)


@pytest.mark.parametrize("fmt", FORMATS)
def test_composition_equals_reference_with_entities_and_alternates(fmt: str) -> None:
    entries = [
        replace(_item("one"), digest="d1"),
        replace(_item("two", alternates={"html": "https://example.com/two"}), digest="d2"),
        replace(rendered(make_article("three")), digest="d3"),
        replace(_item("four"), entities=(), digest="d4"),
    ]
    infos = [_info(), _info(topic="entities/nvidia", label="Nvidia", deleted=(("x", when(1)),))]
    for _ in range(2):  # cold, then from the cache
        for info in infos:
            assert feeds.render_feed(fmt, info, entries, CACHES) == _reference(fmt, info, entries)
    # Fragments split from a composed document compose it again.
    info = infos[1]
    document = feeds.render_feed(fmt, info, entries, CACHES)
    parts = feeds.split_feed(fmt, document)
    assert parts is not None and len(parts) == len(entries)
    mixed: list[RenderedArticle | bytes] = [parts[0], entries[1], parts[2], entries[3]]
    assert feeds.compose_feed(fmt, info, mixed, CACHES) == document


@pytest.mark.parametrize("fmt", FORMATS)
def test_fragment_cache_is_keyed_by_the_entity_pairs_and_base_url(fmt: str) -> None:
    # Same article version (slug, digest), another slug map: other bytes.
    first = replace(_item(), digest="v1")
    renamed = replace(first, entities=(("nvidia-2", "Nvidia Corp"),))
    info = _info()
    one = feeds.render_feed(fmt, info, [first], CACHES)
    two = feeds.render_feed(fmt, info, [renamed], CACHES)
    assert one != two and two == _reference(fmt, info, [renamed])
    assert b"Nvidia Corp" in two
    # Same entry in a site at another address: its own scheme and feed links.
    moved = _info(base_url="https://elsewhere.example")
    three = feeds.render_feed(fmt, moved, [first], CACHES)
    assert three == _reference(fmt, moved, [first])
    assert b"https://elsewhere.example/feeds/entities/" in three
    assert CACHES.fragments[fmt].stats().items == 3


def test_entries_without_entities_or_alternates_keep_their_bytes() -> None:
    # The first golden entry gained categories; an entry with neither did not
    # change (ids and links included), so readers see no spurious update.
    plain = rendered(make_article("plain"))
    entry = render_atom(_info(), [plain]).split(b"<entry")[1]
    assert b"scheme=" not in entry and re.search(rb"<link[^>]* type=", entry) is None
    assert entry_id("plain").encode() in entry
