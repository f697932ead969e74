"""The app through its API (gradio_client against ``python app.py`` on localhost), its helpers,
the plain-language text (dfdemo.words) and the offline examples (dfdemo.examples)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import app_server
from conftest import ASTRONAUT_FACE, ROOT, write_clip
from dfdemo import Settings
from dfdemo.report import FaceReport, FrameScore, Heatmap, Report

TOL = 1e-4


# ---------------------------------------------------------------- the API against the CLI
@pytest.fixture(scope="module")
def server(tiny_weights):
    return app_server.shared(tiny_weights)


@pytest.fixture(scope="module")
def client(server):
    return app_server.client(server)


@pytest.fixture(scope="module")
def cli_reports(tiny_weights, clip, photo, tmp_path_factory):
    """``python -m dfdemo scan --json -`` on the clip and the photo, with heatmaps like the app."""
    heat = tmp_path_factory.mktemp("cli_heatmaps")
    out = subprocess.run([sys.executable, "-m", "dfdemo", "scan", "--json", "-", "--weights", str(tiny_weights),
                          "--heatmaps", str(heat), str(clip), str(photo)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return {Path(r["file"]).name: r for r in json.loads(out.stdout)}


def gone_soon(server, name: str, timeout: float = 5) -> bool:
    """No file called ``name`` in the server's folders, at once or within ``timeout`` (an /analyze upload
    just analysed stays in .shared until the queue has stopped for a second: an identical upload may wait)."""
    deadline = time.monotonic() + timeout
    while list(server.temp_dir.rglob(name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not list(server.temp_dir.rglob(name))


def api_analyze(client, path: Path, timeout: float = 120) -> dict:
    from gradio_client import handle_file

    job = client.submit(handle_file(str(path)), api_name="/analyze")
    return job.result(timeout=timeout)


def assert_same_report(got: dict, want: dict) -> None:
    """Same analysis: verdicts, boxes, probabilities (within TOL), heatmap regions; file and images by
    name; timings ignored."""
    assert set(got) == set(want)
    assert got["file"] == Path(want["file"]).name
    for k in ("kind", "verdict", "frames_analyzed", "frames_with_face", "model", "threshold", "uncertain_band",
              "media", "notes"):
        assert got[k] == want[k], k
    assert (got["fake_probability"] is None) == (want["fake_probability"] is None)
    if want["fake_probability"] is not None:
        assert got["fake_probability"] == pytest.approx(want["fake_probability"], abs=TOL)
    assert len(got["faces"]) == len(want["faces"]) > 0
    for gf, wf in zip(got["faces"], want["faces"]):
        assert (gf["track_id"], gf["verdict"], gf["warnings"]) == (wf["track_id"], wf["verdict"], wf["warnings"])
        assert gf["fake_probability"] == pytest.approx(wf["fake_probability"], abs=TOL)
        assert gf["score_spread"] == pytest.approx(wf["score_spread"], abs=TOL)
        assert len(gf["frames"]) == len(wf["frames"])
        for g, w in zip(gf["frames"], wf["frames"]):
            assert (g["index"], g["time_s"]) == (w["index"], w["time_s"])
            assert g["box"] == pytest.approx(w["box"], abs=TOL)
            assert g["fake_probability"] == pytest.approx(w["fake_probability"], abs=TOL)
    assert len(got["heatmaps"]) == len(want["heatmaps"]) > 0
    for g, w in zip(got["heatmaps"], want["heatmaps"]):
        assert (g["track_id"], g["frame_index"], g["top_region"]) == (w["track_id"], w["frame_index"], w["top_region"])
        assert g["region_shares"] == pytest.approx(w["region_shares"], abs=1e-3)
        for key in ("overlay_path", "learned_map_path"):  # the API returns no server paths: the images by name only
            assert g[key] == (Path(w[key]).name if w[key] else None) and os.sep not in (g[key] or "")


def test_api_clip_matches_cli(client, clip, cli_reports):
    got = api_analyze(client, clip)
    assert got["kind"] == "video" and got["frames_analyzed"] == 32
    assert_same_report(got, cli_reports[clip.name])


def test_api_photo_matches_cli(client, photo, cli_reports):
    got = api_analyze(client, photo)
    assert got["kind"] == "image" and got["frames_analyzed"] == 1
    assert_same_report(got, cli_reports[photo.name])


def test_warm_start_runs_before_the_app_accepts_visitors(server):
    """The weights are loaded and one small analysis has run before the server listens, so the
    first visitor does not pay for the first forward and Grad-CAM passes."""
    log = server.log.read_text(errors="replace")
    assert "warm-up failed" not in log and "warm-up took" in log
    assert log.index("warm-up took") < log.index("Running on local URL")


def test_api_is_documented_as_analyze(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/analyze"]
    assert len(api["named_endpoints"]["/analyze"]["parameters"]) == 1


def test_api_photo_without_face_is_a_verdict(client, tmp_path):
    p = tmp_path / "wall.png"
    cv2.imwrite(str(p), np.full((240, 320, 3), 128, np.uint8))
    r = api_analyze(client, p)
    assert (r["verdict"], r["fake_probability"], r["faces"]) == ("no_face", None, [])


# ---------------------------------------------------------------- hostile input through the API
def _text_as_mp4(d: Path) -> Path:
    p = d / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    return p


def _empty_mp4(d: Path) -> Path:
    p = d / "empty.mp4"
    p.write_bytes(b"")
    return p


def _truncated_mp4(d: Path) -> Path:
    frames = [np.full((120, 160, 3), 40 * i, np.uint8) for i in range(6)]
    full = write_clip(d / "full.mp4", frames)
    p = d / "truncated.mp4"
    p.write_bytes(full.read_bytes()[:600])
    return p


def _text_file(d: Path) -> Path:
    p = d / "readme.txt"
    p.write_text("hello")
    return p


def _too_long(d: Path) -> Path:  # 1 fps for longer than the server's duration limit
    n = app_server.MAX_DURATION_S + 5
    return write_clip(d / "long.mp4", [np.full((64, 64, 3), 100, np.uint8)] * n, fps=1.0)


BAD_INPUTS = {  # maker → words the visitor must see
    "text renamed .mp4": (_text_as_mp4, "not a readable video"),
    "empty file": (_empty_mp4, "empty"),
    "truncated mp4": (_truncated_mp4, "video"),
    "unsupported type": (_text_file, "not a video or a photo that can be read (found text)"),  # by its bytes
    "too long": (_too_long, f"longer than the {app_server.MAX_DURATION_S} s limit"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_api_bad_input_is_a_plain_error(client, server, tmp_path, case):
    from gradio_client.exceptions import AppError

    make, words = BAD_INPUTS[case]
    path = make(tmp_path)
    t = time.monotonic()
    with pytest.raises(AppError) as e:
        api_analyze(client, path, timeout=60)
    msg = str(e.value)
    assert time.monotonic() - t < 60
    assert words in msg, msg
    assert "Traceback" not in msg and str(server.temp_dir) not in msg
    assert path.name in msg
    assert gone_soon(server, path.name), "the failed upload was left on the server"


def test_api_upload_over_the_size_limit_is_refused(client, server, tmp_path):
    import httpx

    p = tmp_path / "huge.mp4"
    p.write_bytes(os.urandom(int((app_server.MAX_UPLOAD_MB + 0.5) * 2**20)))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client reads the limit
        api_analyze(client, p, timeout=60)
    with open(p, "rb") as f:  # a client that does not check is refused by the server
        r = httpx.post(server.url + "gradio_api/upload", files={"files": (p.name, f, "video/mp4")}, timeout=60)
    assert r.status_code == 413 and "maximum allowed size" in r.text
    assert not list(server.temp_dir.rglob("huge.mp4"))


# ---------------------------------------------------------------- app helpers (imported, no server)
@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples")


@pytest.fixture(scope="module")
def app_module(tmp_path_factory, examples_dir):
    """``import app`` with its example and Gradio folders in a temp dir (env restored after)."""
    work = tmp_path_factory.mktemp("app_import")
    keys = {"DFDEMO_EXAMPLES_DIR": str(examples_dir), "GRADIO_TEMP_DIR": str(work / "gradio")}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        import app
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return app


def test_weights_setting_accepts_bundled_and_hub_ids_only(app_module):
    import gradio as gr

    assert app_module.weights_source("bundled") is None
    assert app_module.weights_source("  ") is None
    assert app_module.weights_source("owner/name@v1") == "owner/name@v1"
    for bad in ("/etc", "../weights/detector", "weights/../../x", "~/w", "a/b/c"):
        with pytest.raises(gr.Error):
            app_module.weights_source(bad)


def test_report_helpers(tmp_path):
    from dfdemo.page import heatmap_items, heatmap_rows, timeline_figure

    # the report holds the heatmaps' image names, never a server path; the page is given the images by name
    r = _report("video", [0.9, 0.8, 0.7], verdict="fake", shares={"eyes": 0.6, "mouth": 0.4}, overlay="x_face0_frame3.png")
    r = replace(r, heatmaps=[replace(r.heatmaps[0], learned_map_path="x_face0_frame3_learned.png")])
    images = {"x_face0_frame3.png": str(tmp_path / "a.png"), "x_face0_frame3_learned.png": str(tmp_path / "b.png")}
    fig = timeline_figure(r)
    ax = fig.axes[0]
    assert [round(y, 3) for y in ax.lines[-1].get_ydata()] == [0.9, 0.8, 0.7]
    # the cut as two bands ("some signs" 0.45-0.55, "strong signs" from 0.55), named in the legend with the cut as stored
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["some signs from 0.45", "strong signs from 0.55"]
    learned = replace(r, heatmaps=[replace(r.heatmaps[0], learned_map_mean=0.31, learned_map_shares={"eyes": 0.7, "nose": 0.3})])
    # a pair per crop, Grad-CAM first: a two-column gallery shows each pair in one row
    assert heatmap_items(learned, images) == [(str(tmp_path / "a.png"), "0.1 s · score 0.90"),
                                              (str(tmp_path / "b.png"), "0.1 s · blend map")]
    assert heatmap_rows(learned) == [["face 1", "0.1", "0.90", "eyes 60 %, mouth 40 %", "mean 0.31; eyes 70 %, nose 30 %"]]
    two = heatmap_items(_report("image", [0.7], shares={"nose": 1.0}, overlay="o.png", n_faces=2), {"o.png": "o"})
    assert [c for _, c in two] == ["face 1 · score 0.70", "face 2 · score 0.70"]
    assert max(len(c) for _, c in heatmap_items(learned, images) + two) <= 32  # short enough to show whole
    assert heatmap_items(learned, {}) == []  # an image the app did not write is not shown
    assert timeline_figure(replace_faces(r, [])) is None
    assert timeline_figure(replace(r, kind="image")) is None  # a photo: no timeline bar, the card has the score


# ---------------------------------------------------------------- dfdemo.words
def _report(kind="video", scores=(0.9, 0.85, 0.8), verdict="fake", shares=None, warnings=(), overlay=None,
            file="clip.mp4", n_faces=1, spread=None) -> Report:
    faces, heat = [], []
    for tid in range(n_faces):
        frames = [FrameScore(i * 3, i * 0.1, (10.0, 10.0, 90.0, 90.0), s, 0.9) for i, s in enumerate(scores)]
        p = float(np.mean(sorted(scores)[::-1][: max(1, (len(scores) + 1) // 2)]))
        faces.append(FaceReport(tid, p, verdict, frames, 80.0, float(np.std(scores)) if spread is None else spread,
                                list(warnings)))
        if shares is not None:
            top = max(shares, key=shares.get) if shares else "none"
            heat.append(Heatmap(tid, 3, 0.1, max(scores), dict(shares), top, overlay))
    prob = max((f.fake_probability for f in faces), default=None)
    return Report(file, kind, verdict if faces else "no_face", prob, len(scores), len(scores) if faces else 0, faces,
                  {"total": 1.0}, "test:model", 0.5, (0.45, 0.55), {"duration_s": 1.0}, heat, [])


def replace_faces(r: Report, faces) -> Report:
    return replace(r, faces=faces)


def sentences(paragraph: str) -> list[str]:
    body = re.sub(r"^\*\*Face \d+\.\*\* ", "", paragraph)
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*])", body) if s]


def face_paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.startswith("**Face ")]


def test_words_fake_video_names_regions_consistency_and_caveat():
    from dfdemo.words import plain_words

    r = _report(scores=[0.91, 0.86, 0.83, 0.88], shares={"eyes": 0.55, "mouth": 0.3, "nose": 0.15})
    text = plain_words(r)
    (para,) = face_paragraphs(text)
    assert f"score is {r.faces[0].fake_probability:.2f} over 4 frames" in para
    assert "found **strong signs**" in para and "threshold of 0.50" in para
    assert "the eyes (55 %) and the mouth (30 %)" in para and "nose" not in para
    assert "4 of 4 frames score above the threshold" in para
    assert "not proof" in para
    assert 2 <= len(sentences(para)) <= 4
    assert "can be wrong" in text.split("\n\n")[-1]


def test_words_follow_the_numbers():
    from dfdemo.words import plain_words

    a = plain_words(_report(verdict="real", scores=[0.1, 0.2, 0.12], shares={"forehead": 0.7, "eyes": 0.3}))
    b = plain_words(_report(verdict="uncertain", scores=[0.1, 0.9, 0.5], shares={"background": 0.8, "eyes": 0.2}))
    assert "found **no sign**" in a and "0.16" in a and "the forehead (70 %)" in a and "drawn faint" in a
    assert "agree" in a
    assert "**some signs**" in b and "0.45–0.55" in b and "disagree a lot" in b and "0.10 to 0.90" in b
    assert "Most of what pushed the score towards fake (80 %) lies off the face" in b and "before trusting this score" in b
    c = plain_words(_report(verdict="real", scores=[0.05, 0.1, 0.95, 0.08]))
    assert "disagree a lot" in c and "1 of 4 frames" in c and "even though the whole does not" in c


def test_words_warnings_and_single_photo():
    from dfdemo.words import plain_words

    warn = ["small face (40 px): fine detail is lost, scores are less reliable", "dark face: low light hides detail"]
    text = plain_words(_report(kind="image", scores=[0.7], warnings=warn))
    (para,) = face_paragraphs(text)
    assert all(w in para for w in warn) and 2 <= len(sentences(para)) <= 4
    plain = plain_words(_report(kind="image", scores=[0.3], verdict="real"))
    (para,) = face_paragraphs(plain)
    assert "single photo" in para and len(sentences(para)) == 2
    empty = plain_words(_report(kind="image", scores=[0.3], verdict="real", shares={}))
    assert "no face region that pushes the score towards fake" in empty


def test_words_no_face_and_several_faces():
    from dfdemo.words import plain_words

    none = plain_words(_report(n_faces=0, scores=[0.1] * 8))
    assert "No face was found in the 8 analysed frames" in none and "can be wrong" in none
    many = plain_words(_report(n_faces=3, shares={"eyes": 1.0}))
    assert [p[:10] for p in face_paragraphs(many)] == ["**Face 1.*", "**Face 2.*", "**Face 3.*"]
    assert "most suspicious face" in many


def test_how_it_works_covers_the_brief():
    from dfdemo.words import how_it_works

    text = how_it_works().lower()
    for words in ("alignment", "shared encoder", "decoder", "blending", "grad-cam", "does **not**", "temporal check"):
        assert words in text, words
    f = {"n": 512, "heat_in_mask_ratio": 1.1, "pointing_game": 0.65, "learned_map_iou": 0.54, "learned_map_real_mean": 0.08}
    measured = how_it_works(f)
    assert "| Heat inside the blended region, relative to chance (1 = chance) | 1.10 |" in measured
    assert "| Learned map: overlap with the blended region (IoU, 1 = exact) | 0.54 |" in measured
    assert "| Learned map: mean brightness on real faces (0 = dark) | 0.08 |" in measured
    assert "Learned map" not in how_it_works({"n": 512, "pointing_game": 0.65})  # weights without a map head


# ---------------------------------------------------------------- dfdemo.examples
def test_examples_are_built_once_offline(examples_dir, analyzer):
    from dfdemo.examples import CLIP_FRAMES, build_examples

    paths = build_examples(examples_dir)  # already built if `import app` ran first
    assert [p.name for p in paths] == ["astronaut_real.mp4", "astronaut_blended.mp4", "astronaut_real.png",
                                       "astronaut_blended.png"]
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert build_examples(examples_dir) == paths and [p.stat().st_mtime_ns for p in paths] == stamps

    real, fake = (cv2.imread(str(p)).astype(int) for p in paths[2:])
    changed = np.abs(real - fake).sum(2) > 6
    x0, y0, x1, y1 = ASTRONAUT_FACE
    m = 20
    assert changed[y0:y1, x0:x1].mean() > 0.3  # the face was blended ...
    outside = changed.copy()
    outside[y0 - m : y1 + m, x0 - m : x1 + m] = False
    assert not outside.any()  # ... and nothing else
    for clip in paths[:2]:
        cap = cv2.VideoCapture(str(clip))
        assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == CLIP_FRAMES
        cap.release()
    for p in (paths[1], paths[3]):
        r = analyzer.analyze(p, Settings(frames=4, heatmaps=0)).report
        assert len(r.faces) == 1, p.name


def test_words_say_what_the_temporal_check_added():
    from dfdemo.report import WindowScore
    from dfdemo.words import plain_words

    def with_temporal(frame_p, temporal_p, n=4, verdict="real"):
        r = _report(scores=[0.3, 0.35, 0.32], verdict=verdict)
        wins = [WindowScore(i * 8, i * 8 + 7, i * 0.3, i * 0.3 + 0.28, temporal_p, frame_p) for i in range(n)]
        return replace(r, faces=[replace(r.faces[0], frame_probability=frame_p, temporal_probability=temporal_p, windows=wins)],
                       temporal="used")

    raised = face_paragraphs(plain_words(with_temporal(0.3, 0.8, verdict="fake")))[0]
    assert "raised the score" in raised and "over 4 runs of consecutive frames" in raised and "0.80" in raised
    lowered = face_paragraphs(plain_words(with_temporal(0.6, 0.2, n=1)))[0]
    assert "lowered the score" in lowered and "1 run of" in lowered
    same = face_paragraphs(plain_words(with_temporal(0.3, 0.35)))[0]
    assert "agrees with the frames" in same
    for para in (raised, lowered, same):
        assert 2 <= len(sentences(para)) <= 4
    assert "temporal" not in face_paragraphs(plain_words(_report()))[0]  # not run: not mentioned
    # with everything to say, the warning is kept and the frame-consistency sentence gives way
    r = _report(scores=[0.1, 0.9, 0.5], verdict="uncertain", shares={"eyes": 1.0}, warnings=["dark face: low light hides detail"])
    busy = replace(r, faces=[replace(r.faces[0], frame_probability=0.5, temporal_probability=0.9,
                                     windows=[WindowScore(0, 7, 0.0, 0.28, 0.9, 0.5)])], temporal="used")
    para = face_paragraphs(plain_words(busy))[0]
    assert "dark face" in para and "higher than its frames alone" in para and "disagree" not in para
    assert len(sentences(para)) == 4


def test_words_explain_each_kind_of_map_shown():
    from dfdemo.words import plain_words

    gradcam_only = plain_words(_report(shares={"eyes": 0.6, "mouth": 0.4}))
    assert "what drove the score" in gradcam_only and "does not show that those parts were edited" in gradcam_only
    assert "learned map" not in gradcam_only
    r = _report(shares={"eyes": 0.6, "mouth": 0.4})
    with_map = plain_words(replace(r, heatmaps=[replace(h, learned_map_mean=0.3) for h in r.heatmaps]))
    assert "where the model thinks blending happened" in with_map and "not a proof" in with_map
    assert "Heatmaps" not in plain_words(_report())  # no heatmap computed: nothing to explain


def test_timeline_draws_a_bar_per_temporal_window():
    from dfdemo.page import timeline_figure
    from dfdemo.report import WindowScore

    r = _report("video", [0.2, 0.3, 0.25], verdict="real")
    wins = [WindowScore(0, 7, 0.0, 0.28, 0.7, 0.2), WindowScore(40, 47, 1.6, 1.88, 0.1, 0.3)]
    with_windows = replace(r, faces=[replace(r.faces[0], windows=wins, temporal_probability=0.4, frame_probability=0.25)])
    ax = timeline_figure(with_windows).axes[0]
    bars = [c for c in ax.collections if c.get_label().endswith("temporal windows")]
    assert len(bars) == 1
    segments = bars[0].get_segments()
    # centred on each window, at its temporal score; at least 1/50 of the 1 s axis wide
    assert [(round(s[0][0], 2), round(s[1][0], 2), round(s[0][1], 2)) for s in segments] == [(0.0, 0.28, 0.7), (1.6, 1.88, 0.1)]
    short = replace(with_windows, faces=[replace(with_windows.faces[0], windows=[WindowScore(0, 1, 0.5, 0.504, 0.6, 0.2)])])
    (seg,) = [c for c in timeline_figure(short).axes[0].collections if c.get_label().endswith("temporal windows")][0].get_segments()
    assert round(seg[0][0], 3) == 0.492 and round(seg[1][0], 3) == 0.512 and seg[0][1] == 0.6
    assert not [c for c in timeline_figure(r).axes[0].collections if c.get_label().endswith("temporal windows")]
