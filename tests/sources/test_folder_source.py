"""The `dir` source: formats, quarantine locations, incremental reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syndicator.errors import SourceUnavailable
from syndicator.ports import SourceItem
from syndicator.sources.decode import decoded
from syndicator.sources.folder import FolderSource
from tests.drained import Drained, drain


def read(source: FolderSource, cursor: Any = None) -> tuple[list[SourceItem], Drained]:
    batch = drain(source.poll(None, cursor))
    items = [decoded(item) for item in batch.items]
    return items, batch


def test_object_array_and_lines(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"slug": "a"}))
    (tmp_path / "b.json").write_text('[\n  {"slug": "b1"},\n\n  {"slug": "b2"}\n]\n')
    (tmp_path / "c.jsonl").write_text('{"slug": "c1"}\n\n{"slug": "c2"}\n')
    (tmp_path / "ignored.txt").write_text("{}")
    items, _ = read(FolderSource(tmp_path))
    found = [(Path(i.origin).name, i.line, i.data["slug"]) for i in items]
    assert found == [
        ("a.json", 1, "a"),
        ("b.json", 2, "b1"),
        ("b.json", 4, "b2"),
        ("c.jsonl", 1, "c1"),
        ("c.jsonl", 3, "c2"),
    ]


def test_broken_line_and_file_are_reported_with_location(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"slug": "ok"}\n{"slug": \n{"slug": "ok2"}\n')
    (tmp_path / "b.json").write_text('{\n "slug": "x",\n oops\n}')
    (tmp_path / "c.jsonl").write_bytes(b'{"slug": "\xff"}\n')
    items, _ = read(FolderSource(tmp_path))
    errors = [(i.location, i.error) for i in items if i.error]
    assert [loc for loc, _ in errors] == [
        f"{tmp_path}/a.jsonl:2",
        f"{tmp_path}/b.json:3",
        f"{tmp_path}/c.jsonl:1",
    ]
    assert "invalid JSON" in str(errors[0][1]) and "UTF-8" in str(errors[2][1])
    assert [i.data["slug"] for i in items if i.data] == ["ok", "ok2"]


def test_lone_surrogates_decode(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"slug": "s", "title": "x\\ud800y"}\n')
    items, _ = read(FolderSource(tmp_path))
    assert items[0].data["title"] == "x\ud800y"


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="not found"):
        FolderSource(tmp_path / "gone").poll(None, None)


def test_unchanged_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"slug": "a"}))
    source = FolderSource(tmp_path)
    _, first = read(source)
    items, second = read(source, first.cursor)
    assert items == [] and second.cursor == first.cursor


def test_appended_jsonl_is_read_from_the_last_offset(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"slug": "1"}\n{"slug": "2"}\n')
    source = FolderSource(tmp_path)
    _, first = read(source)
    with path.open("a") as handle:
        handle.write('{"slug": "3"}\n')
    items, second = read(source, first.cursor)
    assert [(i.line, i.data["slug"]) for i in items] == [(3, "3")]
    assert second.forget == [(str(path), 3)]
    # The checksum carried on from the checked prefix holds for the next one.
    with path.open("a") as handle:
        handle.write('{"slug": "4"}\n')
    items, _ = read(source, second.cursor)
    assert [(i.line, i.data["slug"]) for i in items] == [(4, "4")]


def test_rewritten_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"slug": "1"}\n{"slug": "2"}\n')
    source = FolderSource(tmp_path)
    _, first = read(source)
    path.write_text('{"slug": "X"}\n{"slug": "2"}\n{"slug": "3"}\n')
    items, _ = read(source, first.cursor)
    assert [i.data["slug"] for i in items] == ["X", "2", "3"]


@pytest.mark.parametrize("appended", ["", '{"slug": "c", "updated_at": "2026-01-03"}\n'])
def test_same_length_edit_in_place_is_read_whole(tmp_path: Path, appended: str) -> None:
    # An exporter that rewrites the file in place (same inode) with a new
    # `updated_at` for one record keeps its length and every byte near its end.
    path = tmp_path / "a.jsonl"
    lines = [
        '{"slug": "a", "updated_at": "2026-01-01"}\n',
        '{"slug": "b", "updated_at": "2026-01-01", "title": "%s"}\n' % ("words " * 40),
    ]
    path.write_text("".join(lines))
    source = FolderSource(tmp_path)
    _, first = read(source)
    with path.open("r+") as handle:  # same inode, same bytes at the old end
        handle.write(lines[0].replace("01-01", "01-02") + lines[1] + appended)
    items, _ = read(source, first.cursor)
    assert [(i.data["slug"], i.data["updated_at"]) for i in items][:2] == [
        ("a", "2026-01-02"),
        ("b", "2026-01-01"),
    ]
    assert len(items) == 2 + bool(appended)


def test_half_written_last_line_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"slug": "1"}\n{"slug": "2", "ti')
    source = FolderSource(tmp_path)
    items, first = read(source)
    assert [i.data["slug"] for i in items if i.data] == ["1"]
    with path.open("a") as handle:
        handle.write('tle": "done"}\n')
    items, _ = read(source, first.cursor)
    assert [(i.line, i.data["slug"]) for i in items] == [(2, "2")]


def test_complete_last_line_without_newline_is_taken(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"slug": "1"}\n{"slug": "2"}')
    items, _ = read(FolderSource(tmp_path))
    assert [i.data["slug"] for i in items] == ["1", "2"]


def test_deleted_file_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"slug": "1"}\n')
    source = FolderSource(tmp_path)
    _, first = read(source)
    path.unlink()
    _, second = read(source, first.cursor)
    assert second.cursor == {}
    assert (str(path), 0) in second.forget


def test_record_size_and_records_per_file_limits(tmp_path: Path) -> None:
    from syndicator.core.records import RecordLimits

    big = json.dumps({"slug": "big", "title": "x" * 500})
    (tmp_path / "a.jsonl").write_text(f'{{"slug": "1"}}\n{big}\n{{"slug": "3"}}\n')
    (tmp_path / "b.json").write_text(f'[{{"slug": "4"}}, {big}]')
    (tmp_path / "c.json").write_text(big)
    (tmp_path / "d.jsonl").write_text("".join(f'{{"slug": "d{i}"}}\n' for i in range(5)))
    limits = RecordLimits(max_record_bytes=200, max_records_per_file=3)
    items, _ = read(FolderSource(tmp_path, limits=limits))
    errors = [(Path(i.origin).name, i.line, i.error) for i in items if i.error]
    assert [(name, line) for name, line, _ in errors] == [
        ("a.jsonl", 2),
        ("b.json", 1),
        ("c.json", 1),
        ("d.jsonl", 4),
    ]
    assert "larger than the limit of 200 bytes" in str(errors[0][2])
    assert "limit of 3" in str(errors[3][2])
    assert [i.data["slug"] for i in items if i.data] == ["1", "3", "4", "d0", "d1", "d2"]
