"""The demo page in a real browser: type, click Synthesize, get audio and an alignment plot.

Headless Debian Chromium driven by Playwright. The screenshot always goes to the test's
tmp dir; with TTS_UPDATE_SCREENSHOT=1 it also replaces docs/app_screenshot.png (then
TTS_SCREENSHOT_CHECKPOINT may name a trained checkpoint, which makes a nicer picture).
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import REPO
from tests.test_app import serve
from tests.test_synthesize import write_checkpoint

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SENTENCE = "Printing, in the only sense with which we are concerned, is an art of 1450."
SCREENSHOT = REPO / "docs" / "app_screenshot.png"


def test_type_synthesize_and_see_the_alignment(tmp_path):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; `make test` tries)")
    checkpoint = os.environ.get("TTS_SCREENSHOT_CHECKPOINT") or write_checkpoint(
        tmp_path / "tiny.pt"
    )
    args = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    with serve(args, tmp_path / "app") as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.locator("#text textarea").fill(SENTENCE)
            sync_api.expect(page.locator("#char-count")).to_contain_text(
                f"{len(SENTENCE)} / 500 characters"
            )
            page.get_by_text("Advanced settings").click()
            sync_api.expect(page.get_by_text("Monotonic attention")).to_be_visible()
            page.locator("#synthesize").click()
            image = page.locator("#alignment img")
            image.wait_for(state="visible", timeout=90_000)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 300", arg=image.element_handle()
            )
            # The player drew the waveform of what it fetched, and that file is a 22050 Hz wav.
            sync_api.expect(page.get_by_test_id("waveform-Audio")).to_be_visible()
            download = page.locator("#audio a[download]")
            sync_api.expect(download).to_have_attribute("href", re.compile(r"\.wav$"))
            wav = page.request.get(download.get_attribute("href"))
            assert wav.ok
            audio, rate = sf.read(io.BytesIO(wav.body()))
            assert rate == 22050 and audio.size > 0
            sync_api.expect(page.locator("#info")).to_contain_text("decoder steps")
            sync_api.expect(page.locator("#mel img")).to_be_visible()
            screenshot = tmp_path / "app_screenshot.png"
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("TTS_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(screenshot, SCREENSHOT)
