"""Validate one untrusted article record (SPEC §1) into an `Article`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syndicator.core.article import article_from_fields
from syndicator.core.text import strip_xml_illegal
from syndicator.errors import RecordInvalid
from syndicator.models import ALL_TOPIC, Article, Tombstone

__all__ = [
    "TOPIC_PATTERN",
    "RecordLimits",
    "is_language_tag",
    "language_tag",
    "is_safe_topic",
    "is_tombstone",
    "may_hold_xml_illegal",
    "parse_datetime",
    "parse_record",
    "parse_tombstone",
]

#: Topic slugs double as file names and URL segments, so they are kept to a
#: portable alphabet: lowercase ASCII letters, digits, '-' and '_'.
TOPIC_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,98}[a-z0-9])?")
# A language of 2-8 letters (ISO 639 codes, registered ones), or `x-` / `i-`
# (private use, grandfathered) opening more subtags; then subtags of 1-8.
_LANG_PATTERN = re.compile(r"(?:[A-Za-z]{2,8}|[xXiI](?=-))(?:-[A-Za-z0-9]{1,8})*")
#: Unknown fields are stored and hashed as JSON; the encoder refuses nesting
#: past 255 levels, so deeper records are quarantined here instead of failing
#: the whole poll later.
_MAX_EXTRA_DEPTH = 64


# Every way an XML-illegal character can reach a decoded JSON string: the
# escapes \\b and \\f; a \\u escape of a C0 control, of U+FFFE/U+FFFF or of
# a surrogate outside a high-low pair (a pair is one astral character, as
# ASCII-only writers emit emoji); those two non-characters raw in UTF-8. Raw
# controls are invalid JSON and raw surrogates invalid UTF-8. An escaped
# backslash before a "u" could make text look like escapes, so it counts as a
# match; so do legal escapes such as \\u0009: that is only caution.
_MAYBE_ILLEGAL = re.compile(
    rb"\\(?:\\u|[bf]|u(?:00[01]|[fF]{3}[eEfF])"
    rb"|u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\)u[dD][c-fC-F])"
)
# A cheaper first look (regexes with a literal first byte scan fast).
_ESCAPES = re.compile(rb"\\[bfu]")
_NONCHARACTER = re.compile(rb"\xef\xbf[\xbe\xbf]")


def may_hold_xml_illegal(raw: bytes) -> bool:
    """False when JSON text `raw` certainly decodes to no XML-illegal character.

    One scan of the raw bytes lets a clean record skip cleaning each of its
    strings (a regex pass over every body, the costliest part of validation).
    """
    if _ESCAPES.search(raw) is not None and _MAYBE_ILLEGAL.search(raw) is not None:
        return True
    return not raw.isascii() and _NONCHARACTER.search(raw) is not None


def is_safe_topic(topic: str) -> bool:
    """True when `topic` is a slug that is safe as a file name and URL segment."""
    return TOPIC_PATTERN.fullmatch(topic) is not None and topic != ALL_TOPIC


def is_language_tag(tag: str) -> bool:
    """True when `tag` has the shape of a BCP 47 language tag (``en``, ``pt-BR``, ``zh-Hant``)."""
    return _LANG_PATTERN.fullmatch(tag) is not None


def language_tag(value: str) -> str | None:
    """`value` as a BCP 47 tag, or None when it is none. A POSIX locale name
    (`en_US`, as many CMSs export it) is the same tag with `_` for `-`: it is
    taken as that tag."""
    if is_language_tag(value):
        return value
    hyphenated = value.replace("_", "-")
    return hyphenated if "_" in value and is_language_tag(hyphenated) else None


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp that carries an offset; return it in UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp has no UTC offset: {value!r}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp out of range: {value!r}") from None


# Scheme, then a host: at least one character that is not a delimiter, after
# optional user info. (A regex instead of urlsplit: it is on every record's
# four URLs, and urlsplit costs more than the rest of the check.)
_URL_SHAPE = re.compile(r"(?i)https?://(?:(?:[^/?#@\s]*@)?[^/?#:@\s\[]|\[[0-9a-f:.]+\])")
_WHITESPACE = re.compile(r"\s")
_SLUG_FORBIDDEN = re.compile(r"[\s/]")


def _check_url(value: str) -> str:
    match = _URL_SHAPE.match(value)
    if match is None:
        raise ValueError("must be an absolute http(s) URL")
    if _WHITESPACE.search(value):
        raise ValueError("must not contain whitespace")
    if strip_xml_illegal(value) != value:
        # Lone surrogates cannot be encoded as UTF-8: the store would fail on them.
        raise ValueError("must not contain control characters or lone surrogates")
    return value


def _clean_extra(value: Any, depth: int, clean: bool = False) -> Any:
    """An unknown field's value with XML-illegal characters removed from every string."""
    if depth > _MAX_EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_EXTRA_DEPTH} levels")
    if isinstance(value, str):
        return value if clean else strip_xml_illegal(value)
    if isinstance(value, list):
        return [_clean_extra(v, depth + 1, clean) for v in value]
    if isinstance(value, dict):
        return {
            (str(k) if clean else strip_xml_illegal(str(k))): _clean_extra(v, depth + 1, clean)
            for k, v in value.items()
        }
    return value


class RecordLimits(BaseModel):
    """Bounds on one record; a record beyond one is quarantined with the reason
    (except entities: those past `max_entities` are dropped, the article kept)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_record_bytes: int = Field(default=2_000_000, gt=0)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    max_topics: int = Field(default=50, gt=0)
    max_entities: int = Field(default=100, gt=0)
    max_field_chars: int = Field(default=10_000, gt=0)
    max_records_per_file: int = Field(default=1_000_000, gt=0)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, str_strip_whitespace=False)

    slug: str = Field(min_length=1, max_length=512)
    title: str
    url: str
    published_at: datetime
    updated_at: datetime
    summary: str | None = None
    body_md: str | None = None
    canonical_source: str | None = None
    lang: str | None = None
    topics: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    alternates: dict[str, str] = Field(default_factory=dict)

    @field_validator("topics", "entities", mode="before")
    @classmethod
    def _no_list(cls, value: Any) -> Any:
        # A CMS that writes every field writes null for none, as for `summary`.
        return [] if value is None else value

    @field_validator("alternates", mode="before")
    @classmethod
    def _no_map(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("published_at", "updated_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string")
        return parse_datetime(value)

    @field_validator("slug", "title", "summary", "body_md", "lang", mode="after")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else strip_xml_illegal(value)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not value.strip() or _SLUG_FORBIDDEN.search(value):
            raise ValueError("must be non-empty, without whitespace or '/'")
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("canonical_source")
    @classmethod
    def _canonical(cls, value: str | None) -> str | None:
        return None if value is None or value == "" else _check_url(value)

    @field_validator("alternates")
    @classmethod
    def _alternates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            try:
                _check_url(url)
            except ValueError as exc:
                raise ValueError(f"{name!r}: {exc}") from None
        return {strip_xml_illegal(name): url for name, url in value.items()}

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        tag = language_tag(value)
        if tag is None:
            raise ValueError(f"not a BCP 47 language tag: {value!r}")
        return tag

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for topic in value:
            if topic == ALL_TOPIC:
                raise ValueError(f"{ALL_TOPIC!r} is reserved for the feed of every article")
            if TOPIC_PATTERN.fullmatch(topic) is None:
                raise ValueError(
                    f"unsafe topic slug {topic[:80]!r}: use lowercase letters, digits, '-' and '_'"
                )
            seen.setdefault(topic, None)
        return list(seen)

    @field_validator("entities")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        return [strip_xml_illegal(v) for v in value]


class _CleanRecord(_Record):
    """`_Record` for text known to hold no XML-illegal character: nothing to strip."""

    @field_validator("slug", "title", "summary", "body_md", "lang", mode="after")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return value

    @field_validator("entities")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        return value


class _Tombstone(BaseModel):
    """A deletion record: only its slug and `updated_at` count; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    slug: str = Field(min_length=1, max_length=512)
    updated_at: datetime

    @field_validator("updated_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        return _Record._timestamp(value)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return _Record._slug(strip_xml_illegal(value))


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "record"
        msg = item["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_record(data: Any, limits: RecordLimits | None = None, *, clean: bool = False) -> Article:
    """Validate a decoded JSON record; raise `RecordInvalid` naming the field at fault.

    `clean` says the record's text holds no XML-illegal character (see
    `may_hold_xml_illegal`), so its strings need no cleaning.
    """
    if not isinstance(data, Mapping):
        raise RecordInvalid(f"record must be a JSON object, not {type(data).__name__}")
    raw_slug = data.get("slug")
    slug = raw_slug if isinstance(raw_slug, str) and raw_slug else None
    limits = limits or RecordLimits()
    _check_limits(data, limits, slug)
    try:
        record = (_CleanRecord if clean else _Record).model_validate(data)
    except ValidationError as exc:
        raise RecordInvalid(_describe(exc), slug=slug) from None
    try:
        extra = {
            (name if clean else strip_xml_illegal(name)): _clean_extra(value, 1, clean)
            for name, value in (record.model_extra or {}).items()
        }
    except ValueError as exc:
        raise RecordInvalid(f"unknown field: {exc}", slug=slug) from None
    return article_from_fields(record, extra)


def is_tombstone(data: Any, deleted_field: str) -> bool:
    """True when a decoded record is a deletion: its `deleted_field` is truthy
    in the JSON sense (anything but false, null, 0, "", [] and {}), a string
    spelling false ("false", "f", "0", "0.0", "no", "n", "off", "null", any
    case) aside: some
    CMS exports write every boolean as text, and "false" must not unpublish."""
    if not isinstance(data, Mapping):
        return False
    flag = data.get(deleted_field)
    if isinstance(flag, str):
        text = flag.strip().lower()
        return text not in _FALSE_TEXT and not _is_zero(text)
    return bool(flag)


#: Text a `deleted_field` may hold that means "not deleted" (with any number
#: spelling zero, "0.0" as CSV exports write it).
_FALSE_TEXT = frozenset(("", "false", "f", "0", "no", "n", "off", "null", "none"))


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0.0
    except ValueError:
        return False


def parse_tombstone(data: Mapping[str, Any]) -> Tombstone:
    """Validate a deletion record; raise `RecordInvalid` when its slug or
    `updated_at` is missing or invalid."""
    raw_slug = data.get("slug")
    slug = raw_slug if isinstance(raw_slug, str) and raw_slug else None
    try:
        record = _Tombstone.model_validate(data)
    except ValidationError as exc:
        raise RecordInvalid(f"deletion record: {_describe(exc)}", slug=slug) from None
    return Tombstone(record.slug, record.updated_at)


def _check_limits(data: Mapping[str, Any], limits: RecordLimits, slug: str | None) -> None:
    body = data.get("body_md")
    if isinstance(body, str) and len(body.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
        raise RecordInvalid(
            f"body_md: larger than the limit of {limits.max_body_bytes} bytes", slug=slug
        )
    topics = data.get("topics")
    if isinstance(topics, list) and len(topics) > limits.max_topics:
        raise RecordInvalid(f"topics: more than the limit of {limits.max_topics}", slug=slug)
    for name in ("slug", "title", "summary", "url", "canonical_source"):
        value = data.get(name)
        if isinstance(value, str) and len(value) > limits.max_field_chars:
            raise RecordInvalid(
                f"{name}: longer than the limit of {limits.max_field_chars} characters", slug=slug
            )
