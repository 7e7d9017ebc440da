"""``python -m syndicator``."""

from __future__ import annotations

import sys

from syndicator.cli import main

sys.exit(main())
