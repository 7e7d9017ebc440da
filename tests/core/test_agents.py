"""Aggregators and their subscriber figures in real User-Agent strings."""

from __future__ import annotations

import pytest

from syndicator.core.agents import MAX_SUBSCRIBERS, Aggregator, aggregator

# Each string as the service sends it (its documentation, its source, or
# publishers' logs); the figures and ids are examples.
AGGREGATORS = [
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; )", "feedly", "", 123),
    ("Feedly/1.0 (+https://feedly.com/fetcher.html; 1 subscriber)", "feedly", "", 1),
    ("Feedly/1.0 (poller; 131 subscribers;)", "feedly", "", 131),
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers; like FeedFetcher-Google)",
        "feedly",
        "",
        12,
    ),
    ("Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 3 subscribers; )", "inoreader", "", 3),
    ("Mozilla/5.0 (compatible; inoreader.com; 1 subscribers)", "inoreader", "", 1),
    ("Feedbin feed-id:1602368 - 4 subscribers", "feedbin", "1602368", 4),
    ("Feedbin feed-id:1234567 - 1 subscriber", "feedbin", "1234567", 1),
    (
        "NewsBlur Feed Fetcher - 7 subscribers - https://www.newsblur.com/site/1234/daemon-desk "
        '("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_1) AppleWebKit/534.48.3")',
        "newsblur",
        "1234",
        7,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_1) AppleWebKit/534.48.3 (KHTML, like Gecko) "
        "Version/5.1 Safari/534.48.3 (NewsBlur Feed Fetcher - 1 subscriber - http://www.newsblur.com)",
        "newsblur",
        "",
        1,
    ),
    (
        "Mozilla/5.0 (compatible; theoldreader.com; 8 subscribers; feed-id=5b4c3e2a1f)",
        "theoldreader",
        "5b4c3e2a1f",
        8,
    ),
    ("BazQux/2.4 (+https://bazqux.com/fetcher; 2 subscribers)", "bazqux", "", 2),
    (
        "Feed Wrangler/1.0 (1 subscriber; feed-id=394524; http://feedwrangler.net; "
        "Allow like Gecko)",
        "feedwrangler",
        "394524",
        1,
    ),
    (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 16 subscribers; "
        "feed-id=12310981209483785)",
        "google",
        "12310981209483785",
        16,
    ),
    # Unknown services: the product token, or the name in a "compatible" comment.
    ("Tapestry/2.1 (+https://example.org/fetcher; 42 subscribers)", "tapestry", "", 42),
    ("Mozilla/5.0 (compatible; MnmlReader; 5 readers)", "mnmlreader", "", 5),
]


@pytest.mark.parametrize(("agent", "source", "feed_id", "count"), AGGREGATORS)
def test_known_and_generic_aggregators(agent: str, source: str, feed_id: str, count: int) -> None:
    assert aggregator(agent) == Aggregator(source, feed_id, count)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "NetNewsWire (RSS Reader; https://netnewswire.com/)",
        "Newsboat/2.36 (Linux x86_64)",
        "curl/8.5.0",
        "",
        # No figure, or not one that stands alone: a direct reader.
        "Reader/1.0 (x12 subscribers)",
        "Mozilla/5.0 (compatible; 3 subscribers)",
    ],
)
def test_direct_readers_are_no_aggregators(agent: str) -> None:
    assert aggregator(agent) is None


@pytest.mark.parametrize(
    "agent",
    [
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
        "Mozilla/5.0 (compatible; theoldreader.com)",
        f"Feedly/1.0 (poller; {MAX_SUBSCRIBERS + 1} subscribers;)",
        "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; -5 subscribers; )",
        "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 1.5 subscribers; )",
        "Feedbin feed-id:9 - 99999999999999999999 subscribers",
    ],
)
def test_known_fetcher_without_a_sane_figure_is_still_an_aggregator(agent: str) -> None:
    found = aggregator(agent)
    assert found is not None and found.subscribers is None
