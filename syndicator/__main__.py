"""``python -m syndicator``."""

from __future__ import annotations

import sys

from syndicator.cli import console_main

sys.exit(console_main())
