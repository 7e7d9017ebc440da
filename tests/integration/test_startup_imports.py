"""Each command loads only what it uses: checked in `sys.modules` of a fresh process.

A command runs through `syndicator.cli.main` in a new interpreter, which then
reports which of the heavy modules it loaded. Beside each "not loaded" there is
a case where the same module is loaded because the command does use it, so a
probe that saw nothing would fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.receiver import Receiver
from tests.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]

#: Modules whose loading costs start-up time, by what needs them.
HEAVY = (
    "pydantic",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "httpx",
    "httpcore",
    "feedgen",
    "lxml",
    "jinja2",
    "syndicator.render.feeds",
    "syndicator.delivery.worker",
    "syndicator.delivery.sender",
    "syndicator.sources.http_api",
    "syndicator.websub.service",
    "syndicator.console",
    "uvicorn",
)
#: What a command over a SQLite database with no endpoint and no WebSub never needs.
NEVER_ON_SQLITE = {
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "httpx",
    "httpcore",
    "syndicator.delivery.worker",
    "syndicator.delivery.sender",
    "syndicator.sources.http_api",
    "syndicator.websub.service",
    "syndicator.console",
    "uvicorn",  # a build's on-demand part uses `web.documents`, not the server
}
RENDERING = {"feedgen", "lxml", "jinja2", "syndicator.render.feeds"}

# Runs the command in-process, then prints what it loaded as the last line.
PROBE = """
import json, sys
from syndicator.cli import main
heavy = json.loads(sys.argv.pop(1))
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def probe(*args: str, cwd: Path) -> tuple[int, set[str], str]:
    """Run `syndicator ARGS` in a new process: exit code, heavy modules loaded, its output."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    report: dict[str, Any] = json.loads(lines[-1])
    return report["code"], set(report["loaded"]), "\n".join(lines[:-1]) + done.stderr


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A SQLite config over the shipped seeds, no endpoint, no WebSub; returns its path."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f'[source]\nkind = "dir"\npath = "{tmp_path / "seeds"}"\n'
        f'[feeds]\noutput_dir = "{tmp_path / "public"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "state.db"}"\n',
        encoding="utf-8",
    )
    return config


def add_endpoint(config: Path, url: str, secret: str) -> None:
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            f'[delivery]\nonce_wait_seconds = 10\n[[webhooks]]\nname = "hook"\nurl = "{url}"\n'
            f'secret = "{secret}"\nallow_private_network = true\n'
        )


def test_version_loads_no_library(tmp_path: Path) -> None:
    code, loaded, output = probe("--version", cwd=tmp_path)
    assert code == 0 and output.startswith("syndicator ")
    assert loaded == set()


def test_check_config_opens_no_database_and_loads_no_http_stack(site: Path, secret: str) -> None:
    # With an endpoint too: its address is classified without httpx.
    add_endpoint(site, "http://127.0.0.1:9/in", secret)
    code, loaded, output = probe("--config", str(site), "check-config", cwd=site.parent)
    assert code == 0, output
    assert "webhooks: hook" in output
    assert "pydantic" in loaded
    assert not loaded & (NEVER_ON_SQLITE | RENDERING | {"sqlalchemy"})


def test_once_renders_only_when_there_is_something_to_render(site: Path) -> None:
    code, loaded, output = probe("--config", str(site), "once", cwd=site.parent)
    assert code == 0, output
    assert "0 deliveries attempted" in output
    assert RENDERING <= loaded  # the first build renders every feed
    assert not loaded & NEVER_ON_SQLITE

    code, loaded, output = probe("--config", str(site), "once", cwd=site.parent)
    assert code == 0, output
    assert "0 topics rendered" in output
    assert "sqlalchemy" in loaded
    assert not loaded & (NEVER_ON_SQLITE | RENDERING)


def test_once_with_an_endpoint_still_delivers(site: Path, secret: str, receiver: Receiver) -> None:
    add_endpoint(site, receiver.url_for("/in"), secret)
    code, loaded, output = probe("--config", str(site), "once", cwd=site.parent)
    assert code == 0, output
    assert {"httpx", "syndicator.delivery.worker"} <= loaded
    assert receiver.requests, output
    assert "psycopg" not in loaded


@pytest.mark.parametrize(
    "command",
    [("status", "--json"), ("deliveries", "list"), ("websub", "list"), ("articles", "show", "x")],
)
def test_read_only_commands_load_no_http_stack_or_renderer(
    site: Path, command: tuple[str, ...]
) -> None:
    probe("--config", str(site), "once", cwd=site.parent)  # a database to read
    code, loaded, output = probe("--config", str(site), *command, cwd=site.parent)
    assert code in (0, 1), output  # `articles show` of an unknown slug exits 1
    assert "sqlalchemy" in loaded
    assert not loaded & (NEVER_ON_SQLITE | RENDERING)


def test_psycopg_loads_for_postgresql_alone(deployment: Deployment, make_record: Any) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("a")])
    config = str(deployment.config)
    code, loaded, output = probe("--config", config, "once", cwd=deployment.root)
    assert code == 0, output
    assert "1 created" in output
    assert ("psycopg" in loaded) is (deployment.backend == "postgresql")


def test_the_daemon_module_loads_neither_psycopg_nor_the_console(tmp_path: Path) -> None:
    check = (
        "import sys, syndicator.daemon; "
        "print(sorted(m for m in ('psycopg', 'syndicator.console', 'uvicorn') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['uvicorn']"  # what it does serve with is there


def test_the_command_skips_the_last_collection_and_keeps_its_exit_code(tmp_path: Path) -> None:
    script = (
        "import gc, sys\n"
        "from syndicator.cli import console_main\n"
        "sys.argv = ['syndicator', '--config', sys.argv[1], 'check-config']\n"
        "code = console_main()\n"
        "print(code, gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split()[-2:] == ["2", "True"], done.stdout + done.stderr
