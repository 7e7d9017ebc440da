"""Checks of webhook destinations before anything is sent (`check-config`, `webhooks test`).

The sender refuses private destinations on the address it connects to
(`guard.py`); these checks classify the same way ahead of time, so an operator
learns at configuration time that an endpoint will be refused, and why.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from syndicator.config import DeliverySettings, WebhookSettings
from syndicator.delivery.addresses import address_problem

__all__ = ["Resolve", "private_destination", "private_network_warnings", "refusal_hint"]

Resolve = Callable[[str, int], Sequence[str]]
"""Resolve ``(host, port)`` to IP address strings (raise ``OSError`` when unknown)."""

#: How long a check waits for the resolver: `check-config` must not hang on a dead one.
_RESOLVE_SECONDS = 3.0
#: Never allowed, whatever `allow_private_network` says (as in the guard).
_ALWAYS_REFUSED = ("unspecified", "multicast")


def _system_resolve(host: str, port: int) -> list[str]:
    """The OS resolver, given up on after a few seconds (empty: not resolved)."""
    found: list[str] = []

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        found.extend(str(info[4][0]) for info in infos)

    # A daemon thread: a resolver that never answers must not keep the command alive.
    thread = threading.Thread(target=look_up, daemon=True)
    thread.start()
    thread.join(_RESOLVE_SECONDS)
    return list(dict.fromkeys(found)) if not thread.is_alive() else []


def private_destination(url: str, resolve: Resolve | None = None) -> tuple[str, str] | None:
    """``(address, class)`` when the URL's host is, or resolves to, an address the
    guard refuses without `allow_private_network` (``("127.0.0.1", "loopback")``).

    A host that cannot be resolved gives None: the sender will report that itself.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if not host:
        return None
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(host))]
    except ValueError:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = (resolve or _system_resolve)(host, port)
    for address in addresses:
        try:
            problem = address_problem(ipaddress.ip_address(address.split("%")[0]))
        except ValueError:
            continue
        if problem is not None:
            return address, problem
    return None


def _allowed(hook: WebhookSettings, defaults: DeliverySettings) -> bool:
    if hook.allow_private_network is None:
        return defaults.allow_private_network
    return hook.allow_private_network


def refusal_hint(
    hook: WebhookSettings, defaults: DeliverySettings, resolve: Resolve | None = None
) -> str | None:
    """Why deliveries to `hook` are refused for its address, and what would allow them."""
    found = private_destination(hook.url, resolve)
    if found is None:
        return None
    address, problem = found
    host = urlsplit(hook.url).hostname or address
    where = address if host.strip("[]") == address else f"{host} resolves to {address}, which"
    if problem.startswith(_ALWAYS_REFUSED):
        return f"webhooks.{hook.name}.url: {where} is {problem}: never a webhook destination"
    if _allowed(hook, defaults):
        return None
    return (
        f"webhooks.{hook.name}.url: {where} is {problem}: connections to it are refused "
        f"unless allow_private_network = true (on endpoint {hook.name!r} or in [delivery])"
    )


def private_network_warnings(
    hooks: Sequence[WebhookSettings], defaults: DeliverySettings, resolve: Resolve | None = None
) -> list[str]:
    """One warning per endpoint whose destination the guard will refuse."""
    return [hint for hook in hooks if (hint := refusal_hint(hook, defaults, resolve)) is not None]
