"""`syndicator backup PATH`: a copy of a live SQLite database that works as the database."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicator.store.polls import PollRecord
from syndicator.wiring import open_store
from tests.deployment import Deployment
from tests.integration.test_cli import syndicator

Make = Callable[..., dict[str, Any]]


def cli(deployment: Deployment, *args: str, config: Path | None = None) -> Any:
    return syndicator("--config", str(config or deployment.config), *args, cwd=deployment.root)


SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_is_refused_with_a_pointer_to_pg_dump(deployment: Deployment) -> None:
    done = cli(deployment, "backup", str(deployment.root / "copy.db"))
    assert done.returncode == 2
    assert "pg_dump" in done.stderr
    assert not (deployment.root / "copy.db").exists()


@SQLITE
def test_a_backup_taken_while_writers_commit_is_a_working_database(
    deployment: Deployment, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl", [make_record(f"s{n}", topics=[f"t{n % 7}"]) for n in range(300)]
    )
    assert cli(deployment, "once").returncode == 0
    original = json.loads(cli(deployment, "status", "--json").stdout)

    # A writer commits as fast as it can for the whole backup.
    store = open_store(deployment.settings())
    stop, commits = threading.Event(), [0]

    def write() -> None:
        now = datetime.now(UTC)
        while not stop.is_set():
            store.polls.record_poll(PollRecord("dir", now, now, "ok", {"created": 0}, None))
            commits[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copy = deployment.root / "backups" / "copy.db"
        copy.parent.mkdir()
        done = cli(deployment, "backup", str(copy))
    finally:
        stop.set()
        writer.join()
        store.close()
    assert done.returncode == 0, done.stderr
    assert commits[0] > 0
    assert sorted(p.name for p in copy.parent.iterdir()) == ["copy.db"]  # one whole file
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    # Point a configuration at the copy: it is the same deployment as of the backup.
    restored = deployment.root / "restored.toml"
    restored.write_text(
        deployment.config.read_text(encoding="utf-8")
        .replace(f"sqlite:///{deployment.database}", f"sqlite:///{copy}")
        .replace(str(deployment.output), str(deployment.root / "public2")),
        encoding="utf-8",
    )
    report = json.loads(cli(deployment, "status", "--json", config=restored).stdout)
    for key in ("watermark", "articles", "topics", "events"):
        assert report[key] == original[key], key
    assert report["articles"] == 300
    deployment.write_jsonl("b.jsonl", [make_record("new", topics=["t1"])])
    again = cli(deployment, "once", config=restored)
    assert again.returncode == 0, again.stderr
    assert "1 created, 0 updated" in again.stdout
    assert (deployment.root / "public2" / "feeds" / "t1.atom").exists()


@SQLITE
def test_an_existing_target_is_kept_unless_forced(deployment: Deployment) -> None:
    assert cli(deployment, "once").returncode == 0
    target = deployment.root / "copy.db"
    target.write_text("precious", encoding="utf-8")
    refused = cli(deployment, "backup", str(target))
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "precious"
    forced = cli(deployment, "backup", "--force", str(target))
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes().startswith(b"SQLite format 3\x00")
    assert [p.name for p in deployment.root.iterdir() if p.name.endswith(".part")] == []


@SQLITE
def test_the_database_itself_is_never_a_target(deployment: Deployment) -> None:
    assert cli(deployment, "once").returncode == 0
    before = deployment.database.read_bytes()
    done = cli(deployment, "backup", "--force", str(deployment.database))
    assert done.returncode == 2
    assert "database itself" in done.stderr
    assert deployment.database.read_bytes() == before


@SQLITE
def test_a_missing_database_or_folder_fails_with_exit_1(deployment: Deployment) -> None:
    missing = cli(deployment, "backup", str(deployment.root / "copy.db"))
    assert missing.returncode == 1
    assert "database file not found" in missing.stderr
    assert not deployment.database.exists()  # the backup did not create one
    assert cli(deployment, "once").returncode == 0
    nowhere = cli(deployment, "backup", str(deployment.root / "no" / "copy.db"))
    assert nowhere.returncode == 1
    assert "does not exist" in nowhere.stderr
