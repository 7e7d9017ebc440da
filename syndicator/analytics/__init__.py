"""Reader analytics: who reads the feeds, counted without cookies or raw addresses."""

from __future__ import annotations

from syndicator.analytics.recorder import Recorder
from syndicator.analytics.report import SubscriberCollector, feeds_report, format_readers

__all__ = ["Recorder", "SubscriberCollector", "feeds_report", "format_readers"]
