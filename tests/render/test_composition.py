"""Feeds composed from cached shells and entry fragments equal the whole-document render.

`reference_render` (RSS, Atom) and `reference_render_json` serialize the whole
document at once and cache nothing: the definition of the bytes. Every case
here renders through the cached path, cold and warm, and compares bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.models import Article, RenderedArticle
from syndicator.render import cache, feeds, jsonfeed
from syndicator.render.feeds import FORMATS, FeedInfo, reference_render
from syndicator.render.jsonfeed import reference_render_json
from tests.render.articles import BASE_URL, load_seed, make_article, rendered, when
from tests.render.test_hostile import ILLEGAL, XSS_BODY, _dirty, _dirty_article


def reference(fmt: str, info: FeedInfo, entries: list[RenderedArticle]) -> bytes:
    if fmt == "json":
        return reference_render_json(info, entries)
    return reference_render(fmt, info, entries)


#: The caches a builder would own, shared by the renders of one test.
CACHES = cache.RenderCache()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    CACHES.clear()
    yield
    CACHES.resize(cache.DEFAULT_FRAGMENT_BYTES)
    CACHES.clear()


def render_feed(fmt: str, info: FeedInfo, entries: Sequence[RenderedArticle]) -> bytes:
    return feeds.render_feed(fmt, info, entries, CACHES)


def compose_feed(fmt: str, info: FeedInfo, entries: Sequence[RenderedArticle | bytes]) -> bytes:
    return feeds.compose_feed(fmt, info, entries, CACHES)


def fragment_stats(fmt: str) -> cache.CacheStats:
    return CACHES.fragments[fmt].stats()


@pytest.fixture(autouse=True)
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The composed path must never fall back to the whole-document render here,
    or the comparisons below would compare that render with itself."""

    def refuse(*_args: object) -> bytes:
        raise AssertionError("composition fell back to the whole-document render")

    monkeypatch.setattr(feeds, "reference_render", refuse)
    monkeypatch.setattr(jsonfeed, "reference_render_json", refuse)


def with_digest(item: RenderedArticle, digest: str) -> RenderedArticle:
    return replace(item, digest=digest)


def _infos() -> list[FeedInfo]:
    base = FeedInfo(site_title="Site", base_url=BASE_URL, topic="ai", updated=when(4))
    return [
        base,
        replace(base, topic="all"),
        replace(base, base_url=BASE_URL + "/", language="en"),
        replace(base, hub_urls=("https://hub.example/",)),
        replace(base, hub_urls=("https://hub.example/", "https://hub2.example/websub")),
        replace(base, site_title=_dirty("Site & <Co>"), hub_urls=(_dirty("https://h.example/"),)),
        replace(base, site_title="\x01", language=_dirty("en")),  # blank title falls back
        replace(base, site_title="Ünïcödé 日本 🚀 عربي", language="ja"),
        # RFC 6721 deleted entries (Atom only) sit in the shell, ahead of the entries.
        replace(base, deleted=(("gone", when(3)),)),
        replace(
            base,
            hub_urls=("https://hub.example/",),
            deleted=(("gone", when(3)), (_dirty("taken-down"), when(2).astimezone())),
        ),
    ]


def _articles() -> list[RenderedArticle]:
    seed = load_seed()
    dirty = _dirty_article()
    plain = make_article("plain")
    items = [
        rendered(plain),
        rendered(seed),
        rendered(make_article("xss", body_md=XSS_BODY)),
        rendered(dirty),
        RenderedArticle(dirty, _dirty("<p>raw</p>")),  # HTML the caller did not clean
        RenderedArticle(make_article("no-body", body_md=None), None),
        RenderedArticle(make_article("bare", summary=None, body_md=None, topics=()), None),
        rendered(
            make_article("sparse", canonical_source=None, lang=None, summary=None, topics=("ai",))
        ),
        rendered(make_article("markup", summary="Use <b>bold</b> & <script>x()</script>")),
        rendered(make_article("cdata", title="a ]]> b", body_md="```\n]]>\n<x>\n```\n")),
        rendered(make_article("blank-title", title="\x02\x03")),
        rendered(
            make_article(
                "unicode",
                title="Ünïcödé 日本 🚀 عربي \u2028 \u00a0",
                summary="émoji 🎉 and \ufeffBOM",
                body_md="# Ti\u0301tle\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n",
                lang="ar",
                topics=("ai", "chips", "data"),
            )
        ),
        rendered(
            make_article(
                "offset",
                published_at=when(1).astimezone(),
                updated_at=when(5).replace(microsecond=123456),
            )
        ),
        RenderedArticle(make_article("tabs"), "<pre>\ta\r\n\tb</pre>\n\n\n"),
        # Entity categories and typed alternate links (SPEC §4b).
        replace(
            rendered(
                make_article(
                    "faceted",
                    alternates={
                        "html": "https://example.com/faceted",
                        "markdown": "https://example.com/faceted.md",
                        "jsonld": "https://example.com/faceted.jsonld",
                        "epub": "https://example.com/faceted.epub",
                    },
                )
            ),
            entities=(("nvidia", "Nvidia"), ("societe-generale", "Société Générale")),
        ),
        replace(
            rendered(
                make_article(
                    "faceted-hostile",
                    alternates={"text": _dirty("https://example.com/t?a=1&b=<2>")},
                )
            ),
            entities=(("x", _dirty("A & <B> ]]>")), ("x", "again"), ("y", "\x01")),
        ),
    ]
    return [with_digest(item, f"d{i}") for i, item in enumerate(items)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_composed_equals_whole_document_render(fmt: str) -> None:
    infos = _infos()
    articles = _articles()
    undigested = [replace(item, digest=None) for item in articles]
    feeds = [
        [],
        articles[:1],
        articles,
        list(reversed(articles)),
        articles[3:5],  # only hostile entries
        undigested,  # nothing cached: rendered every time
        articles[::2] + undigested[1::2],
    ]
    checked = 0
    for _ in range(2):  # cold, then every shell and fragment from the cache
        for info in infos:
            for entries in feeds:
                assert render_feed(fmt, info, entries) == reference(fmt, info, entries)
                checked += 1
    assert checked == 2 * len(infos) * len(feeds)
    stats = fragment_stats(fmt)
    assert stats.hits > 0 and stats.items == len(articles)


def test_golden_entries_cached_match_golden_files() -> None:
    from tests.render import test_golden

    entries = [with_digest(item, f"g{i}") for i, item in enumerate(test_golden._entries())]
    names = {"rss": "ai.rss", "atom": "ai.atom", "json": "ai.json"}
    for _ in range(2):
        for fmt, name in names.items():
            expected = (test_golden.GOLDEN / name).read_bytes()
            assert render_feed(fmt, test_golden.INFO, entries) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_entry_cached_once_per_version(fmt: str) -> None:
    info = _infos()[0]
    item = with_digest(rendered(make_article("post")), "v1")
    render_feed(fmt, info, [item])
    render_feed(fmt, replace(info, topic="chips"), [item])  # same entry, another feed
    stats = fragment_stats(fmt)
    assert (stats.items, stats.misses, stats.hits) == (1, 1, 1)

    # A newer updated_at alone is not in the digest, but is in the bytes.
    bumped = replace(item, article=replace(item.article, updated_at=when(9)))
    assert render_feed(fmt, info, [bumped]) == reference(fmt, info, [bumped])
    # The body is rendered outside the digest: another body, other bytes.
    other_body = replace(item, content_html="<p>other</p>")
    assert render_feed(fmt, info, [other_body]) == reference(fmt, info, [other_body])
    assert fragment_stats(fmt).items == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_entries_without_digest_are_not_cached(fmt: str) -> None:
    entries = [rendered(make_article("a")), rendered(make_article("b"))]
    render_feed(fmt, _infos()[0], entries)
    assert fragment_stats(fmt).items == 0


def test_bounds_evict_and_disable_without_changing_bytes() -> None:
    articles = _articles()
    info = _infos()[3]
    for fragments in CACHES.fragments.values():
        fragments.configure(max_items=3, max_bytes=1 << 30)
    for fmt in FORMATS:
        assert render_feed(fmt, info, articles) == reference(fmt, info, articles)
        assert fragment_stats(fmt).items == 3
        assert fragment_stats(fmt).evictions > 0
    CACHES.resize(10_000)
    assert sum(fragment_stats(fmt).bytes for fmt in FORMATS) <= 10_000
    CACHES.resize(0)  # off
    for fmt in FORMATS:
        assert render_feed(fmt, info, articles) == reference(fmt, info, articles)
        assert fragment_stats(fmt).items == 0


def test_concurrent_renders_agree() -> None:
    articles = _articles()
    infos = _infos()
    expected = {
        (fmt, i): reference(fmt, info, articles) for fmt in FORMATS for i, info in enumerate(infos)
    }
    for fragments in CACHES.fragments.values():
        fragments.configure(max_items=8, max_bytes=1 << 30)  # evictions too
    failures: list[str] = []

    def work(offset: int) -> None:
        for n in range(30):
            fmt = FORMATS[(n + offset) % len(FORMATS)]
            i = (n * 7 + offset) % len(infos)
            if render_feed(fmt, infos[i], articles) != expected[(fmt, i)]:
                failures.append(f"{fmt} {i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


_TEXT = st.text(
    alphabet=st.characters(codec=None, categories=None, exclude_categories=()), max_size=40
)
_TEXTS = st.one_of(_TEXT, st.text(alphabet=ILLEGAL + "<>&\"' ab]]>\n\t\r", max_size=20))


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    site=_TEXTS,
    title=_TEXTS,
    summary=st.none() | _TEXTS,
    body=st.none() | _TEXTS,
    html=st.none() | _TEXTS,
    hubs=st.lists(_TEXTS, max_size=2),
    language=st.none() | _TEXTS,
    digest=st.none() | st.sampled_from(["x", "y"]),
    label=st.none() | _TEXTS,
    entity=_TEXTS,
    alternate=_TEXTS,
)
def test_any_text_composes_to_the_same_bytes(
    site: str,
    title: str,
    summary: str | None,
    body: str | None,
    html: str | None,
    hubs: list[str],
    language: str | None,
    digest: str | None,
    label: str | None,
    entity: str,
    alternate: str,
) -> None:
    info = FeedInfo(site, BASE_URL, "ai", when(3), tuple(hubs), language)
    facet = replace(info, topic="entities/x", label=label)
    article: Article = replace(
        make_article("prop"),
        title=title,
        summary=summary,
        body_md=body,
        alternates={"html": alternate, "text": alternate, alternate: alternate},
    )
    # The digest promise (same digest, same entry) holds within one example only.
    CACHES.clear()
    entries = [
        replace(rendered(article), digest=digest, entities=(("x", entity), (entity, "y"))),
        RenderedArticle(replace(article, slug="raw"), html, digest),
    ]
    for fmt in FORMATS:
        for feed in (info, facet):
            expected = reference(fmt, feed, entries)
            assert render_feed(fmt, feed, entries) == expected
            assert render_feed(fmt, feed, entries) == expected  # warm


@pytest.mark.parametrize("fmt", FORMATS)
def test_split_gives_back_each_entrys_fragment(fmt: str) -> None:
    articles = _articles()
    for info in _infos():
        for entries in ([], articles[:1], articles, list(reversed(articles))):
            document = render_feed(fmt, info, entries)
            parts = feeds.split_feed(fmt, document)
            assert parts is not None and len(parts) == len(entries)
            assert compose_feed(fmt, info, parts) == document


@pytest.mark.parametrize("fmt", FORMATS)
def test_fragments_reused_in_another_feed_equal_rendering(fmt: str) -> None:
    """Fragments split from one topic's document, mixed with rendered entries
    into another feed (other shell, order, neighbours), give the reference bytes."""
    articles = _articles()
    infos = _infos()
    old = feeds.split_feed(fmt, render_feed(fmt, infos[0], articles))
    assert old is not None
    # The test articles share slugs; the digest tells their versions apart.
    by_key = dict(zip(((a.article.slug, a.digest) for a in articles), old, strict=True))
    new_entries = [with_digest(rendered(make_article("fresh")), "f"), *reversed(articles[2:])]
    for info in infos[1:]:
        CACHES.clear()
        mixed: list[RenderedArticle | bytes] = [
            by_key.get((item.article.slug, item.digest), item) if i % 2 else item
            for i, item in enumerate(new_entries)
        ]
        assert any(isinstance(entry, bytes) for entry in mixed)
        assert compose_feed(fmt, info, mixed) == reference(fmt, info, new_entries)


@pytest.mark.parametrize("fmt", FORMATS)
def test_split_refuses_what_it_did_not_compose(fmt: str) -> None:
    document = render_feed(fmt, _infos()[0], _articles())
    assert feeds.split_feed(fmt, document[:-3]) is None
    assert feeds.split_feed(fmt, b"") is None
