"""Kafka plumbing above the kernel: the embedded broker, readiness waits and topic admin.

The kernel (:mod:`ioc.events`, :mod:`ioc.catalog`, :mod:`ioc.settings`, :mod:`ioc.errors`,
:mod:`ioc.topics`, :mod:`ioc.truth`) never imports this package.
"""
