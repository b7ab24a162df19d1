"""The pages under ``dashboards/static/`` without a browser: they work offline (no external
URL anywhere), every asset they reference exists and is served by the real dashboard server,
and the wall is reachable both as ``wall.html`` and ``index.html``."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from dashkit import OPERATOR

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "dashboards" / "static"
PAGES = ("wall.html", "summary.html")


def _assets(html: str) -> list[str]:
    return re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)


def test_pages_reference_only_local_assets() -> None:
    """Offline: no CDN, no external fonts, scripts, styles or images."""
    files = sorted(STATIC.iterdir())
    assert files
    for path in files:
        text = path.read_text()
        assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", text), path.name
        assert not re.search(r"url\(\s*[\"']?(?:https?:)?//", text), path.name
        assert not re.search(r"@import\b", text), path.name
        assert not re.search(r"\bimport\s*\(|^\s*import\s", text, re.M), path.name
        assert "fonts.googleapis" not in text, path.name


@pytest.mark.parametrize("page", PAGES)
def test_every_referenced_asset_exists(page: str) -> None:
    html = (STATIC / page).read_text()
    assets = _assets(html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert (STATIC / asset.removeprefix("/static/")).is_file(), asset


def test_index_is_the_wall() -> None:
    assert (STATIC / "index.html").read_text() == (STATIC / "wall.html").read_text()


def test_wall_has_the_panels_the_issue_asks_for() -> None:
    html = (STATIC / "wall.html").read_text()
    for element_id in ("board", "health", "incidents", "tiles", "detail", "conn", "btn-kiosk",
                       "btn-sound", "btn-resync", "f-group", "f-district", "f-severity",
                       "f-category"):
        assert f'id="{element_id}"' in html, element_id


@pytest.mark.kafka
async def test_pages_and_assets_are_served_by_the_dashboard(start_dashboard: Any) -> None:
    """`/`, `/summary` (to a signed-in client; a bearer key here) and every asset they
    reference come back 200 with a text type."""
    d = await start_dashboard()

    def get(path: str) -> tuple[int, str, str]:
        req = urllib.request.Request(d.url + path,
                                     headers={"Authorization": f"Bearer {OPERATOR}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()

    for path, name in (("/", "wall.html"), ("/summary", "summary.html")):
        status, ctype, html = await asyncio.to_thread(get, path)
        assert status == 200 and ctype.startswith("text/html")
        assert html == (STATIC / name).read_text()
        for asset in _assets(html):
            status, ctype, _ = await asyncio.to_thread(get, asset)
            assert status == 200, asset
            kind = "javascript" if asset.endswith(".js") else "css"
            assert kind in ctype, (asset, ctype)
