"""Configuration error messages: where a bad value came from, and what was meant.

pydantic reports a location such as ``("webhooks", 0, "url")``; an operator
wrote ``[[webhooks]] name = "crm"`` in a file, or set ``SYNDICATOR_WEBHOOKS__CRM__URL``.
`describe` turns each error into ``<origin>: <key>: <problem>``, where the
origin is the environment variable that set the value, else the config file,
the key names list items by their ``name``, and an unknown key comes with the
nearest known one ("did you mean …").
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["Origins", "describe", "key_path"]

#: The environment variable that set (or created) each place in the config data,
#: by its path with list positions as integers.
Origins = dict[tuple[str | int, ...], str]


def key_path(loc: Sequence[str | int], data: Any) -> str:
    """``webhooks.crm.url`` for ``("webhooks", 0, "url")``: list items by their name."""
    parts: list[str] = []
    node = data
    for part in loc:
        label = str(part)
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
            name = node.get("name") if isinstance(node, dict) else None
            if isinstance(name, str) and name:
                label = name
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            node = None
        parts.append(label)
    return ".".join(parts) or "config"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds, directly, in a tuple/list, or as optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _known_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the table at `loc` accepts (empty when it is not a table of settings)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue  # a position in a list of tables: same model
        field = model.model_fields.get(part)
        model = None if field is None else _model_of(field.annotation)
    return [] if model is None else list(model.model_fields)


def _origin(loc: tuple[str | int, ...], origins: Origins, config_path: Path) -> str:
    """The variable that set `loc` or a table holding it, else the file."""
    for end in range(len(loc), 0, -1):
        var = origins.get(loc[:end])
        if var is not None:
            return var
    return str(config_path)


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel], var: str | None) -> str:
    """The message for an unknown key: the nearest known one of its table, if any."""
    known = _known_keys(root, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if not close:
        return "unknown key" + (f" (known: {', '.join(known)})" if 0 < len(known) <= 12 else "")
    head, _, _last = (var or "").rpartition("__")
    if var is not None and var.count("__") == len(loc) - 1 and head:
        # The variable that was meant, spelled like the one given (list items by name).
        return f"unknown key (did you mean {close[0]}, {head}__{close[0].upper()}?)"
    return f"unknown key (did you mean {close[0]}?)"


def describe(
    error: ValidationError,
    data: Mapping[str, Any],
    origins: Origins,
    config_path: Path,
    root: type[BaseModel],
) -> str:
    """One line for every problem pydantic found, each naming its origin and key."""
    lines = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        origin = _origin(loc, origins, config_path)
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and loc:
            from_env = origin != str(config_path)
            msg = _unknown_key(loc, root, origin if from_env else None)
        lines.append(f"{origin}: {key_path(loc, data)}: {msg}")
    return "\n".join(lines)
