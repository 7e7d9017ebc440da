"""Webhook destinations checked before sending, classified as the SSRF guard does."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from syndicator.config import DeliverySettings, WebhookSettings
from syndicator.delivery.preflight import private_destination, refusal_hint

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ZONE = {
    "lan.example.com": ["10.0.0.5"],
    "mixed.example.com": ["93.184.216.34", "192.168.0.7"],
    "public.example.com": ["93.184.216.34"],
}


def resolve(host: str, port: int) -> Sequence[str]:
    """A fixed zone instead of DNS: unknown names resolve to nothing."""
    return ZONE.get(host, [])


def hook(url: str, allow: bool | None = None) -> WebhookSettings:
    return WebhookSettings(name="crm", url=url, secret=SECRET, allow_private_network=allow)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/in", ("127.0.0.1", "loopback")),
        ("http://[::ffff:10.0.0.1]/in", ("::ffff:a00:1", "private (embedded in IPv6)")),
        ("https://169.254.169.254/latest", ("169.254.169.254", "link-local")),
        ("https://lan.example.com/in", ("10.0.0.5", "private")),
        ("https://mixed.example.com/in", ("192.168.0.7", "private")),
        ("https://public.example.com/in", None),
        ("https://93.184.216.34/in", None),
        ("https://unknown.example.com/in", None),
    ],
)
def test_private_destination(url: str, expected: tuple[str, str] | None) -> None:
    assert private_destination(url, resolve) == expected


def test_the_hint_names_the_endpoint_and_the_setting() -> None:
    defaults = DeliverySettings()
    assert refusal_hint(hook("https://lan.example.com/in"), defaults, resolve) == (
        "webhooks.crm.url: lan.example.com resolves to 10.0.0.5, which is private: "
        "connections to it are refused unless allow_private_network = true "
        "(on endpoint 'crm' or in [delivery])"
    )
    # Allowed on the endpoint, or for all in [delivery] unless the endpoint says no.
    assert refusal_hint(hook("http://127.0.0.1/in", True), defaults, resolve) is None
    allowing = DeliverySettings(allow_private_network=True)
    assert refusal_hint(hook("http://127.0.0.1/in"), allowing, resolve) is None
    assert refusal_hint(hook("http://127.0.0.1/in", False), allowing, resolve) is not None
    # Never allowed, whatever the setting.
    never = refusal_hint(hook("http://0.0.0.0/in", True), allowing, resolve)
    assert never == "webhooks.crm.url: 0.0.0.0 is unspecified: never a webhook destination"
