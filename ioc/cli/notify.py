"""``ioc notify``: the notifier (issue 14)."""

from __future__ import annotations
