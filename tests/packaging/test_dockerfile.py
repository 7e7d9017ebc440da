"""The container image, checked without a container engine.

A small parser reads the Dockerfile into instructions (joining ``\\``
continuations, dropping comments), so each property the image promises is an
assertion about one instruction of one stage.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PINNED_SLIM_PYTHON = re.compile(r"python:3\.\d+\.\d+-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword, raw arguments, line and build stage."""

    keyword: str
    args: str
    line: int
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON-array arguments of an exec-form instruction, else None."""
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions; ``stage`` is -1 before the first FROM."""
    instructions: list[Instruction] = []
    stage = -1
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments may also sit between continuation lines
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(part for part in pending if part).partition(" ")
        pending = []
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), start, stage))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    """The parsed top-level Dockerfile."""
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(instructions: list[Instruction]) -> list[Instruction]:
    """Instructions of the last (runtime) stage."""
    last = max(item.stage for item in instructions)
    return [item for item in instructions if item.stage == last]


def _global_args(instructions: list[Instruction]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for item in instructions:
        if item.keyword == "ARG" and item.stage == -1:
            name, _, value = item.args.partition("=")
            defaults[name.strip()] = value.strip().strip("\"'")
    return defaults


def _expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value)


def _from_parts(item: Instruction) -> tuple[str, str | None]:
    words = [word for word in item.args.split() if not word.startswith("--")]
    alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
    return words[0], alias


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = '# syntax=docker/dockerfile:1\nFROM a AS b\nRUN one \\\n  # note\n  && two\nCMD ["x"]\n'
    parsed = parse_dockerfile(text)
    assert [(i.keyword, i.args, i.line, i.stage) for i in parsed] == [
        ("FROM", "a AS b", 2, 0),
        ("RUN", "one && two", 3, 0),
        ("CMD", '["x"]', 6, 0),
    ]
    assert parsed[2].exec_form() == ["x"]


def test_multi_stage_on_a_pinned_slim_official_python(instructions: list[Instruction]) -> None:
    froms = [item for item in instructions if item.keyword == "FROM"]
    assert len(froms) >= 2
    args = _global_args(instructions)
    aliases: set[str] = set()
    for item in froms:
        image, alias = _from_parts(item)
        image = _expand(image, args)
        assert image in aliases or PINNED_SLIM_PYTHON.fullmatch(image), image
        if alias:
            aliases.add(alias)


def test_wheels_are_built_from_the_project_files(instructions: list[Instruction]) -> None:
    build = [item for item in instructions if item.stage == 0]
    copied = {
        source.rstrip("/")
        for item in build
        if item.keyword == "COPY"
        for source in shlex.split(item.args)[:-1]
        if not source.startswith("--")
    }
    assert {"pyproject.toml", "syndicator"} <= copied
    for source in copied:
        assert (ROOT / source).exists(), f"the build copies {source}, missing from the repository"
    runs = " ".join(item.args for item in build if item.keyword == "RUN")
    assert re.search(r"pip wheel --no-deps (--wheel-dir|-w) /wheels \.", runs)
    assert re.search(r"pip wheel (--wheel-dir|-w) /wheels \.(?:\s|$)", runs)


def test_runtime_installs_wheels_offline(final: list[Instruction]) -> None:
    runs = [item.args for item in final if item.keyword == "RUN"]
    assert any("pip install --no-cache-dir --no-index /wheels/*" in run for run in runs)
    assert not any(re.search(r"pip install(?!.*--no-index)", run) for run in runs)


def test_no_remote_add(instructions: list[Instruction]) -> None:
    for item in instructions:
        if item.keyword == "ADD":
            assert not re.search(r"\b(?:https?|git|ftp)://|git@", item.args), item


def test_runs_as_fixed_non_root_user_before_cmd(final: list[Instruction]) -> None:
    users = [item for item in final if item.keyword == "USER"]
    cmd = next(item for item in final if item.keyword == "CMD")
    assert users, "the final stage declares no USER"
    user = users[-1]
    assert user.line < cmd.line
    assert user.args.split(":")[0] not in ("root", "0")
    creates = " ".join(item.args for item in final if item.keyword == "RUN")
    assert re.search(rf"useradd\b.*--uid 10001\b.*\b{re.escape(user.args)}\b", creates)


def test_state_volume_port_and_signals(final: list[Instruction]) -> None:
    volumes: list[str] = []
    for item in final:
        if item.keyword == "VOLUME":
            volumes += item.exec_form() or item.args.split()
    assert "/app/var" in volumes
    workdirs = [item.args for item in final if item.keyword == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"
    exposed = {port for item in final if item.keyword == "EXPOSE" for port in item.args.split()}
    assert exposed & {"8080", "8080/tcp"}
    stops = [item.args for item in final if item.keyword == "STOPSIGNAL"]
    assert stops in ([], ["SIGTERM"])
    env = " ".join(item.args for item in final if item.keyword == "ENV")
    assert re.search(r"\bSYNDICATOR_SERVER__HOST=0\.0\.0\.0\b", env)
    copied = " ".join(item.args for item in final if item.keyword == "COPY")
    assert "config/" in copied and "seeds/" in copied


def test_cmd_is_syndicator_run_in_exec_form(final: list[Instruction]) -> None:
    cmds = [item for item in final if item.keyword == "CMD"]
    assert len(cmds) == 1
    assert cmds[0].exec_form() == ["syndicator", "run"]
    assert not any(item.keyword == "ENTRYPOINT" for item in final)


def _healthcheck_command(final: list[Instruction]) -> list[str]:
    (check,) = [item for item in final if item.keyword == "HEALTHCHECK"]
    _, _, command = check.args.partition("CMD ")
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(part) for part in argv]


def test_healthcheck_uses_python_stdlib_on_healthz(final: list[Instruction]) -> None:
    argv = _healthcheck_command(final)
    assert argv[:2] == ["python", "-c"]
    assert "/healthz" in argv[2] and "urllib" in argv[2]
    assert not {"curl", "wget"} & set(argv)


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture()
def health_server() -> Iterator[ThreadingHTTPServer]:
    """A local stand-in for the daemon's /healthz."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_reports_daemon_health(
    final: list[Instruction],
    health_server: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    healthy: bool,
) -> None:
    monkeypatch.setattr(_Health, "status", status)
    argv = _healthcheck_command(final)
    env = {**os.environ, "SYNDICATOR_SERVER__PORT": str(health_server.server_address[1])}
    result = subprocess.run(
        [sys.executable, *argv[1:]], env=env, capture_output=True, check=False, timeout=30
    )
    assert (result.returncode == 0) is healthy


def _ignored(path: str, patterns: list[str]) -> bool:
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, f"{body}/*"):
            verdict = not negate
    return verdict


def test_dockerignore_keeps_secrets_and_clutter_out(instructions: list[Instruction]) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv", ".git", "var", "tests", ".venv/bin/python", ".git/config", ".env"):
        assert _ignored(path, patterns), path
    needed = ["pyproject.toml", "README.md", "syndicator/cli.py", "config/syndicator.toml"]
    needed += ["seeds/000_e0a2023c70849939.json"]
    for path in needed:
        assert not _ignored(path, patterns), path
