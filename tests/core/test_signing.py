"""Standard Webhooks signing, checked against the reference ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from syndicator.core import signing
from syndicator.core.signing import (
    decode_secret,
    generate_secret,
    new_message_id,
    sign,
    verify,
    webhook_headers,
)

BODY = json.dumps({"type": "article.created", "data": {"slug": "héllo"}}).encode()


def test_generated_secret_round_trips() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    key = decode_secret(secret)
    assert 24 <= len(key) <= 32
    assert generate_secret() != secret


def test_decode_accepts_unpadded_base64_like_the_reference() -> None:
    key = b"0123456789abcdefghijklmnopqrstu"  # 31 bytes: base64 needs one '='
    padded = base64.b64encode(key).decode()
    assert padded.endswith("=")
    assert decode_secret("whsec_" + padded) == key
    assert decode_secret("whsec_" + padded.rstrip("=")) == key


@pytest.mark.parametrize(
    "secret",
    ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not*base64!", "WHSEC_abcd"],
)
def test_decode_rejects_bad_secrets_without_echoing_them(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret") as info:
        decode_secret(secret)
    tail = secret.removeprefix("whsec_")
    if tail:
        assert tail not in str(info.value)


def test_sign_matches_the_reference_implementation() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    expected = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode())
    assert sign([decode_secret(secret)], msg_id, timestamp, body) == expected
    # The published Standard Webhooks test vector.
    assert expected == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_the_reference_implementation() -> None:
    secret = generate_secret()
    headers = webhook_headers([decode_secret(secret)], new_message_id(), int(time.time()), BODY)
    assert set(headers) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    }
    assert headers["content-type"] == "application/json"
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_rotation_signs_with_every_secret() -> None:
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    headers = webhook_headers(
        [decode_secret(new), decode_secret(old)], "msg_1", int(time.time()), BODY
    )
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)


def test_signature_covers_id_timestamp_and_body() -> None:
    key = [decode_secret(generate_secret())]
    base = sign(key, "msg_1", 1000, BODY)
    assert sign(key, "msg_1", 1000, BODY) == base  # deterministic
    assert sign(key, "msg_2", 1000, BODY) != base
    assert sign(key, "msg_1", 1001, BODY) != base
    assert sign(key, "msg_1", 1000, BODY + b" ") != base


def test_sign_refuses_no_secret_and_bad_ids() -> None:
    with pytest.raises(ValueError):
        sign([], "msg_1", 1, BODY)
    with pytest.raises(ValueError):
        sign([b""], "msg_1", 1, BODY)
    for bad in ("", "msg 1", "msg_1\r\nx-evil: 1"):
        with pytest.raises(ValueError):
            sign([b"k"], bad, 1, BODY)


def test_message_ids_are_unique_and_header_safe() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    for msg_id in ids:
        assert re.fullmatch(r"msg_[0-9A-HJKMNP-TV-Z]{26}", msg_id)


# -- verify: the receiving side ---------------------------------------------------

NOW = 1_800_000_000
KEY = b"k" * 32


def _signed(
    secret: str, msg_id: str = "msg_1", at: int = NOW, body: bytes = BODY
) -> dict[str, str]:
    """Headers the reference implementation sends."""
    value = Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body.decode())
    return {"id": msg_id, "timestamp": str(at), "signature": value}


def _verify(
    headers: dict[str, str], body: bytes = BODY, now: float = NOW, keys: list[bytes] | None = None
) -> None:
    verify(
        keys or [KEY],
        headers.get("id"),
        headers.get("timestamp"),
        headers.get("signature"),
        body,
        now=now,
    )


SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_verify_accepts_what_the_reference_signs() -> None:
    _verify(_signed(SECRET))
    _verify(_signed(SECRET), now=NOW + 300)
    _verify(_signed(SECRET), now=NOW - 300)


def test_verify_accepts_what_sign_writes_with_rotated_keys() -> None:
    old, new = b"o" * 32, b"n" * 32
    header = sign([new, old], "msg_2", NOW, BODY)
    verify([old], "msg_2", str(NOW), header, BODY, now=NOW)
    verify([new], "msg_2", str(NOW), header, BODY, now=NOW)
    verify([b"x" * 32, new], "msg_2", str(NOW), header, BODY, now=NOW)


def test_verify_skips_unknown_schemes_and_garbage_beside_a_good_signature() -> None:
    good = _signed(SECRET)
    good["signature"] = "v2,abc v1,not*base64 v1a,xyz " + good["signature"] + " v1,"
    _verify(good)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": BODY + b" "}, "no signature matches"),
        ({"keys": [b"w" * 32]}, "no signature matches"),
        ({"now": NOW + 301}, "too old"),
        ({"now": NOW - 301}, "too old or too far in the future"),
        ({"id": "msg_other"}, "no signature matches"),
        ({"timestamp": str(NOW + 1)}, "no signature matches"),
        ({"timestamp": "12a"}, "malformed webhook-timestamp"),
        ({"timestamp": "-5"}, "malformed webhook-timestamp"),
        ({"timestamp": "1" * 40}, "malformed webhook-timestamp"),
        ({"id": "msg 1"}, "malformed webhook-id"),
        ({"id": "m" * 300}, "too long"),
        ({"id": ""}, "missing"),
        ({"signature": ""}, "missing"),
        ({"signature": "v1,"}, "no signature matches"),
        ({"signature": "v2," + "A" * 44}, "no signature matches"),
    ],
)
def test_verify_refuses(change: dict[str, object], message: str) -> None:
    headers = _signed(SECRET)
    body = change.pop("body", BODY)
    now = change.pop("now", NOW)
    keys = change.pop("keys", None)
    headers.update({key: str(value) for key, value in change.items()})
    with pytest.raises(signing.WebhookVerificationError, match=message):
        _verify(headers, body=body, now=now, keys=keys)  # type: ignore[arg-type]


def test_verify_refuses_missing_headers() -> None:
    with pytest.raises(signing.WebhookVerificationError, match="missing"):
        verify([KEY], None, None, None, BODY, now=NOW)


def test_verify_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        verify([], "msg_1", str(NOW), "v1,xx", BODY, now=NOW)


def test_a_verification_error_is_a_value_error() -> None:
    assert issubclass(signing.WebhookVerificationError, ValueError)
