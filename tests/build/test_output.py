"""The output folder: atomic replaces, written on several threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.build.output import OutputDir


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if ".tmp-" in p.name)


def test_write_many_writes_every_file_and_counts_changes(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    out.prepare()
    files = [(f"feeds/t{i}.rss", f"<rss>{i}</rss>".encode() * (i + 1)) for i in range(40)]
    assert out.write_many(files) == 40
    for rel, data in files:
        assert (tmp_path / rel).read_bytes() == data
    # Same bytes again: nothing rewritten, inodes unchanged.
    inodes = {rel: (tmp_path / rel).stat().st_ino for rel, _ in files}
    changed = [("feeds/t0.rss", b"new"), *files[1:]]
    assert out.write_many(changed) == 1
    assert (tmp_path / "feeds/t0.rss").read_bytes() == b"new"
    assert all((tmp_path / rel).stat().st_ino == inodes[rel] for rel, _ in files[1:])
    assert _leftovers(tmp_path) == []


def test_write_many_keeps_the_last_version_of_a_path_given_twice(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    assert out.write_many([("a.json", b"first"), ("a.json", b"second")]) == 1
    assert (tmp_path / "a.json").read_bytes() == b"second"


def test_a_failed_batch_leaves_the_old_files_and_no_temporaries(tmp_path: Path) -> None:
    out = OutputDir(tmp_path)
    out.prepare()
    assert out.write_many([("feeds/a.rss", b"old a"), ("feeds/b.rss", b"old b")]) == 2
    (tmp_path / "feeds" / "blocked").mkdir()
    # A directory where a file should go: its rename fails after every
    # temporary file was written.
    batch = [("feeds/a.rss", b"new a"), ("feeds/blocked", b"x"), ("feeds/b.rss", b"new b")]
    with pytest.raises(OSError):
        out.write_many(batch)
    assert _leftovers(tmp_path) == []
    # Files renamed before the failure are new, the rest old; none half-written.
    assert (tmp_path / "feeds/a.rss").read_bytes() in (b"old a", b"new a")
    assert (tmp_path / "feeds/b.rss").read_bytes() == b"old b"
