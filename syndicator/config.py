"""Settings: one validated object built from TOML and the environment (SPEC §7).

`load_settings(path, environ)` reads the TOML file, applies
`SYNDICATOR_<SECTION>__<KEY>` overrides from `environ` (a parameter, so tests
pass a dict), resolves webhook secrets named by `secret_env`, and validates the
result with pydantic. Every problem becomes a `ConfigError` naming the key.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndicator.config_errors import Origins, describe, key_path
from syndicator.core.custom import ContentMode, CustomFeed, CustomFeedSettings
from syndicator.core.records import RecordLimits, is_safe_topic
from syndicator.core.retry import DEFAULT_RETRY_SCHEDULE
from syndicator.core.routing import EntityFilter, LanguageFilter, Route
from syndicator.core.signing import decode_secret
from syndicator.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConsoleSettings",
    "CustomFeedSettings",
    "DatabaseSettings",
    "DeliverySettings",
    "FeedSettings",
    "PollSettings",
    "RetentionSettings",
    "ServerSettings",
    "Settings",
    "SiteSettings",
    "SourceSettings",
    "WebSubSettings",
    "WebhookSettings",
    "console_token",
    "load_settings",
    "ping_secrets",
]

DEFAULT_CONFIG_PATH = Path("config/syndicator.toml")
_ENV_PREFIX = "SYNDICATOR_"
_EVENT_TYPES = ("article.created", "article.updated", "article.deleted")
#: What an endpoint receives when its config names no `events`.
_DEFAULT_EVENTS = ("article.created", "article.updated")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    return value


class SiteSettings(_Section):
    """Public identity of the feeds."""

    title: str = Field(default="Newsroom", min_length=1)
    base_url: str = "http://127.0.0.1:8080"
    language: str | None = None
    template_dir: Path | None = Field(
        default=None,
        description=(
            "A folder whose `index.html` (a Jinja2 template) replaces the built-in front page; "
            "it may extend the built-in `_base.html`. The context it gets is listed in "
            "docs/feeds.md. A template error stops start-up, naming the file and line"
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")


class SourceSettings(_Section):
    """Where articles come from (SPEC §2)."""

    kind: Literal["dir", "http"] = "dir"
    path: Path = Path("seeds")
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)
    since_param: str = "updated_since"
    items_key: str = "items"
    next_key: str = "next"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_pages: int = Field(default=1000, gt=0)
    max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    ping_secret_env: str | None = Field(default=None, min_length=1)
    watch: bool = Field(
        default=True,
        description=(
            "`dir` source: poll as soon as a record file changes (operating-system file "
            "notifications), besides the scheduled poll; turn off where notifications are "
            "unwanted (the scheduled poll still sees every change)"
        ),
    )
    limits: RecordLimits = Field(default_factory=RecordLimits)
    deleted_field: str = Field(
        default="deleted",
        min_length=1,
        description=(
            "Field that marks a record as a deletion (SPEC §3b): a record whose value here is "
            "truthy (anything but false, null, 0, an empty string, list or object, or a string "
            'spelling false or zero: "false", "f", "no", "n", "off", "0", "0.0") takes its '
            "`slug` down when its `updated_at` is newer than the stored version"
        ),
    )

    @model_validator(mode="after")
    def _needs_url(self) -> SourceSettings:
        if self.kind == "http":
            if not self.url:
                raise ValueError("url: required when kind = 'http'")
            _http_url(self.url)
        return self


class PollSettings(_Section):
    """How often and how far back the source is read (SPEC §3)."""

    interval_seconds: float = Field(default=60.0, gt=0)
    overlap_seconds: float = Field(default=300.0, ge=0)
    #: A record dated further than this in the future is quarantined, so one
    #: bad clock cannot push the watermark past every later record.
    future_tolerance_seconds: float = Field(default=86_400.0, ge=0)
    processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "Processes for large work: validating a big poll, rendering a build of many "
            "topics (a first import, a full rebuild). 0 means one per CPU core, up to 4; "
            "1 keeps everything in the daemon's process. `syndicator run` starts its "
            "worker processes with it and keeps them, so every build of 16 topics or "
            "more is split between them (each worker holds about 60-90 MB)"
        ),
    )


class FeedSettings(_Section):
    """Rendered feeds (SPEC §4)."""

    output_dir: Path = Path("var/public")
    max_entries: int = Field(default=50, gt=0, le=10_000)
    render_cache_mb: int = Field(
        default=64,
        ge=0,
        description=(
            "Memory for rendered feed entries kept between builds, shared by all processes "
            "of a build (0 turns the cache off); entries found here are not rendered again"
        ),
    )
    tombstone_days: float = Field(
        default=7.0,
        ge=0,
        description=(
            "How long an Atom feed lists an article deleted from it as an RFC 6721 "
            "`<at:deleted-entry>`, from when the article left it (fractions allowed; "
            "0 lists none). A feed lists at most "
            "`feeds.max_entries` of them, the newest. RSS and JSON Feed just drop the entry"
        ),
    )
    content: ContentMode = Field(
        default="full",
        description=(
            "What entries of topic, entity and language feeds carry: `full`, the body "
            "rendered to HTML beside the summary; `summary`, the summary alone (feeds about "
            "a sixth the size, for readers that open the article's page). Custom feeds "
            "choose their own"
        ),
    )
    #: Feeds of the articles chosen by topics, entities and language (`[[feeds.custom]]`).
    custom: tuple[CustomFeedSettings, ...] = ()

    @field_validator("custom")
    @classmethod
    def _unique_custom(
        cls, value: tuple[CustomFeedSettings, ...]
    ) -> tuple[CustomFeedSettings, ...]:
        names = [feed.name for feed in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"duplicate name {name!r}")
        return value

    def custom_feeds(self) -> tuple[CustomFeed, ...]:
        """The `[[feeds.custom]]` feeds, resolved (`max_entries` defaults to this section's)."""
        return tuple(CustomFeed.from_settings(feed, self.max_entries) for feed in self.custom)


class ServerSettings(_Section):
    """The HTTP server (SPEC §5)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    cache_max_age_seconds: int = Field(
        default=300,
        ge=0,
        description=(
            "How long readers and caches may keep a feed without asking again: "
            "`Cache-Control: max-age` of every feed, the OPML file and the index page, "
            "and RSS `<ttl>` (in whole minutes, at least 1). Never more than "
            "`poll.interval_seconds` when that is shorter; 0 makes every reader revalidate"
        ),
    )
    cache_mb: int = Field(
        default=64,
        ge=1,
        description=(
            "Memory for the bytes of served documents (topic feeds read back from the "
            "output folder; entity, language and custom feeds rendered on demand; each "
            "with its gzip copy), per process. The least recently used are dropped beyond "
            "it; a request for one reads or renders it again"
        ),
    )


class DeliverySettings(_Section):
    """Webhook delivery defaults; each endpoint may override them (SPEC §6)."""

    allow_private_network: bool = False
    timeout_seconds: float = Field(default=15.0, gt=0)
    max_concurrency: int = Field(default=64, gt=0)
    per_endpoint_concurrency: int = Field(default=4, gt=0)
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    once_wait_seconds: float = Field(default=30.0, ge=0)
    pause_after_failures: int = Field(default=50, gt=0)

    @field_validator("retry_schedule")
    @classmethod
    def _schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("delays must not be negative")
        return value


class WebhookSettings(_Section):
    """One webhook endpoint."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    secret: SecretStr | None = None
    secret_env: str | None = None
    #: Older secrets still signed with during a rotation.
    previous_secrets: tuple[SecretStr, ...] = ()
    topics: tuple[str, ...] = ("*",)
    entities: EntityFilter = ()
    lang: LanguageFilter = ()
    events: tuple[str, ...] = _DEFAULT_EVENTS
    allow_private_network: bool | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)
    max_concurrency: int | None = Field(default=None, gt=0)
    retry_schedule: tuple[float, ...] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A topic no article can have would make a filter that never matches.
        if not value:
            raise ValueError('an empty list matches no article; use ["*"] for every topic')
        for topic in value:
            if topic != "*" and not is_safe_topic(topic):
                raise ValueError(
                    f"{topic[:80]!r} is not a topic slug (lowercase letters, digits, '-' and "
                    "'_'), nor '*' for every topic"
                )
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for event in value:
            if event not in _EVENT_TYPES:
                raise ValueError(f"unknown event type {event!r}; expected one of {_EVENT_TYPES}")
        return value

    @field_validator("secret", "previous_secrets", mode="after")
    @classmethod
    def _secret_format(cls, value: Any) -> Any:
        values = value if isinstance(value, tuple) else (value,)
        for secret in values:
            if secret is not None:
                decode_secret(secret.get_secret_value())  # its message never shows the secret
        return value

    @model_validator(mode="after")
    def _has_secret(self, info: ValidationInfo) -> WebhookSettings:
        required = (info.context or {}).get("require_secrets", True)
        if self.secret is None and (required or not self.secret_env):
            raise ValueError("secret: required (or secret_env naming an environment variable)")
        return self

    def route(self) -> Route:
        """The endpoint's filters, as the outbox fans events out by them."""
        return Route.of(self.name, self.events, self.topics, self.entities, self.lang)


class WebSubSettings(_Section):
    """WebSub publisher and built-in hub (SPEC §6b)."""

    enabled: bool = False
    hub_path: str = "/websub"
    external_hubs: tuple[str, ...] = ()
    default_lease_seconds: int = Field(default=86_400 * 10, gt=0)
    max_lease_seconds: int = Field(default=86_400 * 30, gt=0)


class RetentionSettings(_Section):
    """How long finished webhook deliveries and their events are kept."""

    days: float = Field(
        default=30.0,
        gt=0,
        le=36_500,
        allow_inf_nan=False,
        description=(
            "Delivered and dead deliveries whose last attempt is older than this many days "
            "(fractions allowed) are deleted with their attempts, and so are older events "
            "no delivery refers to any longer. Pending and failed deliveries are never "
            "deleted. Checked at start-up and every minute by `syndicator run`; "
            "at most 36,500 (a century: in effect, forever)"
        ),
    )


class ConsoleSettings(_Section):
    """The operator console at `/console/` (off unless `token_env` names a set variable)."""

    token_env: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Environment variable holding the console's login token: when it is set and "
            "not empty, the operator console answers at `/console/` (see "
            "[console.md](console.md)); unset, `/console/` is a `404`. Sessions are signed "
            "with a key derived from the token, so every process of a deployment accepts "
            "them and changing the token logs everyone out. Use a long random value "
            "(`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        ),
    )


class DatabaseSettings(_Section):
    """Where state lives."""

    url: str = "sqlite:///var/syndicator.db"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class LogSettings(_Section):
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    """The whole configuration."""

    site: SiteSettings = Field(default_factory=SiteSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    websub: WebSubSettings = Field(default_factory=WebSubSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    webhooks: tuple[WebhookSettings, ...] = ()

    def cache_max_age(self) -> int:
        """Seconds a fetched document stays fresh: `server.cache_max_age_seconds`, at
        most one poll interval (a reader should not keep a feed past the next poll)."""
        return min(self.server.cache_max_age_seconds, int(self.poll.interval_seconds))

    @model_validator(mode="after")
    def _unique_webhooks(self) -> Settings:
        names = [hook.name for hook in self.webhooks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"webhooks: duplicate name {name!r}")
        return self


def _env_value(raw: str) -> Any:
    """Decode an override: JSON for lists, objects, numbers and booleans; else the string."""
    text = raw.strip()
    if text[:1] in ("[", "{", '"') or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except ValueError:
            return raw
    return raw


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> Origins:
    """Apply the overrides; return which variable set (or created) each place."""
    origins: Origins = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(_ENV_PREFIX) or name == "SYNDICATOR_CONFIG":
            continue
        path = name[len(_ENV_PREFIX) :].lower().split("__")
        if len(path) < 2 or not all(path):
            raise ConfigError(f"{name}: expected SYNDICATOR_<SECTION>__<KEY>")
        target: Any = data
        where: tuple[str | int, ...] = ()
        for part in path[:-1]:
            target, key, created = _child(target, part, name, path)
            where = (*where, key)
            if created:
                origins.setdefault(where, name)
        target[path[-1]] = _env_value(raw)
        origins[(*where, path[-1])] = name
    return origins


def _child(node: Any, part: str, name: str, path: list[str]) -> tuple[Any, str | int, bool]:
    """Step into a table, or into a list of tables by index or by `name`
    (``SYNDICATOR_WEBHOOKS__CRM__URL`` or ``SYNDICATOR_WEBHOOKS__0__URL``): the
    child, its key (a position in a list), and whether it was created here."""
    if isinstance(node, dict):
        created = part not in node
        child = node.setdefault(part, {})
        if isinstance(child, dict | list):
            return child, part, created
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict) and (
                str(index) == part or str(item.get("name", "")).lower() == part
            ):
                return item, index, False
        names = [str(i["name"]) for i in node if isinstance(i, dict) and i.get("name")]
        known = f" (known: {', '.join(names)})" if names else ""
        raise ConfigError(f"{name}: {'.'.join(path)} does not name a setting{known}")
    raise ConfigError(f"{name}: {'.'.join(path)} does not name a setting")


def _decode_ping_secrets(var: str, environ: Mapping[str, str]) -> tuple[bytes, ...]:
    """The keys in `var`: one ``whsec_`` secret, or several separated by spaces while rotating."""
    if var not in environ:
        raise ConfigError(f"source.ping_secret_env: environment variable {var} is not set")
    try:
        keys = tuple(decode_secret(secret) for secret in environ[var].split())
    except ValueError as exc:  # the message never holds the secret
        raise ConfigError(f"source.ping_secret_env: {var}: {exc}") from None
    if not keys:
        raise ConfigError(f"source.ping_secret_env: environment variable {var} is empty")
    return keys


def ping_secrets(
    source: SourceSettings, environ: Mapping[str, str] | None = None
) -> tuple[bytes, ...]:
    """The keys signed source pings are checked with; empty when pings are off."""
    if source.ping_secret_env is None:
        return ()
    return _decode_ping_secrets(source.ping_secret_env, os.environ if environ is None else environ)


def console_token(console: ConsoleSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The console's login token; None (the console is off) when `token_env` is unset
    or names a variable that is unset or empty."""
    if console.token_env is None:
        return None
    value = (os.environ if environ is None else environ).get(console.token_env, "").strip()
    return value or None


def _resolve_secrets(data: dict[str, Any], environ: Mapping[str, str], required: bool) -> None:
    source = data.get("source")
    if required and isinstance(source, dict) and source.get("ping_secret_env"):
        _decode_ping_secrets(str(source["ping_secret_env"]), environ)
    if required and isinstance(source, dict) and isinstance(source.get("headers_env"), dict):
        for header, var in source["headers_env"].items():
            if str(var) not in environ:
                raise ConfigError(
                    f"source.headers_env.{header}: environment variable {var} is not set"
                )
    hooks = data.get("webhooks")
    if not isinstance(hooks, list):
        return
    for index, hook in enumerate(hooks):
        if isinstance(hook, dict) and hook.get("secret_env"):
            var = str(hook["secret_env"])
            if var not in environ:
                if not required:
                    continue
                where = key_path(("webhooks", index, "secret_env"), data)
                raise ConfigError(f"{where}: environment variable {var} is not set")
            hook["secret"] = environ[var]


def resolve_config_path(path: Path | None, environ: Mapping[str, str]) -> Path:
    """The config file to read: the flag, else $SYNDICATOR_CONFIG, else the default."""
    if path is not None:
        return path
    if environ.get("SYNDICATOR_CONFIG"):
        return Path(environ["SYNDICATOR_CONFIG"])
    return DEFAULT_CONFIG_PATH


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_secrets: bool = True,
) -> Settings:
    """Read, override and validate the configuration; raise `ConfigError` on any problem.

    With `require_secrets=False` (read-only commands such as `status`), secrets
    named by ``secret_env``/``headers_env`` may be absent from the environment.
    """
    env = os.environ if environ is None else environ
    config_path = resolve_config_path(path, env)
    try:
        with config_path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    origins = _apply_env(data, env)
    _resolve_secrets(data, env, require_secrets)
    try:
        return Settings.model_validate(data, context={"require_secrets": require_secrets})
    except ValidationError as exc:
        raise ConfigError(describe(exc, data, origins, config_path, Settings)) from None
