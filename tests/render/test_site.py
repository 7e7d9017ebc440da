"""OPML subscription list and the HTML index page."""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest

from syndicator.errors import RenderError
from syndicator.render.feeds import (
    Outline,
    TopicSummary,
    render_index,
    render_opml,
    render_topic_opml,
)
from tests.render.articles import BASE_URL, when

TOPICS = [
    TopicSummary("chips", 2, when(3)),
    TopicSummary("all", 5, when(5)),
    TopicSummary("ai", 4, when(5, 9)),
    TopicSummary("empty", 0, None),
]


def test_opml_structure() -> None:
    root = ElementTree.fromstring(render_topic_opml("My <Site>", BASE_URL, TOPICS))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "My <Site> feeds"
    assert root.findtext("head/dateModified") == "Fri, 05 Jun 2026 12:00:00 GMT"
    # Only head elements OPML 2.0 defines: the W3C validator rejects <docs>.
    head = root.find("head")
    assert head is not None and [child.tag for child in head] == ["title", "dateModified"]
    # One group, named after the site, that only groups: `text` and nothing else.
    (group,) = root.findall("body/outline")
    assert group.attrib == {"text": "My <Site>"}
    feeds = group.findall("outline")
    # Each feed once, in RSS: importing the list subscribes to every topic once.
    assert [f.get("xmlUrl") for f in feeds] == [
        f"{BASE_URL}/feeds/{name}.rss" for name in ("all", "ai", "chips", "empty")
    ]
    for feed in feeds:
        assert list(feed.attrib) == ["type", "text", "title", "xmlUrl", "htmlUrl"]
        assert feed.get("type") == "rss" and feed.get("htmlUrl") == f"{BASE_URL}/"
        assert feed.get("text") == feed.get("title")
    assert feeds[0].get("text") == "My <Site>"
    assert feeds[1].get("title") == "My <Site>: ai"
    assert len(list(root.iter("outline"))) == 1 + len(TOPICS)


def test_opml_lists_language_and_custom_feeds_in_groups_of_their_own() -> None:
    data = render_topic_opml(
        "Site",
        BASE_URL,
        TOPICS,
        languages=[("lang/de", "de"), ("lang/en", "en")],
        custom=[("custom/chips-en", "chips-en")],
    )
    root = ElementTree.fromstring(data)
    groups = root.findall("body/outline")
    assert [g.attrib for g in groups] == [
        {"text": "Site"},
        {"text": "Site: languages"},
        {"text": "Site: custom feeds"},
    ]
    assert [(f.get("title"), f.get("xmlUrl")) for f in groups[1]] == [
        ("Site: de", f"{BASE_URL}/feeds/lang/de.rss"),
        ("Site: en", f"{BASE_URL}/feeds/lang/en.rss"),
    ]
    assert [(f.get("title"), f.get("xmlUrl")) for f in groups[2]] == [
        ("Site: chips-en", f"{BASE_URL}/feeds/custom/chips-en.rss"),
    ]
    # Without any, the list is the topics' alone, byte for byte.
    assert render_topic_opml("Site", BASE_URL, TOPICS, [], []) == render_topic_opml(
        "Site", BASE_URL, TOPICS
    )


def test_opml_from_outlines_keeps_their_order_and_nesting() -> None:
    entities = Outline(
        "Entities",
        children=(
            Outline("Site: Nvidia", f"{BASE_URL}/feeds/entities/nvidia.rss", f"{BASE_URL}/"),
            Outline("Site: Arm", f"{BASE_URL}/feeds/entities/arm.rss"),
        ),
    )
    data = render_opml("Site entities", [entities, Outline("Empty group")], when(3))
    root = ElementTree.fromstring(data)
    assert root.findtext("head/title") == "Site entities"
    assert root.findtext("head/dateModified") == "Wed, 03 Jun 2026 12:00:00 GMT"
    group, empty = root.findall("body/outline")
    assert group.attrib == {"text": "Entities"} and empty.attrib == {"text": "Empty group"}
    nvidia, arm = group.findall("outline")
    assert nvidia.get("xmlUrl") == f"{BASE_URL}/feeds/entities/nvidia.rss"
    assert nvidia.get("htmlUrl") == f"{BASE_URL}/"
    assert arm.get("title") == "Site: Arm" and arm.get("htmlUrl") is None
    assert render_opml("Site entities", [entities], None) == render_opml(
        "Site entities", [entities], None
    )


def test_opml_feed_outline_cannot_hold_others() -> None:
    feed = Outline("A feed", f"{BASE_URL}/feeds/ai.rss", children=(Outline("x"),))
    with pytest.raises(RenderError, match="A feed"):
        render_opml("S", [feed])


def test_opml_without_dates_and_deterministic() -> None:
    topics = [TopicSummary("all", 0, None)]
    data = render_topic_opml("S", BASE_URL, topics)
    assert ElementTree.fromstring(data).find("head/dateModified") is None
    assert data == render_topic_opml("S", BASE_URL, topics)
    assert render_topic_opml("S", BASE_URL, TOPICS) == render_topic_opml(
        "S", BASE_URL, TOPICS[::-1]
    )


def test_opml_strips_xml_illegal_characters() -> None:
    root = ElementTree.fromstring(render_topic_opml("Bad\x00\x1f\ufffe title", BASE_URL, TOPICS))
    assert root.findtext("head/title") == "Bad title feeds"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(data: bytes) -> _Collect:
    parser = _Collect()
    parser.feed(data.decode("utf-8"))
    parser.close()
    return parser


def test_index_page() -> None:
    data = render_index("My <Site> & co", BASE_URL, TOPICS)
    assert data.startswith(b"<!DOCTYPE html>\n")
    page = _parse(data)
    assert ("meta", {"charset": "utf-8"}) in page.starts
    assert "My <Site> & co" in page.text  # escaped in the markup, intact as text
    assert b"<title>My &lt;Site&gt; &amp; co</title>" in data
    alternates = [a for tag, a in page.starts if tag == "link" and a.get("rel") == "alternate"]
    rss = [a["href"] for a in alternates if a.get("type") == "application/rss+xml"]
    # The emptied topic keeps its feed but leaves the page (SPEC §4).
    assert rss == [f"{BASE_URL}/feeds/{n}.rss" for n in ("all", "ai", "chips")]
    assert f"{BASE_URL}/feeds/empty.rss" not in data.decode()
    assert {a.get("type") for a in alternates} == {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }
    assert all(a.get("title") for a in alternates)
    hrefs = {a["href"] for tag, a in page.starts if tag == "a"}
    assert f"{BASE_URL}/feeds/chips.json" in hrefs
    assert f"{BASE_URL}/feeds.opml" in hrefs
    assert "4 articles" in page.text and "2 articles" in page.text  # article counts


def test_index_is_deterministic_and_order_independent() -> None:
    assert render_index("S", BASE_URL, TOPICS) == render_index("S", BASE_URL, TOPICS[::-1])


def test_index_escapes_hostile_site_title() -> None:
    data = render_index('"><script>alert(1)</script>', BASE_URL, TOPICS)
    assert b"<script>alert" not in data
    assert b"&#34;&gt;&lt;script&gt;alert(1)" in data
