"""RSS 2.0 and Atom 1.0: parsed back with lxml and feedparser."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import feedparser
import pytest

from syndicator.errors import RenderError
from syndicator.models import Article, RenderedArticle
from syndicator.render.feeds import (
    CONTENT_TYPES,
    FORMATS,
    FeedInfo,
    entry_id,
    feed_path,
    feed_url,
    render_atom,
    render_feed,
    render_rss,
)
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss
from tests.render.articles import BASE_URL, make_article, rendered, when

A = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HUBS = ("https://hub.example/", "https://hub2.example/websub")


# --- URLs and identity -----------------------------------------------------


def test_feed_paths_and_urls() -> None:
    assert feed_path("ai", "rss") == "feeds/ai.rss"
    assert feed_path("all", "json") == "feeds/all.json"
    assert feed_url(BASE_URL, "ai", "atom") == f"{BASE_URL}/feeds/ai.atom"
    assert feed_url(BASE_URL + "/", "ai", "atom") == f"{BASE_URL}/feeds/ai.atom"
    assert set(FORMATS) <= set(CONTENT_TYPES)


@pytest.mark.parametrize("topic", ["../etc", "a/b", "", "AI", "x y"])
def test_unsafe_topics_never_become_paths(topic: str) -> None:
    with pytest.raises(RenderError):
        feed_path(topic, "rss")


def test_unknown_format_is_rejected(info: FeedInfo) -> None:
    with pytest.raises(RenderError):
        feed_path("ai", "xml")
    with pytest.raises(RenderError):
        render_feed("xml", info, [])


def test_entry_id_is_a_stable_urn_from_the_slug_alone() -> None:
    assert entry_id("first-post") == entry_id("first-post")
    assert entry_id("first-post") != entry_id("second-post")
    assert entry_id("first-post").startswith("urn:uuid:")
    # Pinned: a change here would show every article as new in every reader.
    assert entry_id("first-post") == "urn:uuid:d0b625ac-a9ad-52ba-b2a8-c6666b08053e"


@pytest.mark.parametrize("fmt", FORMATS)
def test_entry_id_survives_edits(info: FeedInfo, fmt: str) -> None:
    original = make_article("stable")
    edited = replace(
        original,
        title="A new title",
        body_md="A new body",
        url="https://elsewhere.example/moved",
        published_at=when(10),
        updated_at=when(11),
        summary="changed",
    )
    ids = [_ids(fmt, render_feed(fmt, info, [rendered(a)])) for a in (original, edited)]
    assert ids[0] == ids[1] == [entry_id("stable")]


def _ids(fmt: str, data: bytes) -> list[str]:
    if fmt == "json":
        return [item["id"] for item in assert_valid_json_feed(data)["items"]]
    return [entry.id for entry in feedparser.parse(data).entries]


# --- RSS -------------------------------------------------------------------


def test_rss_channel(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    root = assert_valid_rss(render_rss(info, two_entries))
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Syndicator Test: ai"
    assert channel.findtext("link") == f"{BASE_URL}/"
    assert channel.findtext("lastBuildDate") == "Thu, 04 Jun 2026 12:00:00 +0000"
    assert channel.findtext("pubDate") == "Thu, 04 Jun 2026 12:00:00 +0000"
    assert channel.findtext("generator") == "Syndicator"
    assert channel.find("language") is None
    self_links = [ln for ln in channel.iter(f"{A}link") if ln.get("rel") == "self"]
    assert [(ln.get("href"), ln.get("type")) for ln in self_links] == [
        (f"{BASE_URL}/feeds/ai.rss", "application/rss+xml")
    ]
    assert not [ln for ln in channel.iter(f"{A}link") if ln.get("rel") == "hub"]


def test_rss_items(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    root = assert_valid_rss(render_rss(info, two_entries))
    items = root.findall("channel/item")
    assert [item.findtext("guid") for item in items] == [
        entry_id("second-post"),
        entry_id("first-post"),
    ]  # order kept as given: newest first
    first = items[0]
    guid = first.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert first.findtext("title") == "Title of second-post"
    assert first.findtext("link") == "https://example.com/second-post"
    assert first.findtext("pubDate") == "Wed, 03 Jun 2026 12:00:00 +0000"
    assert first.findtext("description") == "Summary of second-post."
    assert first.findtext(CONTENT_ENCODED) == "<p>Body of <strong>second-post</strong>.</p>\n"
    assert [c.text for c in first.findall("category")] == ["ai", "chips"]


def test_rss_feedparser_view(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    parsed = feedparser.parse(render_rss(info, two_entries))
    assert parsed.version == "rss20"
    entry = parsed.entries[0]
    assert entry.id == entry_id("second-post")
    assert entry.link == "https://example.com/second-post"
    assert entry.published_parsed[:6] == (2026, 6, 3, 12, 0, 0)
    assert entry.content[0].value == "<p>Body of <strong>second-post</strong>.</p>"
    assert [t.term for t in entry.tags] == ["ai", "chips"]


def test_rss_with_language_and_hubs(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    info = replace(info, hub_urls=HUBS, language="en-GB")
    root = assert_valid_rss(render_rss(info, two_entries))
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("language") == "en-GB"
    links = [(ln.get("rel"), ln.get("href")) for ln in channel.iter(f"{A}link")]
    assert links == [("self", f"{BASE_URL}/feeds/ai.rss"), *(("hub", h) for h in HUBS)]


# --- Atom ------------------------------------------------------------------


def test_atom_feed(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    root = assert_valid_atom(render_atom(info, two_entries))
    assert root.findtext(f"{A}title") == "Syndicator Test: ai"
    assert root.findtext(f"{A}id") == f"{BASE_URL}/feeds/ai.atom"
    assert root.findtext(f"{A}updated") == "2026-06-04T12:00:00+00:00"
    assert root.findtext(f"{A}author/{A}name") == "Syndicator Test"
    links = {ln.get("rel"): ln for ln in root.findall(f"{A}link")}
    assert links["self"].get("href") == f"{BASE_URL}/feeds/ai.atom"
    assert links["self"].get("type") == "application/atom+xml"
    assert links["alternate"].get("href") == f"{BASE_URL}/"
    assert "hub" not in links
    assert root.get(XML_LANG) is None


def test_atom_entries(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    root = assert_valid_atom(render_atom(info, two_entries))
    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}id") for e in entries] == [
        entry_id("second-post"),
        entry_id("first-post"),
    ]
    full, sparse = entries
    assert full.findtext(f"{A}title") == "Title of second-post"
    assert full.findtext(f"{A}published") == "2026-06-03T12:00:00+00:00"
    assert full.findtext(f"{A}updated") == "2026-06-04T12:00:00+00:00"
    links = {ln.get("rel"): ln.get("href") for ln in full.findall(f"{A}link")}
    assert links == {
        "alternate": "https://example.com/second-post",
        "related": "https://source.example/second-post",
    }
    summary = full.find(f"{A}summary")
    assert summary is not None and summary.get("type") == "text"
    assert summary.text == "Summary of second-post."
    content = full.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == "<p>Body of <strong>second-post</strong>.</p>\n"
    assert [c.get("term") for c in full.findall(f"{A}category")] == ["ai", "chips"]
    assert full.get(XML_LANG) == "en"
    assert sparse.get(XML_LANG) is None
    assert [ln.get("rel") for ln in sparse.findall(f"{A}link")] == ["alternate"]


def test_atom_feedparser_view(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    parsed = feedparser.parse(render_atom(info, two_entries))
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Syndicator Test: ai"
    entry = parsed.entries[0]
    assert entry.id == entry_id("second-post")
    assert entry.link == "https://example.com/second-post"
    assert entry.published_parsed[:6] == (2026, 6, 3, 12, 0, 0)
    assert entry.updated_parsed[:6] == (2026, 6, 4, 12, 0, 0)
    assert entry.summary == "Summary of second-post."
    assert entry.content[0].type == "text/html"
    assert [t.term for t in entry.tags] == ["ai", "chips"]


def test_atom_with_language_and_hubs(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    info = replace(info, hub_urls=HUBS, language="de")
    root = assert_valid_atom(render_atom(info, two_entries))
    assert root.get(XML_LANG) == "de"
    hubs = [ln.get("href") for ln in root.findall(f"{A}link") if ln.get("rel") == "hub"]
    assert hubs == list(HUBS)


def test_all_topic_title(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    info = replace(info, topic="all")
    root = assert_valid_atom(render_atom(info, two_entries))
    assert root.findtext(f"{A}title") == "Syndicator Test"
    assert root.findtext(f"{A}id") == f"{BASE_URL}/feeds/all.atom"


# --- Both XML formats ------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_feed_is_valid(info: FeedInfo, fmt: str) -> None:
    data = render_feed(fmt, info, [])
    _validate(fmt, data)
    assert b"<item" not in data and b"<entry" not in data


@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_identical_on_repeat(info: FeedInfo, fmt: str) -> None:
    def build() -> bytes:
        entries = [rendered(make_article("a")), rendered(make_article("b", updated_at=when(1)))]
        return render_feed(fmt, replace(info, hub_urls=HUBS, language="en"), entries)

    assert build() == build()


@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_record(info: FeedInfo, seed_article: Article, fmt: str) -> None:
    data = render_feed(fmt, replace(info, topic="all"), [rendered(seed_article)])
    _validate(fmt, data)
    assert entry_id(seed_article.slug) in data.decode()
    if fmt != "json":
        entry = feedparser.parse(data).entries[0]
        assert entry.link == seed_article.url
        assert entry.title == seed_article.title
        assert "Kazuo Tadanobu" in entry.content[0].value
        assert [t.term for t in entry.tags] == list(seed_article.topics)


def test_seed_record_keeps_fractional_updated(info: FeedInfo, seed_article: Article) -> None:
    root = assert_valid_atom(render_atom(info, [rendered(seed_article)]))
    assert root.findtext(f"{A}entry/{A}updated") == "2026-06-30T12:31:01.483796+00:00"


def test_offsets_are_normalised_to_utc(info: FeedInfo) -> None:
    plus_two = timezone(timedelta(hours=2))
    article = make_article(updated_at=datetime(2026, 6, 2, 14, 0, tzinfo=plus_two))
    info = replace(info, updated=datetime(2026, 6, 4, 14, 0, tzinfo=plus_two))
    atom = assert_valid_atom(render_atom(info, [rendered(article)]))
    assert atom.findtext(f"{A}updated") == "2026-06-04T12:00:00+00:00"
    assert atom.findtext(f"{A}entry/{A}updated") == "2026-06-02T12:00:00+00:00"


@pytest.mark.parametrize("fmt", FORMATS)
def test_naive_datetimes_are_a_render_error(info: FeedInfo, fmt: str) -> None:
    with pytest.raises(RenderError):
        render_feed(fmt, replace(info, updated=datetime(2026, 6, 1)), [])
    article = make_article(published_at=datetime(2026, 6, 1))
    with pytest.raises(RenderError):
        render_feed(fmt, info, [rendered(article)])


def test_rss_body_without_summary_stays_in_content_encoded(info: FeedInfo) -> None:
    item = rendered(make_article(summary=None))
    root = assert_valid_rss(render_rss(info, [item]))
    assert root.find("channel/item/description") is None
    assert root.findtext(f"channel/item/{CONTENT_ENCODED}") == item.content_html


@pytest.mark.parametrize("fmt", FORMATS)
def test_minimal_article(info: FeedInfo, fmt: str) -> None:
    article = Article(
        slug="bare",
        title="Bare",
        url="https://example.com/bare",
        published_at=when(1),
        updated_at=when(1, 13),
    )
    data = render_feed(fmt, info, [RenderedArticle(article, None)])
    _validate(fmt, data)
    assert entry_id("bare") in data.decode()


def _validate(fmt: str, data: bytes) -> None:
    {"rss": assert_valid_rss, "atom": assert_valid_atom, "json": assert_valid_json_feed}[fmt](data)
