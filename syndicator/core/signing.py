"""Standard Webhooks signing: secrets, message ids and the three ``webhook-*`` headers.

The format follows https://www.standardwebhooks.com/ (``spec/standard-webhooks.md``):
the signed content is ``{msg_id}.{timestamp}.{body}``, the signature is
``v1,<base64 HMAC-SHA256>`` keyed by the decoded secret, and during a secret
rotation the header carries one space-separated signature per active secret.
`verify` checks a signed request the other way round, for pings we receive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "decode_secret",
    "generate_secret",
    "new_message_id",
    "sign",
    "verify",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"
MESSAGE_ID_PREFIX = "msg_"

# The spec recommends 24-64 byte keys; 32 matches what Svix generates.
_GENERATED_SECRET_BYTES = 32
#: A signed request timestamped further than this from now, either way, is refused.
DEFAULT_TOLERANCE_SECONDS = 300
# Bounds on what a sender controls, so a hostile header costs little to refuse.
_MAX_MSG_ID_CHARS = 256
_MAX_TIMESTAMP_DIGITS = 12
# Crockford's base32 alphabet: no I, L, O, U, so ids are unambiguous when read aloud.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def decode_secret(secret: str) -> bytes:
    """Decode a ``whsec_<base64>`` secret into the HMAC key bytes."""
    # Messages never include the secret itself: it may end up in logs or `status`.
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook secret must start with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :].strip()
    if not encoded:
        raise ValueError("webhook secret is empty after the 'whsec_' prefix")
    # The reference implementation accepts unpadded base64, so restore the padding.
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 after the 'whsec_' prefix") from None
    if not key:
        raise ValueError("webhook secret decodes to an empty key")
    return key


def generate_secret() -> str:
    """Return a fresh random secret in ``whsec_<base64>`` form."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(_GENERATED_SECRET_BYTES)).decode()


def new_message_id() -> str:
    """Return a new unique ``msg_…`` id (128 random bits in Crockford base32)."""
    # Purely random rather than a time-ordered ULID: the core reads no clock, and the
    # caller stores the id with its own timestamps, so sortability buys nothing.
    value = int.from_bytes(_random.token_bytes(16), "big")
    chars = []
    for _ in range(26):  # ceil(128 / 5)
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return MESSAGE_ID_PREFIX + "".join(reversed(chars))


def sign(secrets: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one ``v1,<base64>`` per secret."""
    if not secrets:
        raise ValueError("at least one webhook secret is required to sign")
    _check_msg_id(msg_id)
    # HMAC the exact bytes that go on the wire, prefixed as the spec says.
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    signatures = []
    for key in secrets:
        if not key:
            raise ValueError("webhook secret key may not be empty")
        digest = hmac.new(key, content, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode())
    return " ".join(signatures)


def webhook_headers(
    secrets: Sequence[bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Return the headers of one signed delivery of ``body``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


class WebhookVerificationError(ValueError):
    """A signed request that does not verify; the message says why and holds no secret."""


def verify(
    secrets: Sequence[bytes],
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check the ``webhook-*`` header values of a received `body`; raise if they do not verify.

    Any one ``v1`` signature of the space-separated list matching any of `secrets`
    is enough. The timestamp must be within `tolerance` seconds of `now`, either
    way, so a captured request cannot be replayed later.
    """
    if not secrets:
        raise ValueError("at least one secret is required to verify")
    if not msg_id or not timestamp or not signature:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        _check_msg_id(msg_id)
    except ValueError:
        raise WebhookVerificationError("malformed webhook-id") from None
    if len(msg_id) > _MAX_MSG_ID_CHARS:
        raise WebhookVerificationError("webhook-id is too long")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise WebhookVerificationError("malformed webhook-timestamp")
    sent_at = int(timestamp)
    if abs(now - sent_at) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old or too far in the future")
    content = f"{msg_id}.{sent_at}.".encode() + body
    expected = [hmac.new(key, content, hashlib.sha256).digest() for key in secrets if key]
    matched = False
    for candidate in signature.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue  # a scheme we do not know may sit beside ours
        try:
            digest = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Compare against every key without stopping early: the time taken says
        # nothing about which key, or how much of a signature, matched.
        for key_digest in expected:
            matched |= hmac.compare_digest(key_digest, digest)
    if not matched:
        raise WebhookVerificationError("no signature matches")


def _check_msg_id(msg_id: str) -> None:
    # The id is part of the signed content and a header value: a '.' is legal but a
    # control character or space would break the header or its parsing on the far side.
    if not msg_id or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in msg_id):
        raise ValueError("webhook message id must be non-empty and contain no whitespace")
