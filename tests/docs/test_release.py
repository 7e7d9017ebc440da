"""Release hygiene: the wheel builds offline, holds the package alone, and installs a working CLI.

The wheel is built with the setuptools of this environment when it can build
one (no build isolation, so no download); otherwise pip builds it in an
isolated environment from its configured sources, and the test is skipped
when no build backend can be had offline. The wheel is installed into a fresh
virtual environment with no dependencies; the dependencies come from this
environment through a ``.pth`` file placed after the fresh site-packages, so
the installed copy of ``syndicator``, not the working tree, is what runs.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import pytest

from syndicator import __version__
from tests.docs.helpers import ROOT

pytestmark = pytest.mark.timeout(120)


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_RETRIES="0", PIP_DEFAULT_TIMEOUT="5")
    env.pop("PYTHONPATH", None)
    return env


def _can_build_without_isolation() -> bool:
    try:
        major, minor = (int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    # setuptools 70.1 ships bdist_wheel itself; older ones need the `wheel` package.
    return (major, minor) >= (70, 1) or (
        (major, minor) >= (69, 0) and find_spec("wheel") is not None
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy of what the package is made of (as the Dockerfile does), so
    # the build leaves no build/ or *.egg-info behind in the shared working tree.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "syndicator", source / "syndicator", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out)]
    if _can_build_without_isolation():
        pip.append("--no-build-isolation")
    result = subprocess.run(
        [*pip, str(source)],
        capture_output=True,
        text=True,
        env=_offline_env(),
        cwd=source,
        timeout=110,
    )
    if result.returncode != 0 and "build dependencies" in (result.stdout + result.stderr):
        pytest.skip("no build backend available offline (install setuptools>=69 and wheel)")
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("syndicator-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel installed; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install",
            "--quiet", "--no-deps", "--no-index", str(wheel),
        ],
        capture_output=True,
        text=True,
        env=_offline_env(),
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies from this environment, searched after the fresh site-packages.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    deps.update(site.getsitepackages())
    Path(fresh_site, "zz_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    yield venv / "bin"


def test_wheel_holds_the_typed_package_and_no_tests(wheel: Path) -> None:
    assert wheel.name.startswith(f"syndicator-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "syndicator/py.typed" in names
    assert "syndicator/__init__.py" in names
    assert "syndicator/cli.py" in names
    top = {name.split("/")[0] for name in names}
    assert top == {"syndicator", f"syndicator-{__version__}.dist-info"}, top
    assert not [n for n in names if "tests" in n.split("/") or n.split("/")[-1].startswith("test_")]
    entry_points = zipfile.ZipFile(wheel).read(
        f"syndicator-{__version__}.dist-info/entry_points.txt"
    )
    assert b"syndicator = syndicator.cli:console_main" in entry_points


def _run(bin_dir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_offline_env(),
        timeout=60,
    )


def test_installed_command_reports_the_package_version(installed: Path, tmp_path: Path) -> None:
    result = _run(installed, tmp_path, "syndicator", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"syndicator {__version__}"


def test_installed_command_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    result = _run(installed, tmp_path, "syndicator", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "once", "check-config", "status", "deliveries", "webhooks"):
        assert command in result.stdout
    where = _run(
        installed, tmp_path, "python", "-c", "import syndicator; print(syndicator.__file__)"
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where.stdout


def test_installed_command_processes_the_seeds(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "syndicator.toml").write_text(
        f'[source]\npath = "{ROOT / "seeds"}"\n', encoding="utf-8"
    )
    result = _run(installed, tmp_path, "syndicator", "--config", "syndicator.toml", "once")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "public" / "feeds" / "all.atom").is_file()
    assert (tmp_path / "var" / "syndicator.db").is_file()
