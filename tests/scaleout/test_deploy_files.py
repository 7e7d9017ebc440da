"""The worked scale-out deployment is a valid Compose file and nginx config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from syndicator.config import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "scaleout"


def test_compose_runs_three_daemons_over_postgres(tmp_path: Path) -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    daemons = [name for name in services if name.startswith("syndicator-")]
    assert len(daemons) == 3
    assert "postgres" in services and "nginx" in services
    for name in daemons:
        env = services[name]["environment"]
        assert env["SYNDICATOR_DATABASE__URL"].startswith("postgresql://")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        # The environment the daemons get is a valid configuration.
        (tmp_path / "empty.toml").write_text("")
        settings = load_settings(tmp_path / "empty.toml", environ=env)
        assert settings.server.host == "0.0.0.0"


def test_nginx_balances_over_the_three_daemons() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream syndicator \{(.*?)\}", text, re.S)
    assert upstream is not None
    assert re.findall(r"server (syndicator-\d):8080", upstream.group(1)) == [
        "syndicator-1",
        "syndicator-2",
        "syndicator-3",
    ]
    assert "proxy_next_upstream" in text
    assert text.count("{") == text.count("}")
