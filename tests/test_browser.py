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
    assert re.search(r"Face-swap blending: (strong signs|some signs|none found)", text)  # the evidence, not "REAL"
    assert "no measurement on held-out fakes is recorded" in text  # the test weights record no accuracy
    assert "stays on this server while it is selected" in text
    assert card.get_attribute("data-verdict") in ("fake", "real", "uncertain")

    timeline = page.locator("#timeline img")
    timeline.first.wait_for(timeout=30_000)
    assert loaded_images(timeline) >= 1

    heat = page.locator("#heatmaps img")
    heat.first.wait_for(timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('#heatmaps img')].some(i => i.naturalWidth > 0)")
    assert loaded_images(heat) >= 1
    assert re.search(r"\d+\.\d s · p \d\.\d\d · Grad-CAM", page.locator("#heatmaps").inner_text())  # time, score, map

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


def test_cancel_stops_the_analysis_and_the_file_stays_usable(page, server, tmp_path):
    frames, _ = moving_face_frames(n=64, size=(1280, 720), step=4)
    long_clip = write_clip(tmp_path / "long_clip.mp4", frames)
    page.get_by_text("Settings", exact=True).first.click()
    set_frames(page, 64)
    upload(page, long_clip)
    page.locator("#verdict").get_by_text("frame ", exact=False).first.wait_for(timeout=60_000)  # progress shown
    page.locator("#cancel").click()
    page.locator("#verdict").get_by_text("cancelled", exact=False).wait_for(timeout=10_000)
    assert page.locator("#verdict .verdict-card[data-verdict]").count() == 0
    assert not list((server.temp_dir / "dfdemo-results").rglob("long_clip*.png"))  # stopped before any heatmap
    page.screenshot(path=str(ARTIFACTS / "browser_cancelled.png"))
    # the file is still selected and still on the server: change a setting and run it again
    assert "long_clip" in page.locator("#upload").inner_text()
    assert list(server.temp_dir.rglob("long_clip.mp4"))
    set_frames(page, 4)
    page.locator("#analyse").click()
    text = wait_verdict(page).inner_text()
    assert "long_clip.mp4" in text and "4 frames analysed" in text
    assert "long_clip" in page.locator("#upload").inner_text()  # still selected after the analysis
    upload(page, _photo(tmp_path))  # another file replaces it: the kept upload is deleted
    assert "after_cancel.png" in wait_verdict(page).inner_text()
    assert not list(server.temp_dir.rglob("long_clip.mp4"))
    page.locator("#upload button[aria-label=Clear]").first.click()  # clearing the box deletes it and its result
    page.locator("#verdict .verdict-card[data-verdict]").wait_for(state="detached", timeout=10_000)
    t = time.monotonic()
    while list(server.temp_dir.rglob("after_cancel.png")) and time.monotonic() - t < 10:
        time.sleep(0.1)
    assert not list(server.temp_dir.rglob("after_cancel.png"))


def test_a_bad_file_after_a_good_one_leaves_no_verdict(page, tmp_path, photo):
    upload(page, photo)
    wait_verdict(page)
    page.locator("#heatmaps img").first.wait_for(timeout=30_000)
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video at all\n" * 20)
    upload(page, bad)
    error = page.locator('#verdict .verdict-card[data-kind="error"]')
    error.wait_for(timeout=60_000)
    assert "broken.mp4" in error.inner_text() and "not a readable video" in error.inner_text()
    page.wait_for_timeout(12_000)  # after the toast has faded, the page still says what went wrong ...
    assert error.is_visible() and page.locator(".toast-body").count() == 0
    # ... and nothing of the previous file's result is left beside the new file's name
    assert page.locator("#verdict .verdict-card[data-verdict]").count() == 0
    assert page.locator("#words").inner_text().strip() == ""
    for hidden in ("#heatmaps", "#heatmap-details", "#download", "#colour-bar-box"):
        assert not page.locator(hidden).is_visible(), hidden
    assert page.locator("#timeline img").count() == 0
    page.screenshot(path=str(ARTIFACTS / "browser_bad_after_good.png"), full_page=True)


def set_frames(page, n: int) -> None:
    box = page.locator("#frames input[data-testid=number-input]")
    box.fill(str(n))
    box.press("Enter")


def _photo(d: Path) -> Path:
    p = d / "after_cancel.png"
    cv2.imwrite(str(p), cv2.cvtColor(np.ascontiguousarray(astronaut()), cv2.COLOR_RGB2BGR))
    return p


# ---------------------------------------------------------------- the bundled weights: real scores, real maps
@pytest.fixture(scope="module")
def bundled_page(browser, tmp_path_factory):
    server = app_server.shared(ROOT / "weights" / "detector")
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    pg.goto(server.url, wait_until="load")
    pg.locator("#upload input[type=file]").wait_for(state="attached", timeout=60_000)
    yield pg
    pg.close()


@pytest.fixture(scope="module")
def real_and_blended(tmp_path_factory) -> Path:
    """The astronaut (a real face) beside its self-blended fake, in one photo: two faces, one low
    and one high score, with the same face under the heat."""
    from dfdemo.examples import build_examples

    real, fake = (cv2.imread(str(p)) for p in build_examples(tmp_path_factory.mktemp("examples"))[2:])
    p = tmp_path_factory.mktemp("composite") / "real_and_blended.png"
    cv2.imwrite(str(p), np.concatenate([real, np.full((real.shape[0], 76, 3), 60, np.uint8), fake], 1))
    return p


MEAN_ABS_DIFF_JS = """async ([a, b]) => {
  const load = src => new Promise((ok, no) => { const i = new Image(); i.onload = () => ok(i); i.onerror = no; i.src = src; });
  const pixels = img => { const c = document.createElement('canvas'); c.width = c.height = 224;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0, 224, 224); return g.getImageData(0, 0, 224, 224).data; };
  const [pa, pb] = (await Promise.all([load(a), load(b)])).map(pixels);
  let s = 0;
  for (let k = 0; k < pa.length; k += 4) s += Math.abs(pa[k] - pb[k]) + Math.abs(pa[k + 1] - pb[k + 1]) + Math.abs(pa[k + 2] - pb[k + 2]);
  return s / (pa.length / 4 * 3);
}"""


def gallery(page, elem_id: str) -> list[dict]:
    """Each thumbnail of a gallery: its image URL, caption and box on the page."""
    items = page.locator(f"#{elem_id} .thumbnail-item")
    out = []
    for i in range(items.count()):
        item = items.nth(i)
        out.append({"src": item.locator("img").get_attribute("src"), "caption": item.inner_text().strip(),
                    "box": item.bounding_box()})
    return out


def test_card_names_the_evidence_and_heat_follows_the_score(bundled_page, real_and_blended):
    page = bundled_page
    upload(page, real_and_blended)
    card = page.locator("#verdict .verdict-card[data-verdict]", has_text=real_and_blended.name)
    card.wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    text = card.inner_text()
    # the evidence named, and how well the check works, from the weights' config.json
    assert "Face-swap blending: strong signs" in text and "Likely" not in text
    from dfdemo.detector import load_config
    from dfdemo.words import percent

    acc = load_config(ROOT / "weights" / "detector").extra["accuracy"]
    assert f"on {acc['fakes']} held-out deepfake {acc['unit']}s made with other tools it caught {percent(acc['tpr'])}" in text
    assert f"wrongly flagged {percent(acc['fpr'])} of {acc['reals']} real ones" in text and f"AUC {acc['auc']:.2f}" in text
    page.locator("#face-crops img").first.wait_for(timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('#heatmaps img')].every(i => i.naturalWidth > 0)")
    heat = gallery(page, "heatmaps")
    crops = {c["caption"].split(" · ")[0]: c for c in gallery(page, "face-crops")}
    scores = {c["caption"].split(" · ")[0]: float(c["caption"].split("p ")[1]) for c in gallery(page, "face-crops")}
    low, high = sorted(scores, key=scores.get)
    assert scores[low] < 0.1 and scores[high] > 0.9, scores
    # heat added over the face crop by each face's Grad-CAM overlay (the crop shown = the crop explained)
    added = {}
    for face in (low, high):
        overlay = next(h for h in heat if h["caption"].startswith(face + " ·") and h["caption"].endswith("Grad-CAM"))
        added[face] = page.evaluate(MEAN_ABS_DIFF_JS, [overlay["src"], crops[face]["src"]])
    assert added[low] < 0.2 * added[high] and added[high] > 5, added
    words = page.locator("#words").inner_text()
    assert re.search(r"drawn faint because the crops they explain scored low \(at most 0\.0\d\)", words), words
    page.screenshot(path=str(ARTIFACTS / "browser_real_and_blended.png"), full_page=True)


def test_each_heatmap_pair_shares_a_row_and_shows_whole(bundled_page, real_and_blended):
    page = bundled_page
    if page.locator("#verdict .verdict-card[data-verdict]", has_text=real_and_blended.name).count() == 0:
        upload(page, real_and_blended)
        page.locator("#verdict .verdict-card[data-verdict]", has_text=real_and_blended.name).wait_for(
            timeout=ANALYSIS_TIMEOUT_MS)
    page.locator("#heatmaps img").first.wait_for(timeout=30_000)
    heat = gallery(page, "heatmaps")
    assert len(heat) == 4  # 2 faces x (Grad-CAM, learned map)
    frame = page.locator("#heatmaps").bounding_box()
    for grad, learned in zip(heat[::2], heat[1::2]):
        assert grad["caption"].endswith("Grad-CAM") and learned["caption"].endswith("learned map")
        assert grad["caption"].split(" · ")[0] == learned["caption"].split(" · ")[0]  # the same face
        assert abs(grad["box"]["y"] - learned["box"]["y"]) < 2 and grad["box"]["x"] < learned["box"]["x"]
    for h in heat:  # every pair visible: inside the gallery, no inner scrolling
        assert h["box"]["y"] + h["box"]["height"] <= frame["y"] + frame["height"] + 1
    assert page.locator("#heatmaps .grid-wrap").evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    captions = page.locator("#heatmaps .caption-label")
    assert captions.count() == 4
    for i in range(captions.count()):  # captions whole, not cut with an ellipsis
        assert captions.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth"), captions.nth(i).inner_text()
