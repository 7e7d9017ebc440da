"""The real `syndicator` command on temporary folders (SPEC §8 exit codes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.deployment import Deployment
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss

ROOT = Path(__file__).resolve().parents[2]
Make = Callable[..., dict[str, Any]]


def syndicator(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_once_on_the_default_config_and_shipped_seeds(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    done = syndicator("once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "var" / "public" / "feeds"
    assert (folder / "feed.xsl").is_file()  # the stylesheet the feeds point at
    feeds = sorted(p for p in folder.iterdir() if p.name != "feed.xsl")
    topics = {p.stem for p in feeds}
    assert len(topics) >= 9 and "all" in topics
    for path in feeds:
        check = {
            ".rss": assert_valid_rss,
            ".atom": assert_valid_atom,
            ".json": assert_valid_json_feed,
        }
        check[path.suffix](path.read_bytes())
    status = syndicator("status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["articles"] >= 60 and report["topics"] >= 8
    assert report["last_poll"]["outcome"] == "ok"
    assert report["quarantine"] == []
    for key in ("watermark", "deliveries", "endpoints", "builder"):
        assert key in report
    again = syndicator("once", cwd=tmp_path)
    assert again.returncode == 0 and "0 files written" in again.stdout


def test_quarantined_records_do_not_fail_once(deployment: Deployment, make_record: Make) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("ok"), {"slug": "broken"}])
    done = syndicator("--config", str(deployment.config), "once", cwd=deployment.root)
    assert done.returncode == 0, done.stderr
    status = syndicator("--config", str(deployment.config), "status", cwd=deployment.root)
    assert "a.jsonl:2 [broken]" in status.stdout
    report = json.loads(
        syndicator(
            "--config", str(deployment.config), "status", "--json", cwd=deployment.root
        ).stdout
    )
    assert report["quarantine"][0]["source"].endswith("a.jsonl:2")
    assert report["quarantine"][0]["slug"] == "broken"
    assert "title" in report["quarantine"][0]["reason"]


def test_once_prints_the_deletions_of_its_poll(deployment: Deployment, make_record: Make) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("gone", updated_at="2026-06-01T00:00:00Z")])
    assert (
        syndicator("--config", str(deployment.config), "once", cwd=deployment.root).returncode == 0
    )
    deployment.write_jsonl(
        "b.jsonl", [{"slug": "gone", "deleted": True, "updated_at": "2026-06-02T00:00:00Z"}]
    )
    done = syndicator("--config", str(deployment.config), "once", cwd=deployment.root)
    assert done.returncode == 0, done.stderr
    assert "poll: 0 created, 0 updated, 1 deleted, 0 ignored, 0 quarantined;" in done.stdout


def test_unreadable_source_exits_1_and_keeps_the_watermark(
    deployment: Deployment, make_record: Make
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("ok")])
    assert (
        syndicator("--config", str(deployment.config), "once", cwd=deployment.root).returncode == 0
    )
    shutil.rmtree(deployment.source)
    done = syndicator("--config", str(deployment.config), "once", cwd=deployment.root)
    assert done.returncode == 1
    assert "not found" in done.stderr
    report = json.loads(
        syndicator(
            "--config", str(deployment.config), "status", "--json", cwd=deployment.root
        ).stdout
    )
    assert report["last_poll"]["outcome"] == "failed"
    assert report["watermark"] == "2026-06-01T10:00:00Z"


def test_bad_config_exits_2_naming_the_key(deployment: Deployment) -> None:
    deployment.config.write_text(
        deployment.config.read_text() + "\n[poll]\ninterval_seconds = -5\n"
    )
    for command in ("check-config", "once", "status"):
        done = syndicator("--config", str(deployment.config), command, cwd=deployment.root)
        assert done.returncode == 2
        assert "poll.interval_seconds" in done.stderr


def test_environment_override_error_exits_2(deployment: Deployment) -> None:
    done = syndicator(
        "--config",
        str(deployment.config),
        "check-config",
        cwd=deployment.root,
        env={"SYNDICATOR_SERVER__PORT": "eighty"},
    )
    assert done.returncode == 2 and "server.port" in done.stderr


def test_check_config_ok(deployment: Deployment) -> None:
    done = syndicator("--config", str(deployment.config), "check-config", cwd=deployment.root)
    assert done.returncode == 0 and "ok" in done.stdout


def test_check_config_refuses_an_output_folder_that_cannot_be(deployment: Deployment) -> None:
    blocked = deployment.root / "a-file"
    blocked.write_text("x", encoding="utf-8")
    deployment.config.write_text(
        deployment.config.read_text().replace(
            str(deployment.output), (blocked / "public").as_posix()
        ),
        encoding="utf-8",
    )
    done = syndicator("--config", str(deployment.config), "check-config", cwd=deployment.root)
    assert done.returncode == 2
    assert f"feeds.output_dir: {blocked} is not a folder" in done.stderr


def test_a_mistyped_database_path_is_reported_not_created(tmp_path: Path) -> None:
    """Commands that report on what is stored must not make an empty database
    of a mistyped `database.url` and report on nothing; `check-config` says
    the file does not exist yet."""
    (tmp_path / "src").mkdir()
    missing = tmp_path / "typo" / "state.db"
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f'[site]\ntitle = "T"\nbase_url = "http://127.0.0.1:8080"\n'
        f'[source]\nkind = "dir"\npath = "{tmp_path / "src"}"\n'
        f'[feeds]\noutput_dir = "{tmp_path / "out"}"\n'
        f'[database]\nurl = "sqlite:///{missing}"\n',
        encoding="utf-8",
    )
    for command in (["status"], ["deliveries", "list"], ["articles", "show", "x"]):
        done = syndicator("--config", str(config), *command, cwd=tmp_path)
        assert done.returncode == 1, command
        assert f"database.url: {missing} does not exist" in done.stderr
    assert not missing.parent.exists()
    checked = syndicator("--config", str(config), "check-config", cwd=tmp_path)
    assert checked.returncode == 0 and "does not exist yet" in checked.stdout
    assert syndicator("--config", str(config), "once", cwd=tmp_path).returncode == 0
    assert missing.is_file()  # the first run makes it
    assert syndicator("--config", str(config), "status", cwd=tmp_path).returncode == 0


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert syndicator("frobnicate", cwd=tmp_path).returncode == 2
    assert syndicator(cwd=tmp_path).returncode == 2
    missing = syndicator("--config", str(tmp_path / "none.toml"), "once", cwd=tmp_path)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_version(tmp_path: Path) -> None:
    done = syndicator("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("syndicator ")
