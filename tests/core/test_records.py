"""Record validation (SPEC §1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.core.records import (
    RecordLimits,
    is_language_tag,
    may_hold_xml_illegal,
    parse_datetime,
    parse_record,
)
from syndicator.errors import RecordInvalid

Make = Callable[..., dict[str, Any]]


def test_seed_record_parses(seed_record: dict[str, Any]) -> None:
    article = parse_record(seed_record)
    assert article.slug == "panasonic-to-localise-us-data-centre-battery-production-ceo-says"
    assert article.updated_at == datetime(2026, 6, 30, 12, 31, 1, 483796, tzinfo=UTC)
    assert article.topics == ("artificial-intelligence", "ai-infrastructure", "ai-chips")
    assert article.alternates["markdown"].endswith(".md")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-30T12:22:18+00:00", datetime(2026, 6, 30, 12, 22, 18, tzinfo=UTC)),
        ("2026-06-30 12:22:18+00:00", datetime(2026, 6, 30, 12, 22, 18, tzinfo=UTC)),
        ("2026-06-30T12:22:18Z", datetime(2026, 6, 30, 12, 22, 18, tzinfo=UTC)),
        ("2026-06-30T12:22:18.5Z", datetime(2026, 6, 30, 12, 22, 18, 500000, tzinfo=UTC)),
        ("2026-06-30 12:31:01.483796+00:00", datetime(2026, 6, 30, 12, 31, 1, 483796, tzinfo=UTC)),
        ("2026-06-30T14:22:18+02:00", datetime(2026, 6, 30, 12, 22, 18, tzinfo=UTC)),
        ("2026-06-30T07:22:18-05:00", datetime(2026, 6, 30, 12, 22, 18, tzinfo=UTC)),
        ("2028-02-29T00:00:00Z", datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_every_timestamp_form(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-06-30T12:22:18", "2026-06-30 12:22:18", "2026-06-30", "yesterday", ""]
)
def test_timestamps_without_offset_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"published_at": "2026-06-30T12:22:18"}, "published_at"),
        ({"updated_at": 1751286138}, "updated_at"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"url": "ftp://example.com/a"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"canonical_source": "not a url"}, "canonical_source"),
        ({"topics": ["../etc"]}, "topics"),
        ({"topics": ["Has Space"]}, "topics"),
        ({"topics": ["all"]}, "topics"),
        ({"topics": "energy"}, "topics"),
        ({"slug": ""}, "slug"),
        ({"slug": 42}, "slug"),
        ({"lang": "not a tag!"}, "lang"),
        ({"lang": "x"}, "lang"),
        ({"lang": "en__US"}, "lang"),
        ({"lang": "_en"}, "lang"),
        ({"alternates": {"md": "file:///etc/passwd"}}, "alternates"),
    ],
)
def test_invalid_fields_are_named(make_record: Make, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordInvalid) as info:
        parse_record(make_record(**fields))
    assert info.value.reason.startswith(field), info.value.reason


@pytest.mark.parametrize(
    ("given", "taken"), [("en_US", "en-US"), ("pt_BR", "pt-BR"), ("zh_Hant_TW", "zh-Hant-TW")]
)
def test_posix_locale_names_are_taken_as_their_language_tag(
    make_record: Make, given: str, taken: str
) -> None:
    assert parse_record(make_record(lang=given)).lang == taken


@pytest.mark.parametrize("missing", ["slug", "title", "url", "published_at", "updated_at"])
def test_required_fields(make_record: Make, missing: str) -> None:
    record = make_record()
    del record[missing]
    with pytest.raises(RecordInvalid, match=missing):
        parse_record(record)


def test_invalid_record_keeps_its_slug(make_record: Make) -> None:
    with pytest.raises(RecordInvalid) as info:
        parse_record(make_record(slug="known", url="nope"))
    assert info.value.slug == "known"


def test_not_an_object() -> None:
    with pytest.raises(RecordInvalid, match="JSON object"):
        parse_record(["a", "list"])


def test_unknown_fields_are_kept(make_record: Make) -> None:
    article = parse_record(make_record(sample=True, author={"name": "A"}))
    assert article.extra == {"sample": True, "author": {"name": "A"}}


def test_optional_fields_may_be_absent_or_null(make_record: Make) -> None:
    record = make_record(summary=None, lang=None)
    for name in ("body_md", "entities"):
        del record[name]
    article = parse_record(record)
    assert article.summary is None and article.body_md is None and article.entities == ()


def test_null_lists_and_maps_are_absent(make_record: Make) -> None:
    """A CMS that writes every field writes null for none: not a bad record."""
    record = make_record(topics=None, entities=None, alternates=None, canonical_source=None)
    article = parse_record(record)
    assert article.topics == () and article.entities == () and article.alternates == {}


def test_xml_illegal_characters_are_removed(make_record: Make) -> None:
    article = parse_record(
        make_record(title="Bad\x00 ti\x0btle\ufffe", summary="s\x1f", body_md="b\ud800ody")
    )
    assert article.title == "Bad title"
    assert article.summary == "s"
    assert article.body_md == "body"


def test_duplicate_topics_collapse_in_order(make_record: Make) -> None:
    article = parse_record(make_record(topics=["b", "a", "b"]))
    assert article.topics == ("b", "a")


def test_limits(make_record: Make) -> None:
    limits = RecordLimits(max_body_bytes=10, max_topics=2)
    with pytest.raises(RecordInvalid, match="body_md"):
        parse_record(make_record(body_md="x" * 11), limits)
    with pytest.raises(RecordInvalid, match="topics"):
        parse_record(make_record(body_md="ok", topics=["a", "b", "c"]), limits)


# -- the clean fast path ------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=())
    | st.sampled_from(
        ["\x00", "\x08", "\x0c", "\x1f", "\ufffe", "\ud800", "\udc00", "\U0001f600", "\\", "u"]
    ),
    max_size=30,
)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "a\\u0001b"}',
        b'{"title": "a\\u001Fb"}',
        b'{"title": "a\\ud800b"}',
        b'{"title": "a\\uDBFFb"}',
        b'{"title": "a\\udc00b"}',
        b'{"title": "a\\udc00\\ud800b"}',
        b'{"title": "a\\ud800\\u0041b"}',
        b'{"title": "a\\\\ud800\\udc00b"}',
        b'{"title": "a\\uFFFEb"}',
        b'{"title": "a\\uffffb"}',
        '{"title": "a\ufffeb"}'.encode(),
        '{"title": "a\uffffb"}'.encode(),
        b'{"x\\u0000": 1}',
        b'{"title": "a\\bb"}',
        b'{"title": "a\\fb"}',
    ],
)
def test_escapes_of_illegal_characters_are_noticed(raw: bytes) -> None:
    assert may_hold_xml_illegal(raw)


def test_ordinary_text_is_clean() -> None:
    raw = json.dumps({"title": "Caf\u00e9 \u2014 \U0001f600 \u05d0", "n": "\\u0001"}).encode()
    assert not may_hold_xml_illegal(raw.replace(b"\\\\u0001", b"plain"))
    assert not may_hold_xml_illegal('{"t": "Café — 😀 \t"}'.encode())


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=_TEXT,
    summary=_TEXT,
    body=_TEXT,
    entity=_TEXT,
    extra_key=_TEXT,
    extra=_TEXT,
    ascii_only=st.booleans(),
)
def test_clean_path_agrees_with_the_full_path(
    make_record: Make,
    title: str,
    summary: str,
    body: str,
    entity: str,
    extra_key: str,
    extra: str,
    ascii_only: bool,
) -> None:
    # Whatever the scan calls clean must validate exactly as the full path does.
    record = make_record(title=title or "t", summary=summary, body_md=body, entities=[entity])
    record["x-" + extra_key] = {extra_key: [extra]}
    try:
        raw = json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates cannot be written raw; escaped they are never clean
    data = json.loads(raw)
    if may_hold_xml_illegal(raw):
        return
    try:
        full = parse_record(data)
    except RecordInvalid as exc:
        with pytest.raises(RecordInvalid) as fast:
            parse_record(data, clean=True)
        assert fast.value.reason == exc.reason
        return
    assert parse_record(data, clean=True) == full


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("en", True),
        ("pt-BR", True),
        ("zh-Hant-TW", True),
        ("es-419", True),
        ("de-1996", True),
        ("gsw", True),
        ("x-klingon", True),
        ("i-navajo", True),
        ("x", False),
        ("e", False),
        ("en_US", False),
        ("en-", False),
        ("-en", False),
        ("english9", False),
        ("en-toolongsub", False),
    ],
)
def test_language_tags_have_the_shape_bcp_47_gives_them(tag: str, valid: bool) -> None:
    assert is_language_tag(tag) is valid
