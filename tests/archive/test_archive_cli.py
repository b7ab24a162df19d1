"""`ioc archive` and a bad database: one line naming IOC_DATABASE_URL, before any broker wait."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ioc.kafka.broker import free_port


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://db/ioc", "IOC_DATABASE_URL: the archive runs on sqlite or postgresql"),
    ("postgres:/nowhere::", "IOC_DATABASE_URL: not a usable database URL"),
    ("postgresql+psycopg://postgres@127.0.0.1:1/ioc",
     "IOC_DATABASE_URL: cannot open the archive database"),
])
def test_a_bad_database_url_fails_fast_in_one_line(url: str, says: str, tmp_path: Path) -> None:
    env = {**os.environ, "IOC_DATABASE_URL": url, "IOC_DATA_DIR": str(tmp_path),
           "IOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}  # nobody there
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "ioc", "archive"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 2 and time.monotonic() - started < 30
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(f"ioc: error: {says}"), out.stderr
    assert "Traceback" not in out.stderr
