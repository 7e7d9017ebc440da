"""Exceptions raised by Syndicator.

The tree::

    SyndicatorError
    ├── ConfigError            (ValueError)   bad configuration; exit code 2
    ├── SourceError
    │   ├── SourceUnavailable  (OSError)      the source cannot be read; the poll fails
    │   └── RecordInvalid      (ValueError)   one record is rejected; it is quarantined
    ├── StoreError                            the database failed
    ├── RenderError                           a feed could not be rendered
    └── DeliveryError
        ├── DeliveryRejected                  the receiver refused or the address is forbidden
        └── DeliveryTimeout  (TimeoutError)   the receiver did not answer in time
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryTimeout",
    "RecordInvalid",
    "RenderError",
    "SourceError",
    "SourceUnavailable",
    "StoreError",
    "SyndicatorError",
]


class SyndicatorError(Exception):
    """Root of every error Syndicator raises on purpose."""


class ConfigError(SyndicatorError, ValueError):
    """The configuration is invalid; the message names the key and the problem."""


class SourceError(SyndicatorError):
    """A problem with the article source."""


class SourceUnavailable(SourceError, OSError):
    """The source as a whole cannot be read, so the poll fails."""


class RecordInvalid(SourceError, ValueError):
    """One record is invalid; it is quarantined and the poll goes on."""

    def __init__(self, reason: str, *, slug: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.slug = slug


class StoreError(SyndicatorError):
    """The database failed or holds something unexpected."""


class RenderError(SyndicatorError):
    """A feed could not be rendered."""


class DeliveryError(SyndicatorError):
    """A webhook delivery attempt failed."""


class DeliveryRejected(DeliveryError):
    """The destination refused the delivery or is not allowed."""


class DeliveryTimeout(DeliveryError, TimeoutError):
    """The destination did not answer in time."""
