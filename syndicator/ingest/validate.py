"""Validation of a poll's chunks: here, or in worker processes for large polls.

Validation is pure (no store access): a chunk of source items becomes the
records to quarantine and the `ArticleVersion`s to classify and write. The
writes stay in the poller's process and transaction.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime

from syndicator.core.article import article_version
from syndicator.core.entities import ENTITY_DROPPED, clean_entity, entity_key, entity_problem
from syndicator.core.records import RecordLimits, is_tombstone, parse_record, parse_tombstone
from syndicator.errors import RecordInvalid
from syndicator.models import ArticleVersion, Quarantined, Tombstone
from syndicator.ports import SourceChunk, SourceItem
from syndicator.processes import Workers
from syndicator.sources.decode import decoded

__all__ = ["Validated", "Validator"]

log = logging.getLogger(__name__)

_FUTURE_REASON = "updated_at: too far in the future (beyond poll.future_tolerance_seconds)"


@dataclass(slots=True)
class Validated:
    """A chunk's records sorted into rejected and valid ones."""

    #: (origin, line, what) of each record to quarantine.
    rejected: list[tuple[str, int | None, Quarantined]] = field(default_factory=list)
    #: Records and deletions (SPEC §3b) in source order.
    valid: list[ArticleVersion | Tombstone] = field(default_factory=list)
    #: Where each of `valid` came from: (origin, line), for log messages.
    places: list[tuple[str, int | None]] = field(default_factory=list)
    #: The newest `updated_at` among the valid records.
    newest: datetime | None = None
    #: (origin, line, what) of entities dropped from records that were kept.
    notes: list[tuple[str, int | None, Quarantined]] = field(default_factory=list)

    def location(self, index: int) -> str:
        """`file:line` (or the URL) of ``valid[index]``."""
        origin, line = self.places[index]
        return origin if line is None else f"{origin}:{line}"

    @property
    def records(self) -> int:
        """How many records the chunk held."""
        return len(self.rejected) + len(self.valid)


def validate(
    items: tuple[SourceItem, ...],
    limits: RecordLimits,
    horizon: datetime,
    base_url: str,
    deleted_field: str = "deleted",
) -> Validated:
    """Decode and validate a chunk of records (runs in worker processes too)."""
    out = Validated()
    for raw_item in items:
        item = decoded(raw_item)
        if item.error is not None:
            out.rejected.append((item.origin, item.line, Quarantined(item.location, item.error)))
            continue
        version: ArticleVersion | Tombstone
        data = item.data
        try:
            if is_tombstone(data, deleted_field):
                version = parse_tombstone(data)
            else:
                data, dropped = _without_bad_entities(data, limits.max_entities)
                version = article_version(parse_record(data, limits, clean=item.clean), base_url)
                for reason in dropped:
                    what = Quarantined(item.location, ENTITY_DROPPED + reason, version.slug)
                    out.notes.append((item.origin, item.line, what))
        except RecordInvalid as exc:
            what = Quarantined(item.location, exc.reason, exc.slug)
            out.rejected.append((item.origin, item.line, what))
            continue
        if version.updated_at > horizon:
            what = Quarantined(item.location, _FUTURE_REASON, version.slug)
            out.rejected.append((item.origin, item.line, what))
            continue
        out.valid.append(version)
        out.places.append((item.origin, item.line))
        if out.newest is None or version.updated_at > out.newest:
            out.newest = version.updated_at
    return out


def _without_bad_entities(data: object, limit: int) -> tuple[object, list[str]]:
    """The record without the entities that cannot be feeds (SPEC §4b: the
    article is still published) and those past the first `limit` distinct
    ones, and why they were dropped."""
    if not isinstance(data, Mapping):
        return data, []
    entities = data.get("entities")
    if not isinstance(entities, list):
        return data, []
    kept: list[object] = []
    dropped: list[str] = []
    cleaned = False
    for name in entities:
        problem = entity_problem(name)
        if problem is None:
            shown = clean_entity(name)
            cleaned = cleaned or shown != name
            kept.append(shown)
        else:
            dropped.append(problem)
    if cleaned:
        kept = list(dict.fromkeys(kept))  # "Nvidia" twice, once trimmed, is one spelling
    if len(kept) > limit:
        # Each entity is a feed and a category on every copy of the entry: a
        # record naming thousands would make thousands of feeds and bloat
        # every feed it is in. Spellings of a kept entity stay.
        kept, past = _first_distinct(kept, limit)
        if past:
            dropped.append(
                f"{past} past the limit of {limit} distinct entities (source.limits.max_entities)"
            )
    if not (dropped or cleaned):
        return data, []
    return {**data, "entities": kept}, dropped


def _first_distinct(names: list[object], limit: int) -> tuple[list[object], int]:
    """The names of the first `limit` distinct entities (by merge key), and
    how many names were left out."""
    keys: set[str] = set()
    kept: list[object] = []
    for name in names:
        key = entity_key(str(name))
        if key in keys or len(keys) < limit:
            keys.add(key)
            kept.append(name)
    return kept, len(names) - len(kept)


class Validator:
    """Validates a poll's chunks in order, in worker processes when asked."""

    def __init__(
        self, limits: RecordLimits, base_url: str, workers: Workers, deleted_field: str = "deleted"
    ) -> None:
        self.limits = limits
        self.base_url = base_url
        self.workers = workers
        self.deleted_field = deleted_field

    def run(
        self, chunks: Iterator[SourceChunk], horizon: datetime, *, parallel: bool
    ) -> Iterator[tuple[SourceChunk, Validated]]:
        """Each chunk with its validation, in the source's order."""
        pool = None
        if parallel and self.workers.count >= 1:
            try:
                pool = self.workers.pool()
            except (OSError, RuntimeError) as exc:  # no process support here (no /dev/shm)
                log.warning("cannot start validation workers (%s); validating here", exc)
        if pool is None:
            for chunk in chunks:
                yield chunk, self._here(chunk, horizon)
            return
        yield from self._in_workers(pool, chunks, horizon)

    def _here(self, chunk: SourceChunk, horizon: datetime) -> Validated:
        return validate(chunk.items, self.limits, horizon, self.base_url, self.deleted_field)

    def _in_workers(
        self, pool: ProcessPoolExecutor, chunks: Iterator[SourceChunk], horizon: datetime
    ) -> Iterator[tuple[SourceChunk, Validated]]:
        # Up to two chunks per worker in flight; a worker that fails leaves its
        # chunk, and every later one, to this process.
        ahead: deque[tuple[SourceChunk, Future[Validated] | None]] = deque()
        broken = False
        for chunk in chunks:
            future = None
            if not broken:
                try:
                    future = pool.submit(
                        validate,
                        chunk.items,
                        self.limits,
                        horizon,
                        self.base_url,
                        self.deleted_field,
                    )
                except (BrokenProcessPool, RuntimeError, OSError):
                    broken = True
                    self.workers.discard()
            ahead.append((chunk, future))
            if len(ahead) > 2 * self.workers.count:
                done, broken = self._result(ahead.popleft(), horizon, broken)
                yield done
        if not broken:
            # Every chunk is handed out: the workers load what comes next (a
            # build's modules) while this process commits the last ones.
            self.workers.preload()
        while ahead:
            done, broken = self._result(ahead.popleft(), horizon, broken)
            yield done

    def _result(
        self,
        pending: tuple[SourceChunk, Future[Validated] | None],
        horizon: datetime,
        broken: bool,
    ) -> tuple[tuple[SourceChunk, Validated], bool]:
        chunk, future = pending
        if future is not None and not broken:
            try:
                return (chunk, future.result()), False
            except (BrokenProcessPool, OSError) as exc:
                log.warning("validation workers failed (%s); validating here", exc)
                broken = True
                self.workers.discard()
        return (chunk, self._here(chunk, horizon)), broken
