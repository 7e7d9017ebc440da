"""Hostile input: XML-illegal characters, markup in text fields, script in bodies."""

from __future__ import annotations

from dataclasses import replace
from xml.etree import ElementTree

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.models import Article, RenderedArticle
from syndicator.render.feeds import (
    FORMATS,
    FeedInfo,
    TopicSummary,
    entry_id,
    render_atom,
    render_feed,
    render_index,
    render_rss,
    render_topic_opml,
)
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss
from tests.render.articles import BASE_URL, make_article, rendered, when

# Every class of character XML 1.0 forbids, plus neighbours it allows.
ILLEGAL = "\x00\x01\x08\x0b\x0c\x0e\x1f\ud800\udfff\ufffe\uffff"
VALIDATORS = {"rss": assert_valid_rss, "atom": assert_valid_atom, "json": assert_valid_json_feed}
A = "{http://www.w3.org/2005/Atom}"


def _dirty(text: str) -> str:
    return f"{ILLEGAL[:3]}{text}{ILLEGAL[3:]}"


def _dirty_article() -> Article:
    return make_article(
        slug=_dirty("slug"),
        title=_dirty("Title"),
        url=_dirty("https://example.com/a"),
        summary=_dirty("Summary"),
        body_md=_dirty("Body &#1; &#x0B; text"),
        canonical_source=_dirty("https://source.example/a"),
        lang=_dirty("en"),
        topics=(_dirty("ai"), "chips"),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_illegal_characters_in_every_field(fmt: str) -> None:
    info = FeedInfo(
        site_title=_dirty("Site"),
        base_url=BASE_URL,
        topic="ai",
        updated=when(4),
        hub_urls=(_dirty("https://hub.example/"),),
        language=_dirty("en"),
    )
    article = _dirty_article()
    # The caller may hand over HTML it did not clean; the feed still has to parse.
    entries = [rendered(article), RenderedArticle(article, _dirty("<p>raw</p>"))]
    data = render_feed(fmt, info, entries)
    VALIDATORS[fmt](data)
    text = data.decode("utf-8")
    for ch in ILLEGAL:
        assert ch not in text
        assert f"&#{ord(ch)};" not in text and f"&#x{ord(ch):x};" not in text.lower()
    if fmt != "json":
        parsed = feedparser.parse(data)
        assert parsed.entries[0].title == "Title"
        assert parsed.entries[0].link == "https://example.com/a"


def test_illegal_characters_in_site_documents() -> None:
    topics = [TopicSummary("all", 1, when(1)), TopicSummary("ai", 1, when(1))]
    ElementTree.fromstring(render_topic_opml(_dirty("Site"), BASE_URL, topics))
    page = render_index(_dirty("Site"), BASE_URL, topics).decode("utf-8")
    assert not any(ch in page for ch in ILLEGAL)


XSS_BODY = (
    "Intro.\n\n"
    "<script>alert('body')</script>\n\n"
    '<img src="https://example.com/x.png" onerror="alert(1)">\n\n'
    '<a href="https://example.com" onclick="alert(2)">click</a> '
    "[js](javascript:alert(3)) "
    '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a>\n\n'
    '<iframe src="https://evil.example/"></iframe>\n'
)


def _assert_no_active_content(html: str) -> None:
    lowered = html.lower()
    for needle in ("<script", "onerror", "onclick", "javascript:", "data:", "<iframe"):
        assert needle not in lowered, needle


@pytest.mark.parametrize("fmt", FORMATS)
def test_script_never_reaches_feeds(info: FeedInfo, fmt: str) -> None:
    item = rendered(make_article(body_md=XSS_BODY))
    assert item.content_html is not None
    _assert_no_active_content(item.content_html)
    data = render_feed(fmt, info, [item])
    VALIDATORS[fmt](data)
    if fmt == "json":
        content = assert_valid_json_feed(data)["items"][0]["content_html"]
    else:
        # Check the content as a reader decodes it, not just the escaped bytes.
        content = feedparser.parse(data, sanitize_html=False).entries[0].content[0].value
    _assert_no_active_content(content)
    assert "Intro." in content and 'href="https://example.com"' in content


SUMMARY = "Use <b>bold</b> & <script>x()</script> carefully"


def test_summary_is_text_in_atom(info: FeedInfo) -> None:
    data = render_atom(info, [RenderedArticle(make_article(summary=SUMMARY), None)])
    root = assert_valid_atom(data)
    summary = root.find(f"{A}entry/{A}summary")
    assert summary is not None
    assert summary.get("type") == "text"
    assert summary.text == SUMMARY  # the exact text, as text
    assert len(summary) == 0  # no child elements: nothing became markup
    assert b"<b>" not in data
    parsed = feedparser.parse(data).entries[0]
    assert parsed.summary_detail.type == "text/plain"
    assert parsed.summary == SUMMARY


def test_summary_is_text_in_rss(info: FeedInfo) -> None:
    data = render_rss(info, [RenderedArticle(make_article(summary=SUMMARY), None)])
    root = assert_valid_rss(data)
    description = root.findtext("channel/item/description")
    # RSS readers treat <description> as HTML, so the text is escaped once more:
    # rendered as HTML it shows the original characters and contains no tags.
    assert (
        description
        == "Use &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt; carefully"
    )
    assert b"<b>" not in data
    assert "<b>" not in feedparser.parse(data, sanitize_html=False).entries[0].summary


@pytest.mark.parametrize("fmt", FORMATS)
def test_blank_titles_fall_back(fmt: str) -> None:
    info = FeedInfo(site_title="\x01", base_url=BASE_URL, topic="all", updated=when(2))
    article = make_article(title="\x02\x03")
    VALIDATORS[fmt](render_feed(fmt, info, [rendered(article)]))


_TEXT = st.text(
    alphabet=st.characters(codec=None, categories=None, exclude_categories=()),
    max_size=40,
)
_TEXT_WITH_CONTROLS = st.one_of(_TEXT, st.text(alphabet=ILLEGAL + "<>&\"' ab]]>", max_size=20))


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    site=_TEXT_WITH_CONTROLS,
    title=_TEXT_WITH_CONTROLS,
    summary=st.none() | _TEXT_WITH_CONTROLS,
    body=st.none() | _TEXT_WITH_CONTROLS,
)
def test_any_text_gives_valid_feeds(
    site: str, title: str, summary: str | None, body: str | None
) -> None:
    info = FeedInfo(site_title=site, base_url=BASE_URL, topic="ai", updated=when(3))
    article = replace(make_article("prop"), title=title, summary=summary, body_md=body)
    entries = [rendered(article)]
    for fmt in FORMATS:
        data = render_feed(fmt, info, entries)
        VALIDATORS[fmt](data)
        assert entry_id("prop") in data.decode("utf-8")
        assert render_feed(fmt, info, entries) == data
