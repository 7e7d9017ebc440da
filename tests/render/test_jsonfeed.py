"""JSON Feed 1.1."""

from __future__ import annotations

from dataclasses import replace

from syndicator.models import RenderedArticle
from syndicator.render.feeds import FeedInfo, entry_id, render_json
from tests.feedcheck import assert_valid_json_feed
from tests.render.articles import BASE_URL, make_article, when


def test_feed_level(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    doc = assert_valid_json_feed(render_json(info, two_entries))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == "Syndicator Test: ai"
    assert doc["home_page_url"] == f"{BASE_URL}/"
    assert doc["feed_url"] == f"{BASE_URL}/feeds/ai.json"
    assert doc["authors"] == [{"name": "Syndicator Test"}]
    assert "hubs" not in doc and "language" not in doc


def test_items(info: FeedInfo, two_entries: list[RenderedArticle]) -> None:
    doc = assert_valid_json_feed(render_json(info, two_entries))
    full, sparse = doc["items"]
    assert full == {
        "id": entry_id("second-post"),
        "url": "https://example.com/second-post",
        "external_url": "https://source.example/second-post",
        "title": "Title of second-post",
        "content_html": "<p>Body of <strong>second-post</strong>.</p>\n",
        "summary": "Summary of second-post.",
        "date_published": "2026-06-03T12:00:00+00:00",
        "date_modified": "2026-06-04T12:00:00+00:00",
        "tags": ["ai", "chips"],
        "language": "en",
    }
    assert sparse["id"] == entry_id("first-post")
    assert "external_url" not in sparse and "language" not in sparse
    assert sparse["tags"] == ["ai"]


def test_hubs_and_language(info: FeedInfo) -> None:
    info = replace(info, hub_urls=("https://hub.example/",), language="fr")
    doc = assert_valid_json_feed(render_json(info, []))
    assert doc["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    assert doc["language"] == "fr"
    assert doc["items"] == []


def test_item_without_body_still_has_content(info: FeedInfo) -> None:
    article = make_article(body_md=None, summary=None, topics=())
    doc = assert_valid_json_feed(render_json(info, [RenderedArticle(article, None)]))
    (item,) = doc["items"]
    assert item["content_text"] == ""
    assert "content_html" not in item and "summary" not in item and "tags" not in item


def test_summary_is_plain_text(info: FeedInfo) -> None:
    article = make_article(summary="<b>not bold</b> & more", updated_at=when(2))
    doc = assert_valid_json_feed(render_json(info, [RenderedArticle(article, None)]))
    # JSON Feed's summary is plain text by definition; it goes out as written.
    assert doc["items"][0]["summary"] == "<b>not bold</b> & more"


def test_utf8_not_ascii_escaped(info: FeedInfo) -> None:
    article = make_article(title="Über café — 東京")
    data = render_json(info, [RenderedArticle(article, None)])
    assert "Über café — 東京".encode() in data
