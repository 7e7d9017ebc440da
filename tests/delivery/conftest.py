"""Fixtures for delivery tests: a real receiver on 127.0.0.1 and webhook secrets."""

from __future__ import annotations

import pytest

from syndicator.core.signing import generate_secret


@pytest.fixture
def secret() -> str:
    """A fresh ``whsec_…`` secret."""
    return generate_secret()
