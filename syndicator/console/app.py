"""The console's ASGI app: login, sessions, CSRF checks, the views and the actions.

Mounted under its prefix (``/console/``) by the daemon's web app, which hands
it the scope unchanged. Only GET, HEAD and POST are answered. A GET without a
valid session redirects to the login form; a POST without one is a ``401``,
and a POST whose CSRF token does not match its session a ``403``: in both
cases nothing is done. Every answer forbids caching and framing and carries a
restrictive Content-Security-Policy (no script at all).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from syndicator.config import Settings
from syndicator.console import format as fmt
from syndicator.console.actions import ActionError, Actions
from syndicator.console.auth import SESSION_SECONDS, Keys, LoginThrottle, Session
from syndicator.console.views import ConsoleData, FeedTraffic
from syndicator.store.outbox import STATUSES
from syndicator.store.store import Store

__all__ = ["Console"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "syndicator_console"
LOGIN_COOKIE = "syndicator_console_login"
#: Largest form body read; the console's forms are a few fields.
MAX_FORM_BYTES = 16 * 1024
_HERE = Path(__file__).parent
_SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
#: Pages behind the login: (path under the prefix, view name, template).
_PAGES = {
    "": "health",
    "quarantine": "quarantine",
    "endpoints": "endpoints",
    "deliveries": "deliveries",
    "feeds": "feeds",
    "websub": "websub",
}

Handler = Callable[[Request, Session], Awaitable[Response]]


class Console:
    """The operator console as an ASGI app (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        token: str,
        *,
        prefix: str = "/console/",
        wake: Callable[[], None] = lambda: None,
        traffic: FeedTraffic | None = None,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.keys = Keys(token, wall)
        self.throttle = LoginThrottle(monotonic)
        self.data = ConsoleData(settings, store, clock, traffic)
        self.actions = Actions(settings, store, clock, wake)
        self._sleep = sleep
        self._secure = settings.site.base_url.startswith("https://")
        self._stylesheet = (_HERE / "console.css").read_bytes()
        self.templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(fmt.FILTERS)
        self.templates.globals.update(prefix=prefix, site_title=settings.site.title)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._dispatch(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers[name] = value
        await response(scope, receive, send)

    # -- routing -----------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        method = request.method
        if method not in ("GET", "HEAD", "POST"):
            return Response("Method Not Allowed\n", 405, {"allow": "GET, HEAD, POST"})
        path = request.url.path
        if not path.startswith(self.prefix):
            return _not_found()
        route = path[len(self.prefix) :]
        if route == "console.css" and method != "POST":
            return Response(self._stylesheet, media_type="text/css")
        if route == "login":
            if method == "POST":
                return await self._login(request)
            return self._login_form(None)
        session = self.keys.session(request.cookies.get(SESSION_COOKIE))
        if method == "POST":
            if session is None:
                return self._page("refused.html", 401, reason="Your session has ended.")
            form = await _read_form(request)
            if form is None or not self.keys.csrf_matches(session.id, form.get("csrf")):
                log.warning("console: %s refused: no valid CSRF token", self._who(request, session))
                return self._page("refused.html", 403, reason="The form was not valid.")
            return await self._act(request, session, route, form)
        if session is None:
            return RedirectResponse(f"{self.prefix}login", 303)
        return await self._view(request, session, route)

    async def _view(self, request: Request, session: Session, route: str) -> Response:
        query = request.query_params
        context: dict[str, Any]
        if route in _PAGES:
            name = _PAGES[route]
            if name == "deliveries":
                filtered = await self._deliveries_context(query.get("endpoint"), query)
                if filtered is None:
                    return self._page("refused.html", 400, reason="Not a valid filter.")
                context = filtered
            else:
                context = await asyncio.to_thread(getattr(self.data, name))
                if not isinstance(context, dict):
                    context = {"items": context}
        elif route.startswith("deliveries/") and route[11:].isdigit():
            name = "delivery"
            found = await asyncio.to_thread(self.data.delivery, int(route[11:]))
            if found is None:
                return _not_found()
            context = found
        else:
            return _not_found()
        done = fmt.NOTICES.get(query.get("done", ""))
        return self._page(
            f"{name}.html",
            200,
            view=name,
            csrf=self.keys.csrf(session.id),
            session=session,
            done=done,
            since_default=self.data.since_default(),
            **context,
        )

    async def _deliveries_context(self, endpoint: str | None, query: Any) -> dict[str, Any] | None:
        status = query.get("status") or None
        before = query.get("before") or None
        if status is not None and status not in STATUSES:
            return None
        if before is not None and not before.isdigit():
            return None
        data = await asyncio.to_thread(
            self.data.deliveries, endpoint or None, status, None if before is None else int(before)
        )
        filters = {"endpoint": endpoint or "", "status": status or ""}
        more = None
        if data["next_before"] is not None:
            more = urlencode({**filters, "before": data["next_before"]})
        return {**data, "filters": filters, "more": more}

    # -- actions -------------------------------------------------------------------

    async def _act(
        self, request: Request, session: Session, route: str, form: dict[str, str]
    ) -> Response:
        who = self._who(request, session)
        if route == "logout":
            log.info("console: %s logout", who)
            response = RedirectResponse(f"{self.prefix}login", 303)
            response.delete_cookie(SESSION_COOKIE, path=self.prefix)
            return response
        action = self.actions.get(route)
        if action is None:
            return _not_found()
        try:
            target, back = await asyncio.to_thread(action, form)
        except ActionError as exc:
            return self._page("refused.html", exc.status, reason=str(exc))
        log.info("console: %s %s %s", who, route.replace("/", " "), target)
        self.actions.after(route)
        return RedirectResponse(f"{self.prefix}{back}", 303)

    # -- login ---------------------------------------------------------------------

    def _login_form(self, error: str | None, status: int = 200) -> Response:
        nonce, _ = self.keys.new_session()  # only its random id is used
        response = self._page(
            "login.html", status, error=error, csrf=self.keys.csrf(f"login:{nonce.id}")
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce.id,
            max_age=3600,
            path=self.prefix,
            secure=self._secure,
            httponly=True,
            samesite="strict",
        )
        return response

    async def _login(self, request: Request) -> Response:
        address = _client(request)
        if self.throttle.blocked(address):
            log.warning("console: login refused from %s: too many failures", address)
            return self._page(
                "refused.html", 429, reason="Too many failed logins. Try again later."
            )
        form = await _read_form(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if (
            form is None
            or not nonce
            or not self.keys.csrf_matches(f"login:{nonce}", form.get("csrf"))
        ):
            log.warning("console: login from %s refused: no valid CSRF token", address)
            return self._login_form("The form had expired: please try again.", 403)
        if not self.keys.token_matches(form.get("token", "")):
            delay = self.throttle.failed(address)
            log.warning("console: login failed from %s (wrong token)", address)
            await self._sleep(delay)
            return self._login_form("Wrong token.", 401)
        self.throttle.succeeded(address)
        session, cookie = self.keys.new_session()
        log.info("console: session %s from %s login", session.short, address)
        response = RedirectResponse(self.prefix, 303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            path=self.prefix,
            secure=self._secure,
            httponly=True,
            samesite="strict",
        )
        response.delete_cookie(LOGIN_COOKIE, path=self.prefix)
        return response

    # -- helpers -------------------------------------------------------------------

    def _page(self, template: str, status: int, **context: Any) -> HTMLResponse:
        for name in ("view", "session", "done", "csrf"):
            context.setdefault(name, None)
        html = self.templates.get_template(template).render(**context)
        return HTMLResponse(html, status)

    @staticmethod
    def _who(request: Request, session: Session) -> str:
        return f"session {session.short} from {_client(request)}"


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _not_found() -> Response:
    return Response("Not Found\n", 404, media_type="text/plain")


async def _read_form(request: Request) -> dict[str, str] | None:
    """The fields of a url-encoded form (the first value of each), or None when the
    body is not one or is too large."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}
