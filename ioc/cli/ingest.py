"""``ioc ingest``: the MQTT bridge and the HTTP ingest API (issue 15)."""

from __future__ import annotations
