"""The `dir` source: a folder of ``*.json`` and ``*.jsonl`` files (SPEC §2).

A poll re-reads only what changed since the last one. Each file's fingerprint
(size, mtime, inode, ctime) is kept in the cursor; an unchanged file is
skipped, and a JSONL file that only grew is read from where the last poll
stopped (when the bytes before that point are still those read). A trailing
line without its newline that does not parse yet is left for the next poll: a
writer may be half-way through it.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from syndicator.core.records import RecordLimits, may_hold_xml_illegal
from syndicator.errors import SourceUnavailable
from syndicator.ports import SourceChunk, SourceItem, SourcePoll
from syndicator.sources.chunks import Chunker
from syndicator.sources.decode import decode_line, loads

__all__ = ["FolderSource"]

_SIGNATURE_BLOCK = 1 << 20
_READ_BUFFER = 1 << 20  # bytes buffered per JSONL file being read
#: Yields a file's items, then returns (bytes consumed, lines consumed).
_Reader = Generator[SourceItem, None, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class _Seen:
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int
    offset: int  # bytes consumed (JSONL)
    lines: int  # lines consumed (JSONL)
    signature: str  # checksum of the bytes before `offset`

    def same_file(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ino, self.ctime_ns) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
            st.st_ctime_ns,
        )

    def to_json(self) -> list[Any]:
        return [
            self.size,
            self.mtime_ns,
            self.ino,
            self.ctime_ns,
            self.offset,
            self.lines,
            self.signature,
        ]

    @classmethod
    def from_json(cls, value: Any) -> _Seen | None:
        try:
            return cls(*value)
        except TypeError:
            return None


def _signature(crc: int, length: int) -> str:
    return f"crc32:{crc:08x}:{length}"


def _prefix_crc(path: Path, offset: int) -> int:
    """CRC-32 of the file's first `offset` bytes: all of them, since a file
    rewritten in place with same-length edits (a new `updated_at` is one) and
    a line added keeps every byte near the old end. It reads the page cache at
    gigabytes a second; parsing the file again would cost far more."""
    crc = 0
    left = offset
    with path.open("rb") as handle:
        while left > 0:
            block = handle.read(min(left, _SIGNATURE_BLOCK))
            if not block:
                break
            crc = zlib.crc32(block, crc)
            left -= len(block)
    return crc


class FolderSource:
    """Reads article records from files in one folder."""

    def __init__(
        self, path: Path, name: str | None = None, limits: RecordLimits | None = None
    ) -> None:
        self.path = path
        self.name = name or f"dir:{path}"
        self.limits = limits or RecordLimits()

    def _list(self) -> list[tuple[str, Path, os.stat_result]]:
        if not self.path.is_dir():
            raise SourceUnavailable(f"{self.path}: source folder not found")
        found = []
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.name.endswith((".json", ".jsonl")):
                        continue
                    try:
                        if entry.is_file():
                            found.append((entry.name, Path(entry.path), entry.stat()))
                    except OSError:
                        continue  # vanished between listing and stat
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: cannot list folder: {exc.strerror}") from exc
        return sorted(found, key=lambda item: item[0])

    def poll(self, since: datetime | None, cursor: Any) -> SourcePoll:
        """Plan a poll over the files that changed; `since` is not needed here."""
        previous: dict[str, Any] = cursor if isinstance(cursor, dict) else {}
        files = self._list()
        kept: dict[str, Any] = {}
        plan: list[tuple[str, Path, os.stat_result, _Seen | None]] = []
        present = set()
        for name, path, st in files:
            present.add(name)
            seen = _Seen.from_json(previous.get(name))
            if seen is not None and seen.same_file(st):
                kept[name] = seen.to_json()
                continue
            plan.append((name, path, st, seen))
        gone = [str(self.path / name) for name in previous if name not in present]
        total = sum(
            st.st_size - (self._tail_offset(path, st, seen) or 0) for _, path, st, seen in plan
        )
        # Resumable: a file enters the cursor only once all its records were read.
        return SourcePoll(self._chunks(plan, kept, gone), total_bytes=total, resumable=True)

    def close(self) -> None:
        """Nothing is kept open between polls."""

    def _tail_offset(self, path: Path, st: os.stat_result, seen: _Seen | None) -> int | None:
        """Where to resume a JSONL file that only grew, or None to read it whole."""
        if seen is None or not path.name.endswith(".jsonl"):
            return None
        if st.st_ino != seen.ino or st.st_size < seen.offset or seen.offset == 0:
            return None
        try:
            same = _signature(_prefix_crc(path, seen.offset), seen.offset) == seen.signature
        except OSError:
            return None
        return seen.offset if same else None

    def _chunks(
        self,
        plan: list[tuple[str, Path, os.stat_result, _Seen | None]],
        cursor: dict[str, Any],
        gone: list[str],
    ) -> Iterator[SourceChunk]:
        out = Chunker()
        for origin in gone:
            out.forget(origin)
        for name, path, st, seen in plan:
            origin = str(path)
            offset = self._tail_offset(path, st, seen)
            start_line = (seen.lines if seen and offset is not None else 0) + 1
            out.forget(origin, start_line if offset is not None else 0)
            # The CRC of the bytes read so far, carried on as the reader goes: a
            # tail read starts from the checked prefix's (its stored signature).
            checksum = [int(seen.signature.split(":")[1], 16) if seen and offset else 0]
            if name.endswith(".jsonl"):
                reader = self._read_jsonl(path, origin, offset or 0, start_line, out, checksum)
            else:
                reader = self._read_json(path, origin, out)
            bounded = self._bounded(reader, origin)
            while True:
                try:
                    item = next(bounded)
                except StopIteration as stop:
                    consumed, lines = stop.value
                    break
                if out.add(item):
                    yield out.take(cursor)
            cursor[name] = _Seen(
                st.st_size,
                st.st_mtime_ns,
                st.st_ino,
                st.st_ctime_ns,
                consumed,
                lines,
                _signature(checksum[0], consumed) if consumed else "",
            ).to_json()
        yield out.take(cursor)

    def _bounded(self, reader: _Reader, origin: str) -> _Reader:
        """Pass at most `max_records_per_file` items on; report the excess once."""
        limit = self.limits.max_records_per_file
        count = 0
        while True:
            try:
                item = next(reader)
            except StopIteration as stop:
                result: tuple[int, int] = stop.value
                return result
            count += 1
            if count <= limit:
                yield item
            elif count == limit + 1:
                yield SourceItem(
                    origin,
                    item.line,
                    error=f"more records in this file than the limit of {limit}; rest skipped",
                )

    def _read_jsonl(
        self,
        path: Path,
        origin: str,
        offset: int,
        line_no: int,
        out: Chunker,
        checksum: list[int],
    ) -> _Reader:
        try:
            # Records are kilobytes long: with the default 8 KiB buffer, line
            # iteration refills it for nearly every line (1 MiB: half the time).
            handle = path.open("rb", buffering=_READ_BUFFER)
        except OSError as exc:
            yield SourceItem(origin, None, error=f"cannot read file: {exc.strerror}")
            return 0, 0
        consumed = offset
        with handle:
            handle.seek(offset)
            for raw in handle:
                out.bytes_read += len(raw)
                complete = raw.endswith(b"\n")
                stripped = raw.strip().removeprefix(b"\xef\xbb\xbf")
                if len(stripped) > self.limits.max_record_bytes:
                    item = SourceItem(origin, line_no, error=self._too_big())
                    stripped = b""  # reported; do not decode
                    yield item
                if stripped and complete:
                    yield SourceItem(origin, line_no, raw=stripped)  # decoded by the consumer
                elif stripped:
                    item = decode_line(stripped, origin, line_no)
                    if item.error is not None:
                        # Possibly half-written: report it, but read it again next time.
                        yield item
                        return consumed, line_no - 1
                    yield item
                consumed += len(raw)
                checksum[0] = zlib.crc32(raw, checksum[0])
                line_no += 1
        return consumed, line_no - 1

    def _too_big(self) -> str:
        return f"record larger than the limit of {self.limits.max_record_bytes} bytes"

    def _read_json(self, path: Path, origin: str, out: Chunker) -> _Reader:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            yield SourceItem(origin, None, error=f"cannot read file: {exc.strerror}")
            return 0, 0
        out.bytes_read += len(raw)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield SourceItem(origin, 1, error=f"not valid UTF-8 (byte {exc.start})")
            return 0, 0
        clean = not may_hold_xml_illegal(raw)
        try:
            stripped = text.lstrip()
            if stripped.startswith("["):
                yield from _array_items(text, origin, self.limits.max_record_bytes, clean)
            elif len(raw) > self.limits.max_record_bytes:
                yield SourceItem(origin, 1, error=self._too_big())
            else:
                line = 1 + text[: len(text) - len(stripped)].count("\n")
                yield SourceItem(origin, line, data=loads(text), clean=clean)
        except json.JSONDecodeError as exc:
            yield SourceItem(
                origin, exc.lineno, error=f"invalid JSON: {exc.msg} (column {exc.colno})"
            )
        except ValueError as exc:
            yield SourceItem(origin, 1, error=f"invalid JSON: {exc}")
        return 0, 0


_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


def _array_items(text: str, origin: str, max_bytes: int, clean: bool) -> Iterator[SourceItem]:
    """Yield each element of a top-level JSON array with the line it starts on.

    The whole array is validated first, so a syntax error anywhere quarantines
    the file rather than half of it.
    """
    loads(text)  # raises on a syntax error anywhere
    pos = text.index("[") + 1
    line, counted = 1, 0
    length = len(text)
    while True:
        while pos < length and text[pos] in _WS:
            pos += 1
        if pos >= length or text[pos] == "]":
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except RecursionError:
            # orjson accepted the nesting (up to 1024 levels), the stdlib did not.
            raise ValueError("JSON nested too deeply") from None
        if pos - counted > max_bytes:  # characters: a lower bound on the encoded size
            yield SourceItem(
                origin, line, error=f"record larger than the limit of {max_bytes} bytes"
            )
        else:
            yield SourceItem(origin, line, data=value, clean=clean)
        while pos < length and text[pos] in _WS:
            pos += 1
        if pos < length and text[pos] == ",":
            pos += 1
