"""The `http` source: a JSON article API polled with httpx (SPEC §2).

A poll sends ``GET {url}?{since_param}=<RFC 3339>`` (no parameter on the first
poll: a full sync). The answer is a JSON array of records, or an object whose
``items_key`` holds the records and whose ``next_key`` holds the absolute URL
of the next page, or null.

Design choices:

* All pages are fetched in ``poll()``, before the poller opens its write
  transaction. Network waits (timeouts, retries honouring ``Retry-After``, up to
  about a minute) then never hold the database write lock, which on SQLite
  blocks every other writer; and any failing page raises ``SourceUnavailable``
  before anything is applied, so the watermark never moves past a half-read
  poll. The cost is memory, bounded by ``max_bytes``: only the raw page bytes
  are kept, and each page is decoded again when the poller reaches it.
* The caps fail the poll instead of truncating it: records are not promised in
  ``updated_at`` order, so ingesting part of a poll could move the watermark
  past records on the pages left unread.
* Quarantine identity. A page URL does not identify a record: it changes with
  the since value and with the API's pagination. A record with a slug is
  reported at ``{url}#{slug}`` (``url`` without the since parameter) and each
  time the API sends that slug again its old entry is dropped (``forget``):
  a bad record stays listed until the API sends it again, as a bad line stays
  until its file changes. A record without a usable slug is reported at its
  page URL and position; such entries cannot be matched later, so each full
  poll replaces the previous poll's (their origins are kept in the cursor).
* Conditional requests: the first page's ``ETag``/``Last-Modified`` are kept in
  the cursor with the since value they answered, and sent only while the since
  value is the same; then ``304`` means nothing changed.
* Configured headers often carry secrets, so they are never logged, redirects
  are not followed, and a ``next`` URL must stay on the configured origin. The
  environment is read by nobody here (proxy variables included): header
  values named by ``headers_env`` come from the mapping given to the
  constructor.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from syndicator import __version__
from syndicator.config import SourceSettings
from syndicator.core.retry import parse_retry_after
from syndicator.core.times import format_time
from syndicator.errors import ConfigError, SourceUnavailable
from syndicator.ports import Clock, SourceChunk, SourceItem, SourcePoll
from syndicator.sources.chunks import Chunker
from syndicator.sources.decode import loads

__all__ = ["HttpSource"]

log = logging.getLogger(__name__)

ATTEMPTS = 4  # per request
BACKOFF_SECONDS = 0.5  # first retry delay; doubles with each attempt
MAX_SLEEP_SECONDS = 30.0  # a longer Retry-After fails the poll; the next poll tries again
MAX_TOTAL_SLEEP_SECONDS = 60.0  # per poll, so a poll (and a daemon stop) is never held long
_MAX_SLUG_KEY = 200  # longer "slugs" are surely invalid; do not build origins from them
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Page:
    url: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class _Budget:
    """What one poll has used of its caps."""

    max_bytes: int
    used: int = 0
    slept: float = 0.0


class _Retryable(Exception):
    """An attempt failed in a way that may pass: network error, 408, 429, 5xx."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _encoded_size(record: Any) -> int:
    """The record's size as JSON (0 when it cannot be re-encoded: the validator says why)."""
    try:
        return len(orjson.dumps(record))
    except (TypeError, orjson.JSONEncodeError):
        return 0


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _build_headers(settings: SourceSettings, environ: Mapping[str, str]) -> httpx.Headers:
    headers = httpx.Headers(
        {"User-Agent": f"Syndicator/{__version__}", "Accept": "application/json"}
    )
    configured = [(f"source.headers.{k}", k, v) for k, v in settings.headers.items()]
    for name, var in settings.headers_env.items():
        key = f"source.headers_env.{name}"
        if var not in environ:
            raise ConfigError(f"{key}: environment variable {var} is not set")
        configured.append((key, name, environ[var]))
    for key, name, value in configured:
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigError(f"{key}: not a valid HTTP header name")
        if any(c in value for c in "\r\n\0"):
            # Say nothing about the value itself: it may be a secret.
            raise ConfigError(f"{key}: the value must not contain line breaks or NUL")
        headers[name] = value  # replaces a default of the same name, whatever its case
    return headers


class HttpSource:
    """Reads article records from a paginated JSON API."""

    def __init__(
        self,
        settings: SourceSettings,
        environ: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = _utc_now,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not settings.url:
            raise ConfigError("source.url: required when kind = 'http'")
        self.name = "http"
        self.settings = settings
        self.url = httpx.URL(settings.url)
        self._headers = _build_headers(settings, environ)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._transport = transport
        self._client: httpx.Client | None = None
        self.endpoint = self._stable(settings.url)

    # -- poll ---------------------------------------------------------------

    def poll(self, since: datetime | None, cursor: Any) -> SourcePoll:
        """Fetch every page of this poll; raise `SourceUnavailable` if any cannot be read."""
        previous: dict[str, Any] = cursor if isinstance(cursor, dict) else {}
        since_text = None if since is None else format_time(since)
        conditional: dict[str, str] = {}
        if previous.get("since") == since_text:
            if isinstance(etag := previous.get("etag"), str):
                conditional["If-None-Match"] = etag
            if isinstance(modified := previous.get("last_modified"), str):
                conditional["If-Modified-Since"] = modified
        param = self.settings.since_param
        first = (
            self.url.copy_remove_param(param)
            if since_text is None
            else self.url.copy_set_param(param, since_text)
        )
        budget = _Budget(self.settings.max_bytes)
        client = self._connection()
        page = self._get(client, str(first), conditional, budget)
        if page is None:
            log.debug("source %s: not modified", self.endpoint)
            return SourcePoll(iter([SourceChunk((), previous)]))
        pages = self._follow(client, page, budget)
        cursor = {"since": since_text, "etag": page.etag, "last_modified": page.last_modified}
        loose = previous.get("loose")
        forget = [o for o in loose if isinstance(o, str)] if isinstance(loose, list) else []
        total = sum(len(p.body) for p in pages)
        return SourcePoll(self._chunks(pages, cursor, forget), total_bytes=total)

    def _connection(self) -> httpx.Client:
        """One client for the source's lifetime: a new one costs ~150 ms (its TLS
        context) on a busy machine, most of a pushed poll's time; polls never
        overlap, so it is never shared between two at once."""
        if self._client is None:
            self._client = httpx.Client(
                headers=self._headers,
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                follow_redirects=False,
                trust_env=False,
                transport=self._transport,
            )
        return self._client

    def close(self) -> None:
        """Close the connections kept between polls."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _follow(self, client: httpx.Client, first: _Page, budget: _Budget) -> deque[_Page]:
        pages = deque([first])
        fetched = {first.url}
        page = first
        while True:
            _, link = self._decode(page)
            if link is None:
                return pages
            where = self._display(page.url)
            try:
                target = httpx.URL(link)
            except httpx.InvalidURL as exc:
                raise SourceUnavailable(f"{where}: {self.settings.next_key} is not a URL") from exc
            if target.scheme not in ("http", "https"):
                raise SourceUnavailable(f"{where}: {self.settings.next_key} is not an http(s) URL")
            if _origin(target) != _origin(self.url):
                raise SourceUnavailable(
                    f"{where}: {self.settings.next_key} leaves {_origin_text(self.url)}; "
                    "refused, as configured headers would go with it"
                )
            if link in fetched:
                raise SourceUnavailable(
                    f"{where}: {self.settings.next_key} points to a page already read "
                    "in this poll (a pagination loop)"
                )
            if len(pages) >= self.settings.max_pages:
                raise SourceUnavailable(
                    f"{self.endpoint}: more than {self.settings.max_pages} pages in one poll "
                    "(source.max_pages)"
                )
            fetched.add(link)
            fetched_page = self._get(client, link, {}, budget)
            if fetched_page is None:  # unreachable: 304 is an error without conditions
                raise SourceUnavailable(f"{self._display(link)}: unexpected 304")
            page = fetched_page
            pages.append(page)

    def _chunks(
        self, pages: deque[_Page], cursor: dict[str, Any], loose_before: list[str]
    ) -> Iterator[SourceChunk]:
        out = Chunker()
        for origin in loose_before:
            out.forget(origin)
        loose: set[str] = set()
        for item in self._items(pages, out, loose):
            if out.add(item):
                yield out.take(cursor)
        # Not resumable: only the last chunk's cursor, which names this poll's
        # loose origins, is ever stored.
        cursor["loose"] = sorted(loose)
        yield out.take(cursor)

    def _items(self, pages: deque[_Page], out: Chunker, loose: set[str]) -> Iterator[SourceItem]:
        while pages:
            page = pages.popleft()  # drop each page's bytes once it is consumed
            records, _ = self._decode(page)
            page_origin = self._stable(page.url)
            limits = self.settings.limits
            for index, record in enumerate(records, 1):
                if index > limits.max_records_per_file:
                    loose.add(page_origin)
                    yield SourceItem(
                        page_origin,
                        index,
                        error=f"more records in this page than the limit of "
                        f"{limits.max_records_per_file}; rest skipped",
                    )
                    break
                slug = record.get("slug") if isinstance(record, dict) else None
                too_big = _encoded_size(record) > limits.max_record_bytes
                error = (
                    f"record larger than the limit of {limits.max_record_bytes} bytes"
                    if too_big
                    else None
                )
                data = None if too_big else record
                if isinstance(slug, str) and 0 < len(slug) <= _MAX_SLUG_KEY:
                    origin = f"{self.endpoint}#{quote(slug, safe='')}"
                    out.forget(origin)
                    yield SourceItem(origin, None, data=data, error=error)
                else:
                    loose.add(page_origin)
                    yield SourceItem(page_origin, index, data=data, error=error)
            out.bytes_read += len(page.body)

    # -- one request --------------------------------------------------------

    def _get(
        self, client: httpx.Client, url: str, conditional: dict[str, str], budget: _Budget
    ) -> _Page | None:
        """One page, retried on transient failures; None for `304 Not Modified`."""
        where = self._display(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(client, url, conditional, budget)
            except _Retryable as exc:
                delay = self._delay(attempt, exc.retry_after, budget.slept)
                if delay is None:
                    wait = (
                        "" if exc.retry_after is None else f", asked to wait {exc.retry_after:g} s"
                    )
                    raise SourceUnavailable(
                        f"{where}: {exc.reason} (gave up after {attempt} attempts{wait})"
                    ) from exc
                log.warning(
                    "source %s: %s; retrying in %.1f s (attempt %d of %d)",
                    where,
                    exc.reason,
                    delay,
                    attempt,
                    ATTEMPTS,
                )
                budget.slept += delay
                self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None, slept: float) -> float | None:
        if attempt >= ATTEMPTS:
            return None
        backoff = BACKOFF_SECONDS * 2.0 ** (attempt - 1)
        # Half fixed, half random: polls failing together do not retry in step.
        delay = backoff / 2 + self._rng.uniform(0, backoff / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if delay > MAX_SLEEP_SECONDS or slept + delay > MAX_TOTAL_SLEEP_SECONDS:
            return None
        return delay

    def _attempt(
        self, client: httpx.Client, url: str, conditional: dict[str, str], budget: _Budget
    ) -> _Page | None:
        where = self._display(url)
        try:
            with client.stream("GET", url, headers=conditional) as response:
                status = response.status_code
                if status == 304 and conditional:
                    return None
                if status in (408, 429) or 500 <= status <= 599:
                    retry_after = parse_retry_after(
                        response.headers.get("retry-after"), self._clock()
                    )
                    raise _Retryable(f"HTTP {status}", retry_after)
                if not 200 <= status <= 299:
                    hint = " (redirects are not followed: set source.url to the final address)"
                    raise SourceUnavailable(
                        f"{where}: HTTP {status}{hint if 300 <= status <= 399 else ''}"
                    )
                body = self._read(response, budget, where)
                return _Page(
                    url,
                    body,
                    response.headers.get("etag"),
                    response.headers.get("last-modified"),
                )
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"network error: {str(exc) or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{where}: {type(exc).__name__}: {exc}") from exc

    def _read(self, response: httpx.Response, budget: _Budget, where: str) -> bytes:
        """The body, counted against the per-poll byte cap (after content decoding)."""
        left = budget.max_bytes - budget.used
        too_big = SourceUnavailable(
            f"{where}: more than {budget.max_bytes} bytes in one poll (source.max_bytes)"
        )
        declared = response.headers.get("content-length", "")
        if "content-encoding" not in response.headers and declared.isdigit():
            if int(declared) > left:
                raise too_big
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > left:
                raise too_big
            chunks.append(chunk)
        budget.used += size  # only a body read whole counts; a failed attempt is re-read
        return b"".join(chunks)

    # -- decoding -----------------------------------------------------------

    def _decode(self, page: _Page) -> tuple[list[Any], str | None]:
        """The records of a page and its next link; `SourceUnavailable` when malformed."""
        where = self._display(page.url)
        try:
            data = loads(page.body)
        except (ValueError, RecursionError) as exc:
            raise SourceUnavailable(f"{where}: the page is not valid JSON ({exc})") from exc
        if isinstance(data, list):
            return data, None
        items_key, next_key = self.settings.items_key, self.settings.next_key
        if not isinstance(data, dict):
            raise SourceUnavailable(
                f"{where}: expected a JSON array or an object with {items_key!r}, "
                f"got {type(data).__name__}"
            )
        records = data.get(items_key)
        if not isinstance(records, list):
            problem = "missing" if records is None else f"a {type(records).__name__}"
            raise SourceUnavailable(f"{where}: {items_key!r} should be a list, is {problem}")
        link = data.get(next_key)
        if link is not None and not isinstance(link, str):
            raise SourceUnavailable(f"{where}: {next_key!r} should be a URL or null")
        return records, link or None

    def _stable(self, url: str) -> str:
        """`url` without the since parameter or credentials: the same on every poll."""
        parsed = httpx.URL(url).copy_remove_param(self.settings.since_param)
        return str(parsed.copy_with(username=None, password=None))

    @staticmethod
    def _display(url: str) -> str:
        """`url` for messages and logs: credentials removed."""
        return str(httpx.URL(url).copy_with(username=None, password=None))


def _origin_text(url: httpx.URL) -> str:
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"
