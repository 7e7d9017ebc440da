"""Configuration loading, overrides and errors (SPEC §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import load_settings, ping_secrets
from syndicator.core.signing import decode_secret
from syndicator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "syndicator.toml", environ={})
    assert settings.source.kind == "dir"
    assert settings.source.path == Path("seeds")
    assert settings.feeds.max_entries == 50
    assert settings.delivery.retry_schedule == (5, 300, 1800, 7200, 18000, 36000, 36000)


def test_defaults_from_an_empty_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.server.port == 8080
    assert settings.database.url == "sqlite:///var/syndicator.db"


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\n")
    settings = load_settings(
        path,
        environ={
            "SYNDICATOR_SERVER__PORT": "9090",
            "SYNDICATOR_SITE__BASE_URL": "https://feeds.example.com/",
            "SYNDICATOR_DELIVERY__RETRY_SCHEDULE": "[1, 2, 3]",
            "SYNDICATOR_DELIVERY__ALLOW_PRIVATE_NETWORK": "true",
            "UNRELATED": "x",
        },
    )
    assert settings.server.port == 9090
    assert settings.site.base_url == "https://feeds.example.com"
    assert settings.delivery.retry_schedule == (1, 2, 3)
    assert settings.delivery.allow_private_network is True


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[feeds]\nmax_entries = 7\n")
    settings = load_settings(None, environ={"SYNDICATOR_CONFIG": str(path)})
    assert settings.feeds.max_entries == 7


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("[poll]\ninterval_seconds = -1\n", {}, "poll.interval_seconds"),
        ("[poll]\ninterval_seconds = 'soon'\n", {}, "poll.interval_seconds"),
        ("[poll]\nintreval_seconds = 5\n", {}, "poll.intreval_seconds: unknown key"),
        ("[server]\nport = 70000\n", {}, "server.port"),
        ("[site]\nbase_url = 'ftp://x'\n", {}, "site.base_url"),
        ("[source]\nkind = 'ftp'\n", {}, "source.kind"),
        ("[source]\nkind = 'http'\n", {}, "url"),
        ("", {"SYNDICATOR_FEEDS__MAX_ENTRIES": "many"}, "feeds.max_entries"),
        ("[[webhooks]]\nname = 'a'\nurl = 'https://h.example.com'\n", {}, "secret"),
        (
            "[[webhooks]]\nname = 'a'\nurl = 'https://h.example.com'\nsecret = 'plain'\n",
            {},
            "webhooks.a.secret",
        ),
        (
            "[[webhooks]]\nname = 'a'\nurl = 'https://h.example.com'\n"
            "secret = 'whsec_not*base64!'\n",
            {},
            "webhooks.a.secret",
        ),
        ("[database]\nurl = 'mysql://x'\n", {}, "database.url"),
        ("not toml [", {}, "invalid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ=env)
    assert key in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_webhook_secret_from_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[[webhooks]]\nname = 'crm'\nurl = 'https://h.example.com/in'\nsecret_env = 'CRM_SECRET'\n",
    )
    settings = load_settings(path, environ={"CRM_SECRET": SECRET})
    secret = settings.webhooks[0].secret
    assert secret is not None and secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    with pytest.raises(ConfigError, match="CRM_SECRET is not set"):
        load_settings(path, environ={})


def test_source_header_secrets_must_be_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[source]\nkind = 'http'\nurl = 'https://cms.example.com/a'\n"
        "headers_env = { Authorization = 'CMS_TOKEN' }\n",
    )
    assert load_settings(path, environ={"CMS_TOKEN": "Bearer x"}).source.kind == "http"
    with pytest.raises(ConfigError, match=r"source\.headers_env\.Authorization.*CMS_TOKEN"):
        load_settings(path, environ={})


def test_read_only_commands_do_not_need_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[[webhooks]]\nname = 'crm'\nurl = 'https://h.example.com/in'\nsecret_env = 'CRM_SECRET'\n",
    )
    settings = load_settings(path, environ={}, require_secrets=False)
    assert settings.webhooks[0].secret is None
    with pytest.raises(ConfigError, match="CRM_SECRET"):
        load_settings(path, environ={})


def test_webhook_keys_can_be_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"[[webhooks]]\nname = 'crm'\nurl = 'https://h.example.com/in'\nsecret = '{SECRET}'\n",
    )
    settings = load_settings(
        path,
        environ={
            "SYNDICATOR_WEBHOOKS__CRM__URL": "https://other.example.com/in",
            "SYNDICATOR_WEBHOOKS__0__TOPICS": '["space"]',
        },
    )
    assert settings.webhooks[0].url == "https://other.example.com/in"
    assert settings.webhooks[0].topics == ("space",)
    with pytest.raises(ConfigError, match="webhooks.nope.url"):
        load_settings(path, environ={"SYNDICATOR_WEBHOOKS__NOPE__URL": "https://x.example.com"})


def test_source_ping_secret_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[source]\nping_secret_env = 'PING_SECRET'\n")
    settings = load_settings(path, environ={"PING_SECRET": SECRET})
    assert settings.source.ping_secret_env == "PING_SECRET"
    assert ping_secrets(settings.source, {"PING_SECRET": SECRET}) == (decode_secret(SECRET),)
    rotating = {"PING_SECRET": f" {SECRET}  whsec_b2xk "}
    assert ping_secrets(settings.source, rotating) == (decode_secret(SECRET), b"old")


def test_defaults_have_no_ping_secret(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.source.ping_secret_env is None
    assert ping_secrets(settings.source, {"PING_SECRET": SECRET}) == ()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, r"source\.ping_secret_env: environment variable PING_SECRET is not set"),
        ({"PING_SECRET": "  "}, r"source\.ping_secret_env: .*PING_SECRET is empty"),
        ({"PING_SECRET": "hunter2"}, r"source\.ping_secret_env: PING_SECRET: .*whsec_"),
        ({"PING_SECRET": "whsec_***"}, r"source\.ping_secret_env: PING_SECRET: .*base64"),
    ],
)
def test_a_bad_ping_secret_is_a_config_error(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    path = write(tmp_path, "[source]\nping_secret_env = 'PING_SECRET'\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, environ=environ)
    assert "hunter2" not in str(info.value)
    settings = load_settings(path, environ=environ, require_secrets=False)
    with pytest.raises(ConfigError, match=message):
        ping_secrets(settings.source, environ)


def test_ping_secret_env_can_be_set_by_an_override(tmp_path: Path) -> None:
    environ = {"SYNDICATOR_SOURCE__PING_SECRET_ENV": "HOOK", "HOOK": SECRET}
    settings = load_settings(write(tmp_path, ""), environ=environ)
    assert ping_secrets(settings.source, environ) == (decode_secret(SECRET),)


def test_an_unknown_key_suggests_the_nearest_known_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[poll]\nintreval_seconds = 5\n\n[feeds]\nzzz = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    lines = str(info.value).splitlines()
    assert lines[0] == (
        f"{path}: poll.intreval_seconds: unknown key (did you mean interval_seconds?)"
    )
    # Nothing close: the table's keys are listed instead when they are few.
    assert lines[1].startswith(f"{path}: feeds.zzz: unknown key")
    assert "did you mean" not in lines[1]


def test_an_error_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"[[webhooks]]\nname = 'crm'\nurl = 'https://h.example.com/in'\nsecret = '{SECRET}'\n",
    )
    environ = {
        "SYNDICATOR_POLL__INTERVL_SECONDS": "5",
        "SYNDICATOR_WEBHOOKS__CRM__TOPIC": '["space"]',
        "SYNDICATOR_SERVER__PORT": "eighty",
        "SYNDICATOR_POLLL__INTERVAL_SECONDS": "5",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ)
    lines = set(str(info.value).splitlines())
    assert lines >= {
        "SYNDICATOR_POLL__INTERVL_SECONDS: poll.intervl_seconds: unknown key "
        "(did you mean interval_seconds, SYNDICATOR_POLL__INTERVAL_SECONDS?)",
        "SYNDICATOR_WEBHOOKS__CRM__TOPIC: webhooks.crm.topic: unknown key "
        "(did you mean topics, SYNDICATOR_WEBHOOKS__CRM__TOPICS?)",
        "SYNDICATOR_POLLL__INTERVAL_SECONDS: polll: unknown key (did you mean poll?)",
    }
    assert any(line.startswith("SYNDICATOR_SERVER__PORT: server.port: ") for line in lines)
    assert not any(line.startswith(str(path)) for line in lines)


def test_webhook_errors_name_the_endpoint_not_its_position(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"[[webhooks]]\nname = 'ok'\nurl = 'https://h.example.com/in'\nsecret = '{SECRET}'\n\n"
        "[[webhooks]]\nname = 'crm'\nurl = 'ftp://h.example.com/in'\nsecret_env = 'CRM_KEY'\n"
        "evnets = []\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"CRM_KEY": SECRET})
    text = str(info.value)
    assert f"{path}: webhooks.crm.url: must be an absolute http(s) URL" in text
    assert "webhooks.crm.evnets: unknown key (did you mean events?)" in text
    assert "webhooks.1" not in text
    with pytest.raises(ConfigError, match=r"^webhooks\.crm\.secret_env: .*CRM_KEY is not set"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match=r"webhooks\.nope\.url does not name a setting.*ok, crm"):
        load_settings(path, environ={"SYNDICATOR_WEBHOOKS__NOPE__URL": "https://x.example.com"})
    # Without a name, the position is all there is.
    unnamed = write(tmp_path, "[[webhooks]]\nurl = 'https://h.example.com/in'\n")
    with pytest.raises(ConfigError, match=r"webhooks\.0\.name: Field required"):
        load_settings(unnamed, environ={})
