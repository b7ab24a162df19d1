"""``ioc detectors feedback`` and ``ioc detectors shadow-report`` (issue 16)."""

from __future__ import annotations
