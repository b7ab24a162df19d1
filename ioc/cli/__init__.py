"""The ``ioc`` command line: the composition root, the one place that wires the packages.

User mistakes (bad arguments, bad settings, a broker that cannot start) raise
:class:`~ioc.errors.IocError`; :func:`main` prints them as one line and exits with status 2
(usage/config) or 1 (anything else the user can fix). Bugs still show a traceback.

Commands live in one module per capability (:mod:`ioc.cli.services`, :mod:`ioc.cli.detect`
with :mod:`ioc.cli.evaluate` and :mod:`ioc.cli.backtest`, :mod:`ioc.cli.data`,
:mod:`ioc.cli.users`, ...); importing this package registers them all on
:data:`cli`.
"""

from ioc.cli import (  # noqa: F401  (registers the commands)
    backtest,
    data,
    detect,
    evaluate,
    feedback,
    ingest,
    notify,
    services,
    users,
)
from ioc.cli.root import cli, load_settings, main

__all__ = ["cli", "load_settings", "main"]
