"""Property-based tests: hostile records in, only `RecordInvalid` or safe, valid feeds out.

Text is drawn from an alphabet weighted towards what breaks feeds: C0/C1
controls, lone surrogates (delivered the way JSON delivers them, as ``\\ud800``
escapes decoded by the sources' own decoder), non-characters, right-to-left
marks and scripts, emoji (astral, ZWJ sequences), combining marks, and the
characters that matter to XML, HTML and Markdown.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html

from syndicator.core.article import article_to_dict, content_hash
from syndicator.core.events import event_payload
from syndicator.core.records import TOPIC_PATTERN, RecordLimits, parse_record
from syndicator.errors import RecordInvalid
from syndicator.models import ChangeKind, RenderedArticle
from syndicator.render.feeds import FeedInfo, render_feed
from syndicator.render.html import render_markdown
from syndicator.sources.decode import loads
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ----------------------------------------------------------------

_NASTY = (
    [chr(c) for c in range(0x00, 0x20)]
    + ["\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"]
    + ["\ud800", "\udbff", "\udc00", "\udfff"]  # lone surrogates
    + ["\u202e", "\u202d", "\u200f", "\u061c", "\u05d0", "\u0627", "\u0645"]  # RTL
    + ["\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1fa\U0001f1f8"]
    + ["\u0301", "\u0308", "\u20dd", "e\u0301", "\u0e49"]  # combining marks
    + ["<", ">", "&", '"', "'", "]]>", "<!--", "-->", "&amp;", "&#0;", "&#x1;", "\\"]
    + ["*", "_", "`", "[", "]", "(", ")", "!", "#", "|", "~", "\n", "\r\n", "\t", " "]
)
_PIECES = st.one_of(st.sampled_from(_NASTY), st.characters(codec=None))
TEXT = st.lists(_PIECES, max_size=40).map("".join)
LONG_TEXT = st.one_of(TEXT, st.builds(lambda s, n: s * n, TEXT, st.integers(50, 400)))

# Markdown and HTML that try to smuggle script past the sanitiser.
_HOSTILE_HTML = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<img src=x oNeRrOr=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](  javascript:alert(1)  )",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<iframe src="https://x.example"></iframe>',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<form action="javascript:alert(1)"><button formaction=javascript:alert(1)>x</button></form>',
    "<body onload=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    "<embed src=javascript:alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<template><script>alert(1)</script></template>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<<script>script>alert(1)<</script>/script>",
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    "```html\n<script>alert(1)</script>\n```",
    "| a | b |\n|---|---|\n| <script>x</script> | <img src=x onerror=y> |",
    "~~<script>~~alert(1)</script>",
    "www.example.org/<script>",
]
MARKDOWN = st.lists(st.one_of(st.sampled_from(_HOSTILE_HTML), LONG_TEXT), max_size=6).map(
    "\n\n".join
)

_OFFSETS = [timedelta(0), timedelta(hours=14), timedelta(hours=-12), timedelta(hours=5, minutes=45)]
_OFFSETS += [timedelta(hours=-9, minutes=-30), timedelta(hours=1)]
_EDGES = [
    "2024-02-29T23:59:59+14:00",  # leap day, furthest-ahead offset
    "2000-02-29 00:00:00-12:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T14:00:00+14:00",  # exactly year 1 in UTC
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T11:59:59-12:00",
    "1970-01-01T00:00:00+00:00",
    "2038-01-19T03:14:08Z",  # past 32-bit time_t
    "1900-03-01T00:00:00.5+01:00",
]


def _format(moment: datetime, style: int) -> str:
    text = moment.isoformat(sep="T" if style % 2 == 0 else " ")
    return text.replace("+00:00", "Z") if style >= 2 else text


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """A valid RFC 3339 timestamp with an offset, in every accepted spelling."""
    if draw(st.booleans()):
        return draw(st.sampled_from(_EDGES))
    offset = draw(st.sampled_from(_OFFSETS))
    # Keep clear of the year 1 / 9999 edges once the offset applies (those are above).
    local = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    return _format(local.replace(tzinfo=timezone(offset)), draw(st.integers(0, 3)))


def _slug(text: str) -> str:
    # A slug is free text minus whitespace and '/'; the prefix keeps it non-empty
    # after XML-illegal characters are stripped. A lone surrogate in a slug makes
    # the record invalid (stripping it could merge two identities), so none here.
    return "s" + "".join(
        ch for ch in text if not ch.isspace() and ch != "/" and not "\ud800" <= ch <= "\udfff"
    )


TOPICS = st.lists(
    st.from_regex(TOPIC_PATTERN, fullmatch=True).filter(lambda t: t != "all"), max_size=4
)
URLS = st.builds(
    lambda scheme, path: f"{scheme}://news.example.org/{path}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
        max_size=40,
    ),
)


@st.composite
def valid_records(draw: st.DrawFn, slug_index: int = 0) -> dict[str, Any]:
    """A record that must parse, with hostile text wherever text is allowed."""
    published = draw(timestamps())
    record: dict[str, Any] = {
        "slug": f"{slug_index}-{_slug(draw(TEXT))}",
        "title": "T" + draw(LONG_TEXT),
        "url": draw(URLS),
        "published_at": published,
        "updated_at": draw(st.one_of(st.just(published), timestamps())),
        "topics": draw(TOPICS),
    }
    optional: dict[str, Any] = {
        "summary": LONG_TEXT,
        "body_md": MARKDOWN,
        "canonical_source": URLS,
        "lang": st.sampled_from(["en", "ar", "he-IL", "zh-Hant-TW", "x-klingon", ""]),
        "entities": st.lists(TEXT, max_size=3),
        "alternates": st.dictionaries(TEXT, URLS, max_size=2),
        "x-unknown": TEXT,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            record[name] = draw(strategy)
    return record


def _via_json(value: Any) -> Any:
    """Round-trip through JSON text the way a source reads it.

    ``ensure_ascii`` writes lone surrogates as ``\\udXXX`` escapes: the only form
    in which they can reach us, since they are not encodable as UTF-8.
    """
    return loads(json.dumps(value, ensure_ascii=True))


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)
_FIELDS = [
    "slug",
    "title",
    "url",
    "published_at",
    "updated_at",
    "summary",
    "body_md",
    "canonical_source",
    "lang",
    "topics",
    "entities",
    "alternates",
]


@st.composite
def mangled_records(draw: st.DrawFn) -> Any:
    """A valid record with some fields replaced by arbitrary JSON (or removed)."""
    record = draw(valid_records())
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4)):
        if draw(st.booleans()):
            record[name] = draw(JSON_VALUES)
        else:
            record.pop(name, None)
    return record


# -- helpers -----------------------------------------------------------------------

_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background"}
_SCRIPT_ELEMENTS = {"script", "iframe", "object", "embed", "frame", "frameset", "svg", "math"}
_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.-]*)\s*:", re.IGNORECASE)


def assert_script_free(fragment: str, where: str) -> None:
    """No script element, event-handler attribute or script URL in an HTML fragment."""
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions carry nothing active
        assert element.tag.lower() not in _SCRIPT_ELEMENTS, f"{where}: <{element.tag}> survived"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"{where}: {name}= survived"
            assert name.lower() != "style", f"{where}: style= survived"
            if name.lower() in _URL_ATTRIBUTES:
                # Browsers ignore embedded tabs and newlines in schemes.
                compact = re.sub(r"[\x00-\x20]", "", value)
                scheme = _SCHEME.match(compact)
                if scheme:
                    assert scheme.group(1).lower() in ("http", "https", "mailto"), (
                        f"{where}: {name}={value!r} survived"
                    )


def _assert_text_only(fragment: str, where: str) -> None:
    """A plain-text summary, once XML-decoded, must hold no HTML element at all."""
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    elements = [e.tag for e in root.iter() if isinstance(e.tag, str)][1:]
    assert elements == [], f"{where}: summary became markup {elements}"


def _info(entries: list[RenderedArticle]) -> FeedInfo:
    newest = max((e.article.updated_at for e in entries), default=datetime(2026, 1, 1, tzinfo=UTC))
    return FeedInfo(
        site_title="Prop <Desk> & \u202eco",
        base_url="http://127.0.0.1:8080",
        topic="all",
        updated=newest,
        hub_urls=("http://127.0.0.1:8080/websub",),
        language="en",
    )


# Size limits have their own tests; here very long fields must render, not be refused.
_ROOMY = RecordLimits(max_field_chars=10_000_000, max_body_bytes=100_000_000)


def _render_all(records: list[dict[str, Any]]) -> None:
    articles = [parse_record(_via_json(r), _ROOMY) for r in records]
    rendered = [
        RenderedArticle(a, render_markdown(a.body_md) if a.body_md else None)
        for a in sorted(articles, key=lambda a: a.updated_at, reverse=True)
    ]
    for item in rendered:
        if item.content_html is not None:
            assert_script_free(item.content_html, f"render_markdown({item.article.body_md!r})")
    info = _info(rendered)

    atom = render_feed("atom", info, rendered)
    root = assert_valid_atom(atom)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for content in root.iterfind("a:entry/a:content", ns):
        assert_script_free(content.text or "", "atom:content")
    assert len(root.findall("a:entry", ns)) == len(rendered)

    rss = render_feed("rss", info, rendered)
    channel = assert_valid_rss(rss).find("channel")
    assert channel is not None
    encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
    for item in channel.iterfind("item"):
        for content in item.iterfind(encoded):
            assert_script_free(content.text or "", "content:encoded")
        for description in item.iterfind("description"):
            _assert_text_only(description.text or "", "rss description")
    parsed = feedparser.parse(rss)
    assert len(parsed.entries) == len(rendered)

    doc = assert_valid_json_feed(render_feed("json", info, rendered))
    for entry in doc["items"]:
        assert_script_free(entry.get("content_html", ""), "content_html")
    assert len(doc["items"]) == len(rendered)


# -- properties ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.one_of(JSON_VALUES, mangled_records()))
def test_parsing_raises_only_record_invalid(value: Any) -> None:
    try:
        article = parse_record(_via_json(value))
    except RecordInvalid:
        return
    # Whatever is accepted can be stored and announced: the store and the
    # webhook payload encode it with orjson, which refuses lone surrogates.
    orjson.dumps(article_to_dict(article))
    content_hash(article)
    orjson.dumps(event_payload(ChangeKind.CREATED, article, "http://127.0.0.1:8080"))
    assert article.updated_at.tzinfo is not None and article.updated_at.utcoffset() == timedelta(0)


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_decoding_bytes_raises_only_value_error(data: bytes) -> None:
    try:
        value = loads(data)
    except ValueError:
        return
    try:
        parse_record(value)
    except RecordInvalid:
        pass


@PROPERTY_SETTINGS
@given(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=3).flatmap(
        lambda ids: st.tuples(*(valid_records(slug_index=i) for i in range(len(ids))))
    )
)
def test_valid_records_render_to_valid_script_free_feeds(
    records: tuple[dict[str, Any], ...],
) -> None:
    _render_all(list(records))


@PROPERTY_SETTINGS
@given(MARKDOWN)
def test_markdown_never_carries_script(body: str) -> None:
    html = render_markdown(loads(json.dumps(body)))
    assert_script_free(html, f"render_markdown({body!r})")
    # The output always fits in an XML text node: no character XML forbids.
    escaped = html.replace("&", "&amp;").replace("<", "&lt;")
    etree.fromstring(f"<div>{escaped}</div>".encode())


@settings(max_examples=100, deadline=None)
@given(timestamps())
def test_every_valid_timestamp_parses_to_utc(text: str) -> None:
    record = {
        "slug": "t",
        "title": "t",
        "url": "https://news.example.org/t",
        "published_at": text,
        "updated_at": text,
    }
    article = parse_record(record)
    expected = datetime.fromisoformat(text).astimezone(UTC)
    assert article.published_at == expected


def test_offsets_that_leave_the_calendar_are_invalid_not_crashes() -> None:
    # Year 1 at +14:00 is before 0001-01-01 UTC; year 9999 at -12:00 is after 9999.
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        record = {"slug": "t", "title": "t", "url": "https://x.example/", "published_at": text}
        record["updated_at"] = text
        try:
            parse_record(record)
        except RecordInvalid as exc:
            assert "out of range" in exc.reason
        else:
            raise AssertionError(f"{text} accepted")
