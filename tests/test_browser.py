"""The app in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Screenshots go to tests/artifacts/ (git-ignored). Skipped where /usr/bin/chromium or the
playwright package is missing; `.ci/run` installs chromium with apt-get.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import app_server
from conftest import ROOT, astronaut, moving_face_frames, write_clip

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
ANALYSIS_TIMEOUT_MS = 150_000

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")]


@pytest.fixture(scope="module")
def server(tiny_weights):
    return app_server.shared(tiny_weights)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ARTIFACTS.mkdir(exist_ok=True)
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url, wait_until="load")
    pg.locator("#upload input[type=file]").wait_for(state="attached", timeout=60_000)
    pg.js_errors = errors
    yield pg
    pg.close()


def upload(page, path: Path) -> None:
    clear = page.locator("#upload button[aria-label=Clear]")
    if clear.count():  # a file is still shown (after an error or a cancel)
        clear.first.click()
    page.locator("#upload input[type=file]").set_input_files(str(path))


def wait_verdict(page):
    card = page.locator("#verdict .verdict-card[data-verdict]")
    card.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    return card


def loaded_images(locator) -> int:
    """How many of the matched <img> elements have actually loaded pixels."""
    return sum(locator.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(locator.count()))


def test_upload_clip_shows_verdict_timeline_heatmaps(page, clip):
    upload(page, clip)
    card = wait_verdict(page)
    text = card.inner_text()
    assert "Fake probability" in text and "32 frames analysed" in text and "test:untrained" in text
    assert "upload has been deleted" in text
    assert card.get_attribute("data-verdict") in ("fake", "real", "uncertain")

    timeline = page.locator("#timeline img")
    timeline.first.wait_for(timeout=30_000)
    assert loaded_images(timeline) >= 1

    heat = page.locator("#heatmaps img")
    heat.first.wait_for(timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('#heatmaps img')].some(i => i.naturalWidth > 0)")
    assert loaded_images(heat) >= 1
    assert re.search(r"\d+\.\d s · p \d\.\d\d · \w+", page.locator("#heatmaps").inner_text())  # time, score, region

    words = page.locator("#words").inner_text()
    assert "Face 1." in words and "can be wrong" in words
    assert page.locator("#download").is_visible()
    assert page.locator(".toast-body").count() == 0
    page.screenshot(path=str(ARTIFACTS / "browser_clip.png"), full_page=True)
    assert not page.js_errors


def test_example_two_faces_and_how_it_works(page, two_face_photo):
    upload(page, two_face_photo)
    card = wait_verdict(page)
    assert "2 faces followed" in card.inner_text()
    page.locator("#faces").wait_for(state="visible", timeout=30_000)
    rows = page.locator("#faces").inner_text()
    assert "face 1" in rows and "face 2" in rows
    crops = page.locator("#face-crops img")
    crops.first.wait_for(timeout=30_000)
    assert crops.count() >= 2
    page.screenshot(path=str(ARTIFACTS / "browser_two_faces.png"), full_page=True)

    page.get_by_role("tab", name="How it works").click()
    page.get_by_text("shared encoder", exact=False).first.wait_for(timeout=10_000)


def test_examples_run_offline(page):
    page.get_by_text("astronaut_blended.png").first.click()
    card = wait_verdict(page)
    text = card.inner_text()
    assert "astronaut_blended.png" in text and "1 face followed" in text
    assert "deleted" not in text  # examples stay on the server


def test_bad_file_shows_a_plain_error(page, tmp_path):
    bad = tmp_path / "holiday.mp4"
    bad.write_text("not a video at all\n" * 20)
    upload(page, bad)
    toast = page.locator(".toast-body")
    toast.first.wait_for(timeout=60_000)
    msg = toast.first.inner_text()
    assert "holiday.mp4" in msg and "not a readable video" in msg and "Traceback" not in msg
    page.wait_for_timeout(500)  # let the toast finish sliding in
    page.screenshot(path=str(ARTIFACTS / "browser_error.png"))


def test_cancel_stops_the_analysis(page, server, tmp_path):
    frames, _ = moving_face_frames(n=64, size=(1280, 720), step=4)
    long_clip = write_clip(tmp_path / "long_clip.mp4", frames)
    page.get_by_text("Settings", exact=True).first.click()
    frames_box = page.locator("#frames input[data-testid=number-input]")
    frames_box.fill("64")
    frames_box.press("Enter")
    upload(page, long_clip)
    page.locator("#verdict").get_by_text("frame ", exact=False).first.wait_for(timeout=60_000)  # progress shown
    page.locator("#cancel").click()
    t = time.monotonic()
    while list(server.temp_dir.rglob("long_clip.mp4")) and time.monotonic() - t < 60:
        time.sleep(0.1)
    # the analysis thread ended (the upload is deleted when it does) before any heatmap was drawn
    assert not list(server.temp_dir.rglob("long_clip.mp4"))
    assert not list((server.temp_dir / "dfdemo-results").rglob("*.png"))
    assert page.locator("#verdict .verdict-card[data-verdict]").count() == 0
    assert "cancelled" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser_cancelled.png"))
    upload(page, _photo(tmp_path))  # the app is free again
    assert "after_cancel.png" in wait_verdict(page).inner_text()


def _photo(d: Path) -> Path:
    p = d / "after_cancel.png"
    cv2.imwrite(str(p), cv2.cvtColor(np.ascontiguousarray(astronaut()), cv2.COLOR_RGB2BGR))
    return p
