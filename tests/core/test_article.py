"""The article's serialisations follow the fields of `Article`."""

from __future__ import annotations

import dataclasses
from typing import Any

from syndicator.core.article import ANNOUNCED_FIELDS, FIELD_NAMES, KNOWN_FIELDS, article_to_dict
from syndicator.core.events import event_data
from syndicator.core.records import _Record, parse_record
from syndicator.models import Article


def test_the_validation_model_has_the_article_fields() -> None:
    assert set(_Record.model_fields) == KNOWN_FIELDS
    assert FIELD_NAMES == tuple(f.name for f in dataclasses.fields(Article))[:-1]


def test_stored_record_and_event_data_keep_the_spec_order(seed_record: dict[str, Any]) -> None:
    article = parse_record({**seed_record, "zz_extra": 1})
    stored = article_to_dict(article)
    assert list(stored) == ["zz_extra", *FIELD_NAMES]
    assert list(event_data(article, "https://example.com")) == [
        "slug",
        "title",
        "summary",
        "url",
        "canonical_source",
        "published_at",
        "updated_at",
        "lang",
        "topics",
        "entities",
        "feeds",
    ]
    assert ANNOUNCED_FIELDS == tuple(event_data(article, "https://example.com"))[:-1]
