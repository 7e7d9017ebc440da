"""Fixtures for delivery tests: a real receiver on 127.0.0.1 and webhook secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver, stopped after the test."""
    with Receiver() as running:
        yield running


@pytest.fixture
def secret() -> str:
    """A fresh ``whsec_…`` secret."""
    return generate_secret()
