"""`[retention] days`: a positive number of days, fractions allowed, 30 by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import load_settings
from syndicator.errors import ConfigError


def settings_with(tmp_path: Path, text: str, **env: str) -> float:
    path = tmp_path / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=env).retention.days


def test_default_and_fractions(tmp_path: Path) -> None:
    assert settings_with(tmp_path, "") == 30
    assert settings_with(tmp_path, "[retention]\ndays = 0.25\n") == 0.25
    assert settings_with(tmp_path, "", SYNDICATOR_RETENTION__DAYS="7.5") == 7.5


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "greater than 0"),
        ("-3", "greater than 0"),
        ('"a month"', "valid number"),
        ("inf", "finite number"),
        ("40000", "less than or equal to 36500"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, f"[retention]\ndays = {value}\n")
    assert "retention.days" in str(caught.value)
    assert problem in str(caught.value)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"retention\.weeks: unknown key"):
        settings_with(tmp_path, "[retention]\nweeks = 4\n")
