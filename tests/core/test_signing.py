"""Standard Webhooks signing, checked against the reference ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from syndicator.core.signing import (
    decode_secret,
    generate_secret,
    new_message_id,
    sign,
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
