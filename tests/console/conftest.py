"""A console over a real SQLite store, mounted in the real web app and served by
uvicorn on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from syndicator.config import Settings
from syndicator.console import Console
from syndicator.console.app import SESSION_COOKIE
from syndicator.store import Store
from syndicator.web import DocumentSet, ServerThread, create_app, make_server

TOKEN = "console-token-0123456789abcdef"
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

__all__ = ["NOW", "TOKEN", "ConsoleHarness", "csrf_of"]


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


class ConsoleHarness:
    """The console app, its store and a client; `login()` gives the client a session."""

    def __init__(self, tmp_path: Path, base_url: str = "http://127.0.0.1", **console: Any) -> None:
        self.settings = Settings.model_validate(
            {
                "site": {"title": "Desk", "base_url": base_url},
                "database": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                "webhooks": [
                    {"name": "crm", "url": "https://crm.example/hook", "secret": SECRET},
                    {"name": "search", "url": "https://search.example/hook", "secret": SECRET},
                ],
            }
        )
        self.store = Store(self.settings.database.url)
        self.store.migrate()
        self.slept: list[float] = []
        self.woken = 0
        self.now = NOW

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)  # no waiting in tests; the delay is recorded

        def wake() -> None:
            self.woken += 1

        options: dict[str, Any] = {"sleep": sleep, "wake": wake, "clock": lambda: self.now}
        options.update(console)
        self.console = Console(self.settings, self.store, TOKEN, **options)
        app = create_app(
            DocumentSet(), health=lambda: (True, {}), mounts={"/console/": self.console}
        )
        self.server = ServerThread(make_server(app, "127.0.0.1", 0))
        port = self.server.start()
        self.client = self.new_client(port)

    @staticmethod
    def new_client(port: int) -> httpx.Client:
        """A client of the served app with no cookies (and no proxy)."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{port}", follow_redirects=False, trust_env=False
        )

    def login(self, token: str = TOKEN) -> Any:
        """Fetch the login form and post `token` with its CSRF token."""
        form = self.client.get("/console/login")
        return self.client.post("/console/login", data={"token": token, "csrf": csrf_of(form.text)})

    def csrf(self, page: str = "/console/") -> str:
        """The CSRF token of the forms on a page (the session's)."""
        return csrf_of(self.client.get(page).text)

    def session_cookie(self) -> str | None:
        """The session cookie the client holds."""
        return self.client.cookies.get(SESSION_COOKIE)

    def close(self) -> None:
        """Close the client and the store."""
        self.client.close()
        self.server.stop()
        self.store.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[ConsoleHarness]:
    """A console over a fresh SQLite store, not logged in."""
    made = ConsoleHarness(tmp_path)
    try:
        yield made
    finally:
        made.close()
