"""Generate docs/configuration.md from the pydantic settings models.

    python scripts/gen_config_reference.py          # rewrite docs/configuration.md
    python scripts/gen_config_reference.py --check  # exit 1 if the file is out of date

Every section and key of `syndicator.config.Settings` is walked recursively:
type, default, constraints (from the field metadata), the environment
variable that overrides it, and a description. A description comes from the
field (`Field(description=...)`), else from a ``#:`` comment above the field in
its class, else from `DESCRIPTIONS` below. A field with none of these makes
the generator fail, and so does an entry of `DESCRIPTIONS` that names no
field: the reference cannot drift from the models.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from syndicator.config import Settings

__all__ = ["DESCRIPTIONS", "ReferenceError", "main", "render"]

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "configuration.md"
ENV_PREFIX = "SYNDICATOR_"

#: Descriptions of fields that carry none in `syndicator/config.py`, by dotted key.
DESCRIPTIONS: dict[str, str] = {
    "site.title": "Site name: the title of every feed (`<title>: <topic>` for topic feeds), "
    "the OPML file and the index page.",
    "site.base_url": "Public URL prefix of the service, used in feed self links, the OPML file, "
    "the index page and webhook payloads (`data.feeds`). A trailing `/` is removed.",
    "site.language": "Feed-level language tag (RSS `<language>`, Atom `xml:lang`, JSON Feed "
    "`language`). Per-article `lang` is written on each entry regardless.",
    "source.kind": "`dir`: a folder of `*.json` / `*.jsonl` files. `http`: a JSON API polled "
    "over HTTP.",
    "source.path": "`dir` source: the folder to read (relative to the working directory).",
    "source.url": "`http` source: the endpoint polled with "
    '`GET {url}?{since_param}=<RFC 3339>`. Required when `kind = "http"`.',
    "source.headers": "`http` source: extra request headers, "
    'e.g. `{ Accept = "application/json" }`.',
    "source.headers_env": "`http` source: request headers whose values are read from environment "
    'variables, e.g. `{ Authorization = "CMS_TOKEN" }`. Use this for secrets.',
    "source.since_param": "`http` source: name of the query parameter carrying the watermark.",
    "source.items_key": "`http` source: key of the record list in a paged JSON object response.",
    "source.next_key": "`http` source: key of the next page's absolute URL (or null) in a paged "
    "response.",
    "source.timeout_seconds": "`http` source: timeout of each request.",
    "source.max_pages": "`http` source: more pages than this in one poll fails the poll.",
    "source.max_bytes": "`http` source: more response bytes than this in one poll fails the poll.",
    "source.ping_secret_env": "Environment variable holding the `whsec_...` secret of signed "
    "source pings: when set, `POST /hooks/source` with a valid Standard Webhooks signature "
    "triggers a poll now (see [Poll now](push.md)). Several secrets separated by spaces are all "
    "accepted, for a rotation. Unset: the route answers `404`.",
    "source.limits.max_record_bytes": "A record larger than this (encoded JSON) is quarantined.",
    "source.limits.max_body_bytes": "A `body_md` larger than this (UTF-8 bytes) is quarantined.",
    "source.limits.max_topics": "A record with more topics than this is quarantined.",
    "source.limits.max_entities": (
        "Distinct entities kept of one record (case-insensitive, in record order); the rest "
        "are dropped with a note in `syndicator status`, and the article is still published."
    ),
    "source.limits.max_field_chars": "A `slug`, `title`, `summary`, `url` or "
    "`canonical_source` longer than this many characters is quarantined.",
    "source.limits.max_records_per_file": "`dir` source: records past this count in one file are "
    "quarantined.",
    "poll.interval_seconds": "Time between two scheduled polls of `syndicator run`.",
    "poll.overlap_seconds": "Each poll asks for records with `updated_at` >= watermark minus this, "
    "so records written late with an older `updated_at` are not missed.",
    "feeds.output_dir": "Folder the static files are written to (`feeds/T.rss`, `feeds.opml`, "
    "`index.html`), by atomic replace.",
    "feeds.max_entries": "Entries per feed: the newest by `updated_at`.",
    "server.host": "Address the HTTP server listens on (`0.0.0.0` for every interface).",
    "server.port": "TCP port of the HTTP server.",
    "delivery.allow_private_network": "Allow webhook destinations in private, loopback or "
    "link-local ranges (checked on the address actually connected to).",
    "delivery.timeout_seconds": "Timeout of one delivery attempt, connection to last byte read.",
    "delivery.max_concurrency": "Attempts in flight at once, over all endpoints, per process.",
    "delivery.per_endpoint_concurrency": "Attempts in flight at once to one endpoint "
    "(overridden per endpoint by `webhooks.max_concurrency`), per process: several "
    "processes on one PostgreSQL database each send up to this many.",
    "delivery.retry_schedule": "Delays in seconds before retry 1, 2, ... after a failed attempt, "
    "each with ±20 % jitter; a longer `Retry-After` wins. When exhausted the delivery is dead.",
    "delivery.once_wait_seconds": "How long `syndicator once`, `deliveries retry` and "
    "`deliveries replay` keep delivering (including retries falling due) before exiting.",
    "delivery.pause_after_failures": "Consecutive failed attempts after which an endpoint is "
    "paused until `syndicator webhooks resume NAME`.",
    "webhooks.name": "Unique name, used by the command line and in logs and `status`.",
    "webhooks.url": "Absolute http(s) URL that receives the `POST`s. Redirects are not followed.",
    "webhooks.secret": "Signing secret, `whsec_<base64>`. Required unless `secret_env` is set.",
    "webhooks.secret_env": "Name of an environment variable holding the secret (takes precedence "
    "over `secret`).",
    "webhooks.topics": 'Topics whose articles are sent; `["*"]` for every topic.',
    "webhooks.entities": "Only articles naming one of these entities, compared as entities are "
    "merged: case-insensitive, accents kept (`nvidia` matches `NVIDIA`); at most 200 characters "
    "each. Empty: any article. Every filter an endpoint sets must match.",
    "webhooks.lang": "Only articles in one of these languages (BCP 47 tags, case-insensitive); a "
    "tag also takes its regional forms: `en` matches `en-GB` and `en-us`, `en-GB` does not match "
    "`en`. Empty: any article, including those without `lang`.",
    "webhooks.events": "Event types sent: `article.created`, `article.updated`, and "
    "`article.deleted` (only when listed: deletions and takedowns, SPEC §3b).",
    "webhooks.allow_private_network": "Overrides `delivery.allow_private_network` for this "
    "endpoint.",
    "webhooks.timeout_seconds": "Overrides `delivery.timeout_seconds` for this endpoint.",
    "webhooks.max_concurrency": "Overrides `delivery.per_endpoint_concurrency` for this endpoint.",
    "webhooks.retry_schedule": "Overrides `delivery.retry_schedule` for this endpoint.",
    "websub.enabled": 'Advertise WebSub hubs (`rel="hub"`) in every feed.',
    "websub.hub_path": "Path of the built-in hub below `site.base_url`.",
    "websub.external_hubs": "Further hub URLs advertised in every feed.",
    "websub.default_lease_seconds": "Built-in hub: lease granted when a subscriber asks for none.",
    "websub.max_lease_seconds": "Built-in hub: longest lease granted.",
    "database.url": "`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or "
    "`postgresql://user:password@host/db`.",
    "log.level": "Lowest level logged.",
    "log.format": "`text`: one line per event; `json`: one JSON object per line.",
}


#: What one table of an array of tables stands for, by its dotted key.
ARRAY_ITEMS: dict[str, str] = {"webhooks": "endpoint", "feeds.custom": "custom feed"}


class ReferenceError(Exception):
    """The models and the descriptions disagree; the message says how."""


@dataclass(frozen=True, slots=True)
class _Section:
    key: str  # dotted, e.g. "source.limits"; "webhooks" for the array of tables
    model: type[BaseModel]
    array: bool  # [[webhooks]]: one table per item


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) < len(get_args(annotation)) and len(args) == 1:
            return args[0], True
    return annotation, False


def _model_of(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The settings model a field holds, and whether it is an array of them."""
    inner, _ = _unwrap_optional(annotation)
    if inspect.isclass(inner) and issubclass(inner, BaseModel):
        return inner, False
    if get_origin(inner) in (tuple, list):
        args = [a for a in get_args(inner) if a is not Ellipsis]
        if len(args) == 1 and inspect.isclass(args[0]) and issubclass(args[0], BaseModel):
            return args[0], True
    return None


def _sections(model: type[BaseModel], prefix: str = "") -> Iterator[_Section]:
    for name, field in model.model_fields.items():
        found = _model_of(field.annotation)
        if found is None:
            continue
        sub, array = found
        key = f"{prefix}{name}"
        yield _Section(key, sub, array)
        yield from _sections(sub, f"{key}.")


def _type_name(annotation: Any) -> str:
    inner, optional = _unwrap_optional(annotation)
    origin = get_origin(inner)
    if origin is Literal:
        text = " or ".join(f'`"{v}"`' for v in get_args(inner))
    elif origin in (tuple, list):
        args = [a for a in get_args(inner) if a is not Ellipsis]
        text = f"list of {_type_name(args[0])}"
    elif origin is dict:
        key, value = get_args(inner)
        text = f"table of {_type_name(key)} → {_type_name(value)}"
    elif inner is SecretStr:
        text = "secret string"
    elif inner is Path:
        text = "path"
    elif inspect.isclass(inner):
        text = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            inner.__name__, inner.__name__
        )
    else:
        text = str(inner)
    return f"{text} (optional)" if optional else text


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:_}" if abs(value) >= 100_000 else str(value)
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return repr(value)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if value is None:
        return "unset"
    return f"`{_toml(value)}`"


def _constraints(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Gt):
            parts.append(f"> {_toml(item.gt)}")
        elif isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {_toml(item.ge)}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {_toml(item.lt)}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {_toml(item.le)}")
        elif isinstance(item, annotated_types.MinLen):
            parts.append(f"length ≥ {item.min_length}")
        elif isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
        elif getattr(item, "pattern", None):
            parts.append(f"matches `{item.pattern}`")
    return ", ".join(parts)


_COMMENT = re.compile(r"^\s*#:\s?(.*)$")
_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """``#:`` comments written just above fields in the class source."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        field = _FIELD.match(line)
        if field and pending:
            found[field.group(1)] = " ".join(pending)
        pending = []
    return found


def _env_name(section: _Section, name: str) -> str:
    if section.array:
        return "—"
    return "`" + ENV_PREFIX + "__".join([*section.key.split("."), name]).upper() + "`"


def _docstring(model: type[BaseModel]) -> str:
    # The first paragraph, without references to the internal product contract.
    doc = (inspect.getdoc(model) or "").split("\n\n")[0].replace("\n", " ")
    return re.sub(r"\s*\(SPEC §[^)]*\)", "", doc)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _describe(section: _Section, name: str, field: FieldInfo, comments: dict[str, str]) -> str:
    key = f"{section.key}.{name}"
    text = field.description or comments.get(name) or DESCRIPTIONS.get(key)
    if not text:
        raise ReferenceError(
            f"{key}: no description; add Field(description=...) or a '#:' comment in "
            f"syndicator/config.py, or an entry in DESCRIPTIONS in {Path(__file__).name}"
        )
    return text


_HEADER = """\
# Configuration reference

<!-- Generated by scripts/gen_config_reference.py from syndicator/config.py; do not edit.
     Regenerate with: .venv/bin/python scripts/gen_config_reference.py -->

Syndicator reads one TOML file: `--config PATH`, else `$SYNDICATOR_CONFIG`, else
`config/syndicator.toml`. Relative paths are relative to the working directory.
Unknown keys are errors, and every error names the key, where its value
came from (the file, or the environment variable that set it) and, for an
unknown key, the nearest known one; `[[webhooks]]` entries are named by their
`name` (`webhooks.crm.url`). `syndicator check-config` validates a file and
exits 2 on a problem; it also checks that a `dir` source's folder exists and
warns about webhook destinations that deliveries will refuse:

```console
$ syndicator --config my.toml check-config
syndicator: my.toml: poll.intervl_seconds: unknown key (did you mean interval_seconds?)
```

A value set by a variable names the variable instead of the file
(`SYNDICATOR_POLL__INTERVL_SECONDS: poll.intervl_seconds: unknown key (did
you mean interval_seconds, SYNDICATOR_POLL__INTERVAL_SECONDS?)`).

Any key of a `[section]` can be overridden by an environment variable
`SYNDICATOR_<SECTION>__<KEY>` (nested tables add one `__<KEY>` per level).
A value that starts with `[`, `{` or `"`, or is `true`, `false` or `null`, is
read as JSON; anything else is a plain string that pydantic converts to the
key's type: `SYNDICATOR_SERVER__PORT=9000`,
`SYNDICATOR_DELIVERY__RETRY_SCHEDULE='[5, 60, 600]'`,
`SYNDICATOR_SOURCE__HEADERS_ENV='{"Authorization": "CMS_TOKEN"}'`.
Keys of a `[[webhooks]]` entry are overridden by its name or position
(`SYNDICATOR_WEBHOOKS__CRM__URL`, `SYNDICATOR_WEBHOOKS__0__URL`); a webhook's
secret comes from the environment with `secret_env`.
"""


def _section_text(section: _Section) -> list[str]:
    model = section.model
    title = f"[[{section.key}]]" if section.array else f"[{section.key}]"
    lines = [f"## `{title}`", "", f"{_docstring(model)} (model `{model.__name__}`)".strip(), ""]
    if section.array:
        item = ARRAY_ITEMS.get(section.key, "entry")
        lines += [f"One table per {item}; there may be none.", ""]
    lines += [
        "| key | type | default | constraints | environment variable | description |",
        "|---|---|---|---|---|---|",
    ]
    comments = _comments(model)
    for name, field in model.model_fields.items():
        if _model_of(field.annotation) is not None:
            continue  # a sub-table: documented in its own section
        cells = [
            f"`{name}`",
            _type_name(field.annotation),
            _default(field),
            _constraints(field),
            _env_name(section, name),
            _describe(section, name, field, comments),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for name, field in model.model_fields.items():
        found = _model_of(field.annotation)
        if found is not None:
            table = f"[[{section.key}.{name}]]" if found[1] else f"[{section.key}.{name}]"
            kind = "Array of tables" if found[1] else "Sub-table"
            lines += ["", f"{kind}: `{table}`, below."]
    lines.append("")
    return lines


def render() -> str:
    """The whole reference as Markdown; raise `ReferenceError` when a description is missing."""
    sections = list(_sections(Settings))
    known = {
        f"{s.key}.{name}"
        for s in sections
        for name, field in s.model.model_fields.items()
        if _model_of(field.annotation) is None
    }
    stale = sorted(set(DESCRIPTIONS) - known)
    if stale:
        raise ReferenceError(f"DESCRIPTIONS names fields that do not exist: {', '.join(stale)}")
    lines = [_HEADER]
    lines += [f"{_docstring(Settings)} Sections, in order:", ""]
    for section in sections:
        title = f"[[{section.key}]]" if section.array else f"[{section.key}]"
        anchor = re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
        lines.append(f"- [`{title}`](#{anchor})")
    lines.append("")
    for section in sections:
        lines += _section_text(section)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) docs/configuration.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        text = render()
    except ReferenceError as exc:
        sys.stderr.write(f"gen_config_reference: {exc}\n")
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is out of date; run scripts/gen_config_reference.py\n")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
