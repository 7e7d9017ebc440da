"""The console's sessions, CSRF tokens and login throttle.

A session is a cookie ``<id>.<expiry>.<signature>``: a random id, a Unix
expiry time and an HMAC-SHA256 over both, keyed by a key derived from the
login token. Nothing is stored: every process that knows the token accepts
the cookie (PostgreSQL scale-out), and a new token invalidates every session.
A form's CSRF token is an HMAC of the session id under the same key, so it
is valid for that session only. The login form, used before any session
exists, is bound the same way to a short-lived random cookie of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Keys", "LoginThrottle", "Session"]

#: How long a login lasts.
SESSION_SECONDS = 12 * 3600
#: Failed logins from one address that are answered (slowly) before it is refused.
MAX_FAILURES = 10
#: A quiet period this long forgets an address's failures.
FAILURE_WINDOW_SECONDS = 15 * 60
#: Addresses tracked at once; the oldest is forgotten first.
MAX_TRACKED = 4096
#: Longest delay before a failed login is answered.
MAX_DELAY_SECONDS = 4.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session: its id and when it ends (Unix seconds)."""

    id: str
    expires: int

    @property
    def short(self) -> str:
        """The first characters of the id: enough to tell sessions apart in a log."""
        return self.id[:8]


class Keys:
    """Signs and checks session cookies and CSRF tokens with keys derived from the token."""

    def __init__(self, token: str, clock: Callable[[], float] = time.time) -> None:
        secret = token.encode("utf-8")
        # Separate keys per purpose: a CSRF token can never pass as a cookie signature.
        self._session_key = hmac.new(secret, b"syndicator console session v1", "sha256").digest()
        self._csrf_key = hmac.new(secret, b"syndicator console csrf v1", "sha256").digest()
        self._token_digest = hashlib.sha256(secret).digest()
        self._clock = clock

    def token_matches(self, offered: str) -> bool:
        """Whether `offered` is the login token (constant time, whatever its length)."""
        digest = hashlib.sha256(offered.encode("utf-8", "surrogateescape")).digest()
        return hmac.compare_digest(digest, self._token_digest)

    def new_session(self) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        session = Session(_b64(secrets.token_bytes(18)), int(self._clock()) + SESSION_SECONDS)
        payload = f"{session.id}.{session.expires}"
        return session, f"{payload}.{self._sign(self._session_key, payload)}"

    def session(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, when its signature holds and it has not expired."""
        if not cookie or len(cookie) > 200:
            return None
        sid, _, rest = cookie.partition(".")
        expiry, _, signature = rest.partition(".")
        if not sid or not expiry.isdigit() or not signature:
            return None
        expected = self._sign(self._session_key, f"{sid}.{expiry}")
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        if int(expiry) <= self._clock():
            return None
        return Session(sid, int(expiry))

    def csrf(self, bound_to: str) -> str:
        """The CSRF token of forms sent to the holder of `bound_to` (a session or login id)."""
        return self._sign(self._csrf_key, bound_to)

    def csrf_matches(self, bound_to: str, offered: str | None) -> bool:
        """Whether `offered` is the CSRF token of `bound_to`."""
        if not offered:
            return False
        return hmac.compare_digest(offered.encode(), self.csrf(bound_to).encode())

    @staticmethod
    def _sign(key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, payload.encode(), "sha256").digest())


class LoginThrottle:
    """Failed logins per client address: each one waits longer, and an address
    that keeps failing is refused until it has been quiet for a while.

    Memory is bounded: at most `MAX_TRACKED` addresses, the least recent dropped.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def _current(self, address: str) -> int:
        entry = self._failures.get(address)
        if entry is None:
            return 0
        count, last = entry
        if self._clock() - last > FAILURE_WINDOW_SECONDS:
            del self._failures[address]
            return 0
        return count

    def blocked(self, address: str) -> bool:
        """Whether `address` failed too often recently to be let try again."""
        return self._current(address) >= MAX_FAILURES

    def failed(self, address: str) -> float:
        """Count a failure; return how long to wait before answering it (seconds)."""
        count = self._current(address) + 1
        self._failures[address] = (count, self._clock())
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        return float(min(MAX_DELAY_SECONDS, 0.25 * 2 ** (count - 1)))

    def succeeded(self, address: str) -> None:
        """Forget the address's failures."""
        self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)
