"""Take the README's screenshots: runs ``ioc demo`` (compressed time), waits until the wall shows
alerts, and photographs the login page, the wall, its history panel, the summary and the
reports page at 1920x1080 with Debian's headless Chromium into ``docs/screenshots/``. The wall
and the summary are shown as on a video wall (kiosk mode, the map with its moving sources),
saved at half scale (960x540) to keep the PNGs small.

Run: ``.venv/bin/python scripts/screenshots.py [--rate N] [--wait S]`` (about two minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start_demo(rate: float, data: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "demo", "--no-browser", "--rate",
                             f"{rate:g}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    lines: dict[str, str] = {}
    assert proc.stdout is not None
    while not {"wall", "summary"} <= set(lines):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the demo stopped (status {proc.poll()})")
        key, _, value = line.strip().partition(": ")
        lines[key] = value
    return proc, lines


async def map_live(page: Any, wait: float) -> None:
    """Until the page's map shows the sources and some moving ones (or ``wait`` passes)."""
    await page.wait_for_function(
        "() => { const m = document.getElementById('map');"
        " return m && Number(m.dataset.markers || 0) > 100 && Number(m.dataset.moving || 0) > 0; }",
        timeout=wait * 1000)
    await asyncio.sleep(2)


async def shoot_wall(browser: Any, signed_in: Any, base: str, wait: float) -> None:
    """The operator's wall in kiosk mode, at half scale, in the session of ``signed_in``."""
    small = await browser.new_context(viewport={"width": 1920, "height": 1080},
                                      device_scale_factor=0.5,
                                      storage_state=await signed_in.context.storage_state())
    page = await small.new_page()
    await page.goto(f"{base}/?kiosk=1")
    await map_live(page, wait)
    await page.screenshot(path=str(OUT / "wall.png"))
    await small.close()


async def shoot(lines: dict[str, str], wait: float) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    base = lines["wall"].partition("/login/once")[0]  # the demo's one-time sign-in links
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        login = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await login.goto(f"{base}/")  # no session: the login page
        await login.screenshot(path=str(OUT / "login.png"))
        await login.close()
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(lines["wall"])
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if await page.locator(".alert").count() >= 3:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        await page.click("#btn-history")
        await page.click("#h-search")
        await asyncio.sleep(3)
        await page.screenshot(path=str(OUT / "history.png"))
        await shoot_wall(browser, page, base, wait)
        leadership = await browser.new_context(viewport={"width": 1920, "height": 1080})
        summary = await leadership.new_page()
        await summary.goto(lines["summary"])
        await asyncio.sleep(3)
        small = await browser.new_context(viewport={"width": 1920, "height": 1080},
                                          device_scale_factor=0.5,
                                          storage_state=await leadership.storage_state())
        kiosk = await small.new_page()
        await kiosk.goto(f"{base}/summary?kiosk=1")
        await map_live(kiosk, wait)
        await kiosk.screenshot(path=str(OUT / "summary.png"))
        reports = await leadership.new_page()  # the leadership's session
        await reports.goto(f"{base}/reports")
        await asyncio.sleep(5)
        await reports.screenshot(path=str(OUT / "reports.png"), full_page=False)
        await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=400.0)
    ap.add_argument("--wait", type=float, default=150.0,
                    help="seconds to wait for three alerts on the wall")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ioc-shots-") as tmp:
        proc, lines = start_demo(args.rate, Path(tmp))
        try:
            asyncio.run(shoot(lines, args.wait))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
