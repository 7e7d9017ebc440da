"""docs/configuration.md is generated from the settings models and never drifts."""

from __future__ import annotations

import inspect
import re
import typing

import pytest
from pydantic import BaseModel

import syndicator.config as config_module
from tests.docs.helpers import DOCS, load_script

REFERENCE = DOCS / "configuration.md"


def _settings_models() -> list[type[BaseModel]]:
    """Every pydantic model the config module defines or uses as a section."""
    found = [
        obj
        for _, obj in inspect.getmembers(config_module, inspect.isclass)
        if issubclass(obj, BaseModel) and obj is not BaseModel and not obj.__name__.startswith("_")
    ]
    assert config_module.Settings in found
    return found


def _sections(text: str) -> dict[str, str]:
    """Section text keyed by the model named in its ``(model `X`)`` line."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        match = re.search(r"\(model `(\w+)`\)", chunk)
        if match:
            sections[match.group(1)] = chunk
    return sections


def test_committed_reference_is_what_the_generator_writes() -> None:
    generator = load_script("gen_config_reference")
    assert REFERENCE.read_text(encoding="utf-8") == generator.render(), (
        "docs/configuration.md is out of date: run .venv/bin/python scripts/gen_config_reference.py"
    )


def test_check_mode_agrees() -> None:
    generator = load_script("gen_config_reference")
    assert generator.main(["--check"]) == 0


def test_every_field_of_every_settings_model_is_documented() -> None:
    sections = _sections(REFERENCE.read_text(encoding="utf-8"))
    for model in _settings_models():
        if model is config_module.Settings:
            # The root holds the sections themselves: each must have its heading.
            for name in model.model_fields:
                assert re.search(rf"^## `\[\[?{name}\]?\]`", REFERENCE.read_text(), re.MULTILINE)
            continue
        assert model.__name__ in sections, f"no section documents {model.__name__}"
        for name in model.model_fields:
            annotation = model.model_fields[name].annotation
            # A sub-table, or an array of tables (`tuple[Model, ...]`).
            held = (annotation, *typing.get_args(annotation))
            if any(getattr(item, "model_fields", None) is not None for item in held):
                assert (
                    f"`[{name}]`" in sections[model.__name__]
                    or f".{name}]`" in sections[model.__name__]
                    or f".{name}]]`" in sections[model.__name__]
                )
                continue
            assert f"| `{name}` |" in sections[model.__name__], f"{model.__name__}.{name} missing"


def test_env_var_names_follow_the_override_rule() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert "`SYNDICATOR_SERVER__PORT`" in text
    assert "`SYNDICATOR_SOURCE__LIMITS__MAX_BODY_BYTES`" in text
    # Each documented variable really overrides its key.
    env = {"SYNDICATOR_SERVER__PORT": "9000", "SYNDICATOR_SOURCE__LIMITS__MAX_TOPICS": "7"}
    settings = config_module.Settings.model_validate({})
    assert settings.server.port == 8080
    data: dict[str, object] = {}
    config_module._apply_env(data, env)
    overridden = config_module.Settings.model_validate(data)
    assert overridden.server.port == 9000
    assert overridden.source.limits.max_topics == 7


def test_a_field_without_description_fails_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = load_script("gen_config_reference")
    descriptions = dict(generator.DESCRIPTIONS)
    del descriptions["server.port"]
    monkeypatch.setattr(generator, "DESCRIPTIONS", descriptions)
    with pytest.raises(generator.ReferenceError, match=r"server\.port: no description"):
        generator.render()
    assert generator.main(["--check"]) == 2


def test_a_description_of_no_field_fails_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = load_script("gen_config_reference")
    monkeypatch.setattr(generator, "DESCRIPTIONS", {**generator.DESCRIPTIONS, "server.gone": "x"})
    with pytest.raises(generator.ReferenceError, match=r"server\.gone"):
        generator.render()
