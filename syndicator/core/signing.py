"""Standard Webhooks signing: secrets, message ids and the three ``webhook-*`` headers.

The format follows https://www.standardwebhooks.com/ (``spec/standard-webhooks.md``):
the signed content is ``{msg_id}.{timestamp}.{body}``, the signature is
``v1,<base64 HMAC-SHA256>`` keyed by the decoded secret, and during a secret
rotation the header carries one space-separated signature per active secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence

__all__ = [
    "SECRET_PREFIX",
    "decode_secret",
    "generate_secret",
    "new_message_id",
    "sign",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"
MESSAGE_ID_PREFIX = "msg_"

# The spec recommends 24-64 byte keys; 32 matches what Svix generates.
_GENERATED_SECRET_BYTES = 32
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


def _check_msg_id(msg_id: str) -> None:
    # The id is part of the signed content and a header value: a '.' is legal but a
    # control character or space would break the header or its parsing on the far side.
    if not msg_id or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in msg_id):
        raise ValueError("webhook message id must be non-empty and contain no whitespace")
