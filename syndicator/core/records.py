"""Validate one untrusted article record (SPEC §1) into an `Article`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syndicator.core.text import strip_xml_illegal
from syndicator.errors import RecordInvalid
from syndicator.models import ALL_TOPIC, Article

__all__ = ["TOPIC_PATTERN", "RecordLimits", "is_safe_topic", "parse_datetime", "parse_record"]

#: Topic slugs double as file names and URL segments, so they are kept to a
#: portable alphabet: lowercase ASCII letters, digits, '-' and '_'.
TOPIC_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,98}[a-z0-9])?")
_LANG_PATTERN = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
#: Unknown fields are stored and hashed as JSON; the encoder refuses nesting
#: past 255 levels, so deeper records are quarantined here instead of failing
#: the whole poll later.
_MAX_EXTRA_DEPTH = 64


def is_safe_topic(topic: str) -> bool:
    """True when `topic` is a slug that is safe as a file name and URL segment."""
    return TOPIC_PATTERN.fullmatch(topic) is not None and topic != ALL_TOPIC


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


def _clean_extra(value: Any, depth: int) -> Any:
    """An unknown field's value with XML-illegal characters removed from every string."""
    if depth > _MAX_EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_EXTRA_DEPTH} levels")
    if isinstance(value, str):
        return strip_xml_illegal(value)
    if isinstance(value, list):
        return [_clean_extra(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {strip_xml_illegal(str(k)): _clean_extra(v, depth + 1) for k, v in value.items()}
    return value


class RecordLimits(BaseModel):
    """Bounds on one record; anything beyond is quarantined with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_record_bytes: int = Field(default=2_000_000, gt=0)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    max_topics: int = Field(default=50, gt=0)
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
        if _LANG_PATTERN.fullmatch(value) is None:
            raise ValueError(f"not a BCP 47 language tag: {value!r}")
        return value

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


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "record"
        msg = item["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_record(data: Any, limits: RecordLimits | None = None) -> Article:
    """Validate a decoded JSON record; raise `RecordInvalid` naming the field at fault."""
    if not isinstance(data, Mapping):
        raise RecordInvalid(f"record must be a JSON object, not {type(data).__name__}")
    raw_slug = data.get("slug")
    slug = raw_slug if isinstance(raw_slug, str) and raw_slug else None
    limits = limits or RecordLimits()
    _check_limits(data, limits, slug)
    try:
        record = _Record.model_validate(data)
    except ValidationError as exc:
        raise RecordInvalid(_describe(exc), slug=slug) from None
    try:
        extra = {
            strip_xml_illegal(name): _clean_extra(value, 1)
            for name, value in (record.model_extra or {}).items()
        }
    except ValueError as exc:
        raise RecordInvalid(f"unknown field: {exc}", slug=slug) from None
    return Article(
        slug=record.slug,
        title=record.title,
        url=record.url,
        published_at=record.published_at,
        updated_at=record.updated_at,
        summary=record.summary,
        body_md=record.body_md,
        canonical_source=record.canonical_source,
        lang=record.lang,
        topics=tuple(record.topics),
        entities=tuple(record.entities),
        alternates=record.alternates,
        extra=extra,
    )


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
