"""The example systemd unit: restart policy, hardening, and a command that runs the daemon."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from syndicator.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "syndicator.service"
EXAMPLE_CONFIG = ROOT / "deploy" / "syndicator.toml"

Unit = dict[str, dict[str, list[str]]]

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
}


def parse_unit(text: str) -> Unit:
    """Parse a unit file keeping every assignment of a key, in order (systemd semantics)."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"assignment outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


@pytest.fixture(scope="module")
def unit() -> Unit:
    """The parsed example unit."""
    return parse_unit(UNIT.read_text(encoding="utf-8"))


def _last(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


def test_parser_keeps_repeated_keys_and_continuations() -> None:
    text = "# c\n[Service]\nA=1\nA=\\\n  2 3\n; c\nB=\n[Install]\nWantedBy=x\n"
    assert parse_unit(text) == {
        "Service": {"A": ["1", "2 3"], "B": [""]},
        "Install": {"WantedBy": ["x"]},
    }


def test_execstart_runs_the_daemon_with_the_system_config(unit: Unit) -> None:
    argv = shlex.split(_last(unit, "Service", "ExecStart"))
    assert argv[0].startswith("/") and Path(argv[0]).name == "syndicator"
    assert argv[-1] == "run"
    assert argv[argv.index("--config") + 1] == "/etc/syndicator/syndicator.toml"
    assert _last(unit, "Service", "Type") in ("exec", "simple")
    assert _last(unit, "Service", "User") == "syndicator"


def test_restart_and_stop_policy(unit: Unit) -> None:
    assert _last(unit, "Service", "Restart") == "on-failure"
    assert _last(unit, "Service", "RestartSec") == "5"
    assert _last(unit, "Service", "TimeoutStopSec") == "20"
    assert _last(unit, "Service", "KillSignal") == "SIGTERM"
    assert "2" in _last(unit, "Service", "RestartPreventExitStatus").split()


def test_hardening_options(unit: Unit) -> None:
    for key, expected in HARDENING.items():
        assert _last(unit, "Service", key) == expected, key
    families = set(_last(unit, "Service", "RestrictAddressFamilies").split())
    assert families == {"AF_INET", "AF_INET6", "AF_UNIX"}
    filters = unit["Service"]["SystemCallFilter"]
    assert "@system-service" in filters[0].split()
    assert all(value.startswith("~") for value in filters[1:])


def test_state_directory_is_the_only_writable_path(unit: Unit) -> None:
    workdir = _last(unit, "Service", "WorkingDirectory")
    assert _last(unit, "Service", "StateDirectory") == "syndicator"
    assert workdir == "/var/lib/syndicator"
    assert unit["Service"]["ReadWritePaths"] == [workdir]
    assert _last(unit, "Service", "EnvironmentFile") == "-/etc/syndicator/env"
    assert _last(unit, "Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in _last(unit, "Unit", "After").split()


def test_example_config_is_valid_and_writes_only_to_the_state_directory(unit: Unit) -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    state = Path(_last(unit, "Service", "WorkingDirectory"))
    database = re.sub(r"^sqlite:///", "", settings.database.url)
    for path in (Path(database), settings.feeds.output_dir):
        assert path.is_absolute() and path.is_relative_to(state), path
    assert settings.source.path.is_absolute()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    copy = tmp_path / "syndicator.service"
    copy.write_bytes(UNIT.read_bytes())
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # The virtualenv does not exist on a test machine; any other complaint is a real one.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/syndicator/.venv/bin/syndicator is not executable" not in line
    ]
    assert problems == []
