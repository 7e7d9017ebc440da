"""The poll: source chunks → validate → classify → one commit (SPEC §3).

The watermark, the article state, the quarantine and the outbox events of a
poll are written in one transaction, so a crash at any instant loses no event
and announces no slug as created twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Protocol

from syndicator.config import Settings
from syndicator.core.changes import DELETED_HASH, UNPUBLISHED_HASH, StoredState, classify_change
from syndicator.core.times import format_time
from syndicator.errors import SourceUnavailable
from syndicator.ingest.validate import Validated, Validator
from syndicator.models import ArticleVersion, ChangeKind, ChangeSet, PollOutcome, Tombstone
from syndicator.ports import ArticleSource, Clock, SourceChunk
from syndicator.processes import Workers, return_freed_memory
from syndicator.store import Change, Deletion, PollRecord, Store, Tx

__all__ = ["Poller", "Progress"]

log = logging.getLogger(__name__)

# A resumable source's poll commits after about this many records: each part
# is one transaction carrying the cursor of what it finished, so a huge import
# keeps what it committed after a crash (the rest is read again, its records
# then ignored as already known).
_RECORDS_PER_COMMIT = 200_000
# Records ignored with a reason worth telling are logged one by one up to this
# many per poll, then counted: a source that rewrites history must not flood the log.
_IGNORED_LOG_LIMIT = 20
# A poll reading at least this much is validated in worker processes too.
_PARALLEL_MIN_POLL_BYTES = 32 * 1024 * 1024


class Progress(Protocol):
    """Receives progress of a long poll (a terminal progress bar, or nothing)."""

    def update(self, done: int, total: int | None) -> None:
        """Report bytes read so far."""

    def close(self) -> None:
        """The poll finished."""


class Poller:
    """Reads the source into the store: articles, watermark, quarantine, events."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: ArticleSource,
        clock: Clock,
        progress: Progress | None = None,
        workers: Workers | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.clock = clock
        self.progress = progress
        self.routes = tuple(hook.route() for hook in settings.webhooks)
        self._ignored_logged = 0
        #: Without shared workers, a large poll starts its own and stops them after.
        self._own_workers = workers is None
        if workers is None:
            workers = Workers.configured(settings.poll.processes)
        self.validator = Validator(
            settings.source.limits, settings.site.base_url, workers, settings.source.deleted_field
        )

    def poll(self) -> ChangeSet:
        """Read the source once and commit what changed; raise `SourceUnavailable` on failure."""
        started = self.clock()
        tick = time.perf_counter()
        try:
            changes = self._poll(started)
        except SourceUnavailable as exc:
            self._record(started, PollOutcome.FAILED, {}, str(exc))
            log.warning("poll failed: %s", exc)
            raise
        finally:
            if self._own_workers:
                self.validator.workers.close()
        self._record(started, PollOutcome.OK, changes.as_dict(), None)
        log.info(
            "poll ok: %d created, %d updated, %d deleted, %d ignored, %d quarantined in %.3f s",
            changes.created,
            changes.updated,
            changes.deleted,
            changes.ignored,
            changes.quarantined,
            time.perf_counter() - tick,
            extra={"counts": changes.as_dict()},
        )
        return changes

    def close(self) -> None:
        """Release the source's connections."""
        self.source.close()

    def _record(
        self, started: datetime, outcome: PollOutcome, counts: dict[str, int], error: str | None
    ) -> None:
        record = PollRecord(self.source.name, started, self.clock(), outcome, counts, error)
        self.store.polls.record_poll(record)

    def _poll(self, now: datetime) -> ChangeSet:
        self._ignored_logged = 0
        watermark, cursor = self.store.polls.source_state(self.source.name)
        overlap = timedelta(seconds=self.settings.poll.overlap_seconds)
        polled = self.source.poll(None if watermark is None else watermark - overlap, cursor)
        horizon = now + timedelta(seconds=self.settings.poll.future_tolerance_seconds)
        large = (polled.total_bytes or 0) >= _PARALLEL_MIN_POLL_BYTES
        chunks = self.validator.run(polled.chunks, horizon, parallel=large)
        part_size = _RECORDS_PER_COMMIT if polled.resumable else None
        changes = ChangeSet()
        newest = watermark
        while True:
            with self.store.transaction(now) as tx:
                part = self._commit_part(tx, chunks, changes, part_size, polled.total_bytes)
                if part is None:
                    break  # the source had no more chunks
                last, newest_in_part, full = part
                newest = _later(newest, newest_in_part)
                tx.set_source(self.source.name, newest, last.cursor)
            if not full:
                break
            # Fold the WAL back into the database before the next part: SQLite
            # finds a page in a long WAL by searching every index block, so a
            # single 11 GB transaction ran 2x slower per record.
            self.store.checkpoint()
        if self.progress is not None:
            self.progress.close()
        if self._ignored_logged > _IGNORED_LOG_LIMIT:
            log.warning(
                "%d more records ignored for the reasons above (not each logged)",
                self._ignored_logged - _IGNORED_LOG_LIMIT,
            )
        if large:
            return_freed_memory()
        return changes

    def _commit_part(
        self,
        tx: Tx,
        chunks: Iterator[tuple[SourceChunk, Validated]],
        changes: ChangeSet,
        part_size: int | None,
        total_bytes: int | None,
    ) -> tuple[SourceChunk, datetime | None, bool] | None:
        """Write chunks until the part is full or the source ends: the last
        chunk written, the newest `updated_at` seen, and whether the part
        filled up (more may follow); None when no chunk was left."""
        last = None
        newest: datetime | None = None
        written = 0
        for chunk, valid in chunks:
            for origin, line in chunk.forget:
                tx.forget_quarantine(self.source.name, origin, line)
            self._write(tx, valid, changes)
            newest = _later(newest, valid.newest)
            last = chunk
            written += valid.records
            if self.progress is not None:
                self.progress.update(chunk.bytes_read, total_bytes)
            if part_size is not None and written >= part_size:
                return last, newest, True
        return None if last is None else (last, newest, False)

    def _write(self, tx: Tx, valid: Validated, changes: ChangeSet) -> None:
        """Classify a validated chunk against the store and write what changed."""
        tx.add_quarantine(self.source.name, valid.rejected)
        changes.quarantined += len(valid.rejected)
        for _origin, _line, what in valid.rejected:
            log.warning("quarantined %s: %s", what.source, what.reason)
        if valid.notes:
            # Kept beside the quarantine so `status` shows them; the article is published.
            tx.add_quarantine(self.source.name, valid.notes)
            for _origin, _line, what in valid.notes:
                log.warning("%s (%s): %s", what.source, what.slug, what.reason)
        states = tx.states(sorted({version.slug for version in valid.valid}))
        pending: list[Change] = []
        removals: list[Deletion] = []
        pending_slugs: set[str] = set()
        for index, version in enumerate(valid.valid):
            if version.slug in pending_slugs:
                # A later version in the same chunk: write the earlier one
                # first, then read back what it is in (its entity feeds).
                self._flush(tx, pending, removals, changes)
                # Read back every slug just written, not only this one: a guess
                # from its record (`_written_state`) lacks its entity and language
                # feeds, and a later version would leave it in them.
                states.update(tx.states(sorted(pending_slugs)))
                pending, removals, pending_slugs = [], [], set()
            stored = states.get(version.slug)
            if isinstance(version, Tombstone):
                kind = classify_change(stored, version, "")
                if kind is not ChangeKind.IGNORED:
                    removals.append(Deletion(kind, version))
                    pending_slugs.add(version.slug)
                    states[version.slug] = _deleted_state(stored, version)
                changes.deleted += kind is ChangeKind.DELETED
                if kind is ChangeKind.IGNORED:
                    changes.ignored += 1
                    self._ignored(stored, version, "", valid.location(index))
                continue
            kind = classify_change(stored, version, version.digest)
            if kind is ChangeKind.IGNORED:
                changes.ignored += 1
                self._ignored(stored, version, version.digest, valid.location(index))
                continue
            restores = stored is not None and stored.deleted
            old = stored or StoredState(version.updated_at, "", ())
            pending.append(
                Change(kind, version, old.topics, restores, old.entities, old.updated_at)
            )
            pending_slugs.add(version.slug)
            # What it is in after this write, for a later version in this chunk.
            states[version.slug] = _written_state(version)
            if kind is ChangeKind.CREATED:
                changes.created += 1
            else:
                changes.updated += 1
        self._flush(tx, pending, removals, changes)

    def _ignored(
        self,
        stored: StoredState | None,
        version: ArticleVersion | Tombstone,
        digest: str,
        location: str,
    ) -> None:
        """Log a record ignored for a reason its writer may not expect.

        Re-reading what is stored (the poll overlap, a rewritten file) is the
        normal, silent case; a change that is dropped because its `updated_at`
        is not newer is data lost unless someone notices.
        """
        if stored is None or digest == stored.content_hash:
            return
        if isinstance(version, Tombstone):
            if stored.deleted:
                return  # already deleted: nothing was lost
            level, reason = logging.INFO, "a deletion whose updated_at is not newer than the "
            reason += f"stored version's ({format_time(stored.updated_at)}); the article stays"
        elif stored.deleted:
            level = logging.INFO
            reason = (
                f"the article was deleted at {format_time(stored.updated_at)}; only a record "
                "with a newer updated_at restores it"
            )
        else:
            level = logging.WARNING
            reason = (
                f"content changed but updated_at {format_time(version.updated_at)} is not newer "
                f"than the stored {format_time(stored.updated_at)}; the change is not published"
            )
        self._ignored_logged += 1
        if self._ignored_logged > _IGNORED_LOG_LIMIT:
            return
        extra = {"slug": version.slug, "source": location, "reason": reason}
        log.log(level, "ignored %s (%s): %s", version.slug, location, reason, extra=extra)

    def _flush(
        self, tx: Tx, pending: list[Change], removals: list[Deletion], changes: ChangeSet
    ) -> None:
        changes.touched_topics |= tx.apply(pending, self.routes)
        changes.touched_topics |= tx.delete(removals, self.routes, self.settings.site.base_url)


def _written_state(version: ArticleVersion) -> StoredState:
    """A written version's state, until read back from the store."""
    return StoredState(version.updated_at, version.digest, version.topics, version.entities)


def _deleted_state(stored: StoredState | None, stone: Tombstone) -> StoredState:
    """The state a slug is in after `stone` was written."""
    announced = stored is not None and stored.announced
    return StoredState(stone.deleted_at, DELETED_HASH if announced else UNPUBLISHED_HASH, ())


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b
