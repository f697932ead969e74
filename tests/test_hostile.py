"""Issue 6: whatever people upload gets a clear one-line message or a sound report — never a
crash, a hang, a traceback or unbounded memory. Every input is made here."""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, astronaut
from mediakit import (assert_complete_report, face_grid, paste, read_stamp, stamp, write_audio_only, write_mkv_claiming,
                      write_two_streams, write_video)

from dfdemo import DfdemoError, MediaError, Settings, media

NOT_A_VIDEO = "not a readable video (corrupt, truncated, audio only, no frames or not really .mp4)"


def _png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG whose header claims w x h pixels, with almost no pixel data (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Every bad or odd input of issue 6, by name."""
    d = tmp_path_factory.mktemp("hostile")
    img = astronaut()
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    f: dict[str, Path] = {"missing": d / "missing.mp4"}
    (f.setdefault("empty", d / "empty.mp4")).write_bytes(b"")
    (f.setdefault("text_as_mp4", d / "readme.mp4")).write_text("This is a text file renamed .mp4\n" * 40)
    good = write_video(d / "good.mp4", [img] * 50, gop=10)
    data = good.read_bytes()
    (f.setdefault("truncated", d / "truncated.mp4")).write_bytes(data[: len(data) // 2])  # index at the end: lost
    fast = write_video(d / "fast.mp4", [stamp(img, k) for k in range(50)], gop=10, faststart=True)
    fdata = fast.read_bytes()
    (f.setdefault("truncated_faststart", d / "truncated_faststart.mp4")).write_bytes(fdata[: len(fdata) * 6 // 10])
    f["zero_frames"] = write_video(d / "zero_frames.mp4", [], size=(320, 240))
    f["one_frame"] = write_video(d / "one_frame.mp4", [img])
    f["audio_only"] = write_audio_only(d / "audio_only.mp4")
    f["alpha"] = d / "alpha.png"
    cv2.imwrite(str(f["alpha"]), np.dstack([bgr, np.full(img.shape[:2], 90, np.uint8)]))
    f["grey"] = d / "grey.png"
    cv2.imwrite(str(f["grey"]), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    f["png16"] = d / "deep.png"
    cv2.imwrite(str(f["png16"]), bgr.astype(np.uint16) * 257)
    f["huge_png"] = d / "huge.png"  # 12000 x 12000, real pixels (compresses to a few hundred kB)
    big = np.zeros((12000, 12000, 3), np.uint8)
    big[::97] = 255
    cv2.imwrite(str(f["huge_png"]), big, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    f["huge_jpg"] = d / "huge.jpg"
    big[:] = cv2.resize(bgr, (12000, 12000), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(f["huge_jpg"]), big, [cv2.IMWRITE_JPEG_QUALITY, 70])
    del big
    f["bomb_png"] = _png_header_only(d / "bomb.png", 60000, 60000)
    f["no_face"] = d / "wall.png"
    cv2.imwrite(str(f["no_face"]), np.full((480, 640, 3), (90, 120, 150), np.uint8))
    grid, _ = face_grid(img[60:220, 145:305], n=20)
    f["twenty_faces"] = d / "crowd.png"
    cv2.imwrite(str(f["twenty_faces"]), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    for name, s in (("small_face", 0.5), ("tiny_face", 0.04)):
        face = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        f[name] = d / f"{name}.png"
        cv2.imwrite(str(f[name]), cv2.cvtColor(paste((480, 640), face, (200, 150)), cv2.COLOR_RGB2BGR))
    gaps = np.random.RandomState(1).choice([15, 33, 90], size=80)
    f["vfr"] = write_video(d / "vfr.mp4", [stamp(img, k) for k in range(80)], pts_ms=np.cumsum(gaps).tolist())
    f["folder"] = d / "folder.mp4"
    f["folder"].mkdir()
    (f.setdefault("unsupported", d / "clip.gif")).write_bytes(b"GIF89a")
    return f


REFUSED = {  # input -> the message after "<path>: "
    "missing": "file not found",
    "empty": "the file is empty",
    "text_as_mp4": NOT_A_VIDEO,
    "truncated": NOT_A_VIDEO,
    "zero_frames": NOT_A_VIDEO,
    "audio_only": NOT_A_VIDEO,
    "huge_png": "image is too large (12000x12000 pixels, over the 50 MP limit for PNG/WebP/BMP); downscale it first",
    "bomb_png": "image is too large (over 178 MP); downscale it first",
    "folder": "not a file",
    "unsupported": "not a readable image (corrupt or not really .gif)",  # a GIF header and nothing else
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_clear_message(hostile, analyzer, name):
    path = hostile[name]
    with pytest.raises(MediaError) as e:
        analyzer.analyze(path, Settings(frames=4, heatmaps=0))
    assert str(e.value) == f"{path}: {REFUSED[name]}"


def test_cli_one_line_per_bad_file_and_the_good_ones_analysed(hostile, tiny_weights):
    bad = sorted(REFUSED)
    good = ["one_frame", "grey", "no_face"]
    paths = [str(hostile[n]) for n in bad[:5] + good + bad[5:]]
    env = {k: v for k, v in os.environ.items() if k != "DFDEMO_WEIGHTS"}
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", *paths, "--json", "-", "--frames", "4",
                          "--weights", str(tiny_weights)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "Warning" not in run.stderr
    assert run.stderr.splitlines() == [f"error: {hostile[n]}: {REFUSED[n]}" for n in bad[:5] + bad[5:]]
    reports = json.loads(run.stdout)
    assert [r["file"] for r in reports] == [str(hostile[n]) for n in good]
    for r in reports:
        assert_complete_report(r)


def test_one_frame_video(hostile, analyzer):
    r = analyzer.analyze(hostile["one_frame"], Settings(frames=32, heatmaps=1)).report
    assert_complete_report(r.to_dict(), "video")
    assert r.frames_analyzed == 1 and r.media["frame_count"] == 1 and len(r.faces) == 1
    assert r.notes == []


def test_truncated_faststart_mp4_is_analysed_as_far_as_it_goes(hostile, analyzer):
    """The index survives at the front, the tail is gone: frames up to the cut are analysed,
    and the report says how many of the sampled frames could not be decoded."""
    r = analyzer.analyze(hostile["truncated_faststart"], Settings(frames=10, heatmaps=0)).report
    assert_complete_report(r.to_dict(), "video")
    assert 1 <= r.frames_analyzed < 10 and r.faces
    assert r.notes == [f"only {r.frames_analyzed} of 10 sampled frames could be decoded"]


@pytest.mark.parametrize("name", ["alpha", "grey", "png16"])
def test_odd_images_are_analysed(hostile, analyzer, name):
    r = analyzer.analyze(hostile[name], Settings(heatmaps=0)).report
    assert_complete_report(r.to_dict(), "image")
    assert len(r.faces) == 1 and (r.media["width"], r.media["height"]) == (512, 512)


def test_no_face_is_a_verdict_not_an_error(hostile, analyzer):
    r = analyzer.analyze(hostile["no_face"]).report
    assert r.verdict == "no_face" and r.fake_probability is None and r.faces == [] and r.heatmaps == []
    assert r.frames_analyzed == 1 and r.frames_with_face == 0
    assert_complete_report(r.to_dict(), "image")


def test_twenty_faces_are_capped_and_the_report_says_so(hostile, analyzer):
    r = analyzer.analyze(hostile["twenty_faces"], Settings(max_faces=10, heatmaps=2)).report
    assert len(r.faces) == 10
    assert r.notes == ["20 faces were found; the 10 clearest were analysed (to analyse more, raise 'Faces to analyse' in Settings or scan --max-faces, up to 50)"]
    assert (r.faces_found, r.face_limit, len(r.faces_left_out)) == (20, 10, 10)
    assert len(r.heatmaps) == 2
    assert_complete_report(r.to_dict(), "image")
    few = analyzer.analyze(hostile["twenty_faces"], Settings(max_faces=3, heatmaps=0)).report
    assert len(few.faces) == 3 and few.notes == ["20 faces were found; the 3 clearest were analysed (to analyse more, raise 'Faces to analyse' in Settings or scan --max-faces, up to 50)"]


def test_exactly_max_faces_is_not_called_capped(analyzer, tmp_path):
    grid, _ = face_grid(astronaut()[60:220, 145:305], n=3, cols=3)
    p = tmp_path / "three.png"
    cv2.imwrite(str(p), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    r = analyzer.analyze(p, Settings(max_faces=3, heatmaps=0)).report
    assert len(r.faces) == 3 and r.notes == []


def test_small_face_is_analysed_with_a_warning_and_a_tiny_one_is_no_face(hostile, analyzer):
    r = analyzer.analyze(hostile["small_face"], Settings(heatmaps=0)).report
    assert len(r.faces) == 1 and r.faces[0].face_size_px < 64
    assert any(w.startswith("small face (") for w in r.faces[0].warnings)
    tiny = analyzer.analyze(hostile["tiny_face"], Settings(heatmaps=0)).report  # a 4 px face
    assert tiny.verdict == "no_face"


def test_variable_frame_rate_clip(hostile, analyzer):
    r = analyzer.analyze(hostile["vfr"], Settings(frames=8, heatmaps=0)).report
    assert_complete_report(r.to_dict(), "video")
    times = [fr.time_s for fr in r.faces[0].frames]
    assert len(times) == 8 and np.all(np.diff(times) > 0)
    assert times[-1] <= r.media["duration_s"] + 1.0


MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys
    from dfdemo import media
    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path, what = sys.argv[1], sys.argv[2]
    base = peak_mb()
    if what == "image":
        try:
            result = list(media.load_image(path).shape)
        except media.MediaError as e:
            result = str(e)
    else:
        result = [(f.index, f.rgb.shape[0]) for f in media.sample_frames(path, int(sys.argv[3]))]
    print(json.dumps({"grown_mb": peak_mb() - base, "result": result}))
""")


def peak_growth(*args) -> dict:
    run = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_12000_pixel_jpeg_is_downscaled_in_bounded_memory(hostile):
    out = peak_growth(hostile["huge_jpg"], "image")
    assert out["result"] == [media.MAX_SIDE, media.MAX_SIDE, 3]
    full = 12000 * 12000 * 3 / 2**20  # 412 MB if decoded whole
    assert out["grown_mb"] < full / 2, out


def test_12000_pixel_png_is_refused_before_decoding(hostile):
    out = peak_growth(hostile["huge_png"], "image")
    assert out["result"].endswith(REFUSED["huge_png"])
    assert out["grown_mb"] < 50, out


def test_long_video_is_sampled_never_loaded_whole(tmp_path):
    """Three minutes at 25 fps (4,500 frames of 320x240, 1 GB decoded): sampling 16 frames
    costs about what it costs on a short clip, and lands on the right frames."""
    base = astronaut()[::2, ::2][:240, :]
    base = np.ascontiguousarray(np.pad(base, ((0, 0), (0, 64), (0, 0)))[:, :320])
    long = write_video(tmp_path / "long.mp4", (stamp(base, k) for k in range(4500)), gop=250)
    short = write_video(tmp_path / "short.mp4", (stamp(base, k) for k in range(100)), gop=250)
    info = media.probe(long)
    assert info.frame_count == 4500 and info.duration_s == pytest.approx(180.0)
    lo, sh = peak_growth(long, "video", 16), peak_growth(short, "video", 16)
    assert [i for i, _ in lo["result"]] == media.sample_indices(4500, 16)
    assert lo["grown_mb"] < sh["grown_mb"] + 60, (lo["grown_mb"], sh["grown_mb"])
    frames = list(media.sample_frames(long, 16, info))
    assert [read_stamp(f.rgb) for f in frames] == [f.index for f in frames]


def test_long_video_over_the_duration_limit_is_refused_first(tmp_path, analyzer):
    clip = write_video(tmp_path / "clip.mp4", [astronaut()[:240, :320]] * 100, fps=5)  # 20 s
    with pytest.raises(MediaError, match=r"the video lasts 20 s, longer than the 10 s limit"):
        analyzer.analyze(clip, Settings(max_duration_s=10))


def test_a_faint_false_face_beside_a_clear_one_is_ignored_and_said(analyzer, tmp_path):
    """A cut from the astronaut to a grey frame with a thumbnail of her (a 6 px face): the face
    detector's fallback takes the thumbnail for a face (score ~0.65). It is dropped, and noted."""
    img = astronaut()
    clear = paste((480, 640), img[:480], (64, 0))
    thumb = paste((480, 640), cv2.resize(img, None, fx=0.06, fy=0.06, interpolation=cv2.INTER_AREA), (200, 150))
    clip = write_video(tmp_path / "cut.mp4", [clear] * 20 + [thumb] * 20)
    assert analyzer.faces.detect(thumb), "the false face this test needs is no longer detected"
    r = analyzer.analyze(clip, Settings(frames=8, heatmaps=0)).report
    assert len(r.faces) == 1 and len(r.faces[0].frames) == 4
    assert all(fr.time_s < 0.8 for fr in r.faces[0].frames)
    assert r.notes == ["1 faint face detection(s) beside a clear face were ignored (most likely not faces)"]


# ---------------------------------------------------------------- issue 19: hostile input, round two
FACE_CROP = (slice(60, 220), slice(145, 305))  # the astronaut's face, tight: 160 px


def test_19_2_small_faces_in_a_wide_picture_are_found(analyzer, tmp_path):
    """40 faces of 128 px in a 1312x832 grid (the whole-frame pass found 3), and one 85 px
    face on a 1496x944 canvas (found none): the tiled search finds each, in its own cell."""
    from dfdemo.faces import FaceDetector, iou

    face = astronaut()[FACE_CROP]
    grid, cells = face_grid(face, n=40, cols=8)
    assert grid.shape[:2] == (832, 1312)
    with FaceDetector(max_faces=50) as fd:
        dets = fd.detect(grid)
    assert len(dets) == 40
    assert all(sum(iou(d.box, c) > 0.2 for d in dets) == 1 for c in cells)
    p = tmp_path / "crowd40.png"
    cv2.imwrite(str(p), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert len(r.faces) == 10 and r.notes == ["40 faces were found; the 10 clearest were analysed (to analyse more, raise 'Faces to analyse' in Settings or scan --max-faces, up to 50)"]

    lone = paste((944, 1496), cv2.resize(face, (85, 85), interpolation=cv2.INTER_AREA), (700, 400))
    p = tmp_path / "far.png"
    cv2.imwrite(str(p), cv2.cvtColor(lone, cv2.COLOR_RGB2BGR))
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert r.verdict != "no_face" and len(r.faces) == 1
    (x0, y0, x1, y1), = [fr.box for fr in r.faces[0].frames]
    assert 700 <= x0 < x1 <= 785 and 400 <= y0 < y1 <= 485


def scan(*args, cwd=ROOT, weights=None) -> subprocess.CompletedProcess:
    """``python -m dfdemo scan ARGS`` (``--weights`` added when given), output as text."""
    env = {k: v for k, v in os.environ.items() if k != "DFDEMO_WEIGHTS"}
    env["PYTHONPATH"] = str(ROOT)
    extra = ["--weights", str(weights)] if weights else []
    return subprocess.run([sys.executable, "-m", "dfdemo", "scan", *extra, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def one_frame_clip(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("short") / "short.mp4", [astronaut()])


def test_19_3_a_too_long_name_is_one_line_and_the_next_file_is_analysed(tmp_path, one_frame_clip, tiny_weights):
    long = tmp_path / ("n" * 252 + ".mp4")  # 256 characters: over the 255 of file systems
    run = scan(long, one_frame_clip, "--json", "-", "--frames", "2", weights=tiny_weights)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [f"error: {long}: cannot be read (file name too long)"]
    assert [r["file"] for r in json.loads(run.stdout)] == [str(one_frame_clip)]


def test_19_4_heatmaps_of_a_file_with_a_long_name_are_written(tmp_path, tiny_weights):
    photo = tmp_path / ("p" * 247 + ".png")  # 251 characters: the overlay names used to pass 255
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    heat, out = tmp_path / "D", tmp_path / "out.json"
    run = scan(photo, "--heatmaps", heat, "--json", out, weights=tiny_weights)
    assert run.returncode == 0, run.stderr
    (r,) = json.loads(out.read_text())
    paths = [h["overlay_path"] for h in r["heatmaps"]]
    assert paths and all(Path(p).is_file() and Path(p).parent == heat for p in paths)
    assert sorted(heat.iterdir()) == sorted(Path(p) for p in paths)


def test_19_4_a_heatmap_folder_that_cannot_be_written_is_said(tmp_path, analyzer, one_frame_clip):
    blocked = tmp_path / "file_not_folder"
    blocked.write_text("x")
    analysis = analyzer.analyze(one_frame_clip, Settings(frames=1, heatmaps=1))
    with pytest.raises(DfdemoError) as e:
        analysis.write_images(blocked / "D")
    assert str(e.value) == f"{blocked / 'D'}: cannot make the heatmap folder (not a directory)"
    from dfdemo.media import write_png

    with pytest.raises(DfdemoError, match="cannot write the heatmap image"):  # OpenCV only returns False
        write_png(str(tmp_path / ("x" * 300 + ".png")), astronaut())


def test_19_5_a_second_video_stream_is_named_in_a_note(tmp_path, analyzer):
    grey = [np.full((120, 160, 3), 128, np.uint8)] * 25
    clip = write_two_streams(tmp_path / "two.mp4", grey, [astronaut()] * 25)
    r = analyzer.analyze(clip, Settings(frames=4, heatmaps=0)).report
    assert r.media["width"] == 160 and r.verdict == "no_face"
    assert r.notes == ["the file holds 2 video streams; only the first (160x120) was analysed"]
    one = analyzer.analyze(write_video(tmp_path / "one.mp4", grey), Settings(frames=4, heatmaps=0)).report
    assert one.notes == []


def test_19_6_a_header_that_claims_ten_hours_is_checked_against_what_decodes(tmp_path, analyzer):
    frames = [stamp(astronaut()[:240, :320], k) for k in range(50)]  # 2 s at 25 fps
    liar = write_mkv_claiming(tmp_path / "liar.mkv", frames, claimed_s=36000)
    cap = cv2.VideoCapture(str(liar))  # the header really claims 10 h to OpenCV
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 900000
    cap.release()
    note = "the file's header says the video lasts 36000 s, but only 2.0 s could be decoded: that part was analysed"
    for limit in (600, None):  # the app's limit, the CLI's none
        r = analyzer.analyze(liar, Settings(frames=8, heatmaps=0, max_duration_s=limit)).report
        assert r.notes == [note] and r.media["duration_s"] == 2.0 and r.media["frame_count"] == 50
        assert r.frames_analyzed == 8 and len(r.faces) == 1
        assert [fr.index for fr in r.faces[0].frames] == media.sample_indices(50, 8)
    honest = write_mkv_claiming(tmp_path / "honest.mkv", frames, claimed_s=2)
    assert analyzer.analyze(honest, Settings(frames=8, heatmaps=0, max_duration_s=600)).report.notes == []


def test_19_7_a_huge_file_named_png_is_refused_from_its_first_bytes(tmp_path):
    junk = tmp_path / "junk.png"  # 1 GB, sparse: no disk used
    with open(junk, "wb") as f:
        f.write(b"this is not an image" * 10)
        f.truncate(2**30)
    out = peak_growth(junk, "image")
    assert out["result"] == f"{junk}: not a readable image (corrupt or not really .png)"
    assert out["grown_mb"] < 50, out
    png = tmp_path / "big.png"  # a PNG signature, then 1 GB
    with open(png, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(2**30)
    out = peak_growth(png, "image")
    assert out["result"] == f"{png}: image file is too large (1024 MB, over the 256 MB limit); downscale or compress it first"
    assert out["grown_mb"] < 50, out


def test_19_8_control_characters_in_file_names_are_escaped(tmp_path, tiny_weights):
    evil = tmp_path / "evil\n\x1b[31mFAKE\x1b[0m.png"
    cv2.imwrite(str(tmp_path / "plain.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    (tmp_path / "plain.png").rename(evil)
    missing = tmp_path / "gone\r\x07.mp4"
    run = scan(evil, missing, "--heatmaps", tmp_path / "D", weights=tiny_weights)
    assert run.returncode == 2
    for text in (run.stdout, run.stderr):
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    shown = str(evil).replace("\n", "\\n").replace("\x1b", "\\x1b")
    assert run.stdout.splitlines()[0].startswith(f"{shown}: ")
    gone = str(missing).replace("\r", "\\r").replace("\x07", "\\x07")
    assert run.stderr.splitlines() == [f"error: {gone}: file not found"]
    assert len(list((tmp_path / "D").iterdir())) >= 1  # the heatmaps keep the real name's bytes


def test_19_10_an_animated_webp_says_only_its_first_frame_was_judged(tmp_path, analyzer):
    from PIL import Image

    frames = [Image.fromarray(astronaut()), Image.fromarray(np.full((512, 512, 3), 90, np.uint8)), Image.fromarray(astronaut()[:, ::-1])]
    p = tmp_path / "anim.webp"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert len(r.faces) == 1 and r.notes == ["an animated image (3 frames): only its first frame was analysed"]
    still = tmp_path / "still.webp"
    frames[0].save(still)
    assert analyzer.analyze(still, Settings(heatmaps=0)).report.notes == []


def test_19_10_a_file_named_like_an_option_gets_the_fix(tmp_path, tiny_weights):
    (tmp_path / "-rf.mp4").write_bytes(b"")
    run = scan("-rf.mp4", cwd=tmp_path)
    assert run.returncode == 2 and "the following arguments are required" not in run.stderr
    assert run.stderr.splitlines()[-1] == ("python -m dfdemo scan: error: -rf.mp4 is read as an option; to scan a file "
                                           "whose name starts with '-', put -- before it (scan -- -rf.mp4) or write ./-rf.mp4")
    for args in (["--", "-rf.mp4"], ["./-rf.mp4"]):  # the fix it names works
        run = scan("--frames", "1", *args, cwd=tmp_path, weights=tiny_weights)
        assert run.returncode == 2 and run.stderr.splitlines() == [f"error: {args[-1]}: the file is empty"]


# ---------------------------------------------------------------- issue 19 through the app (python app.py on localhost)
GRACE_S = 3  # the test server deletes uploads no request names after this


@pytest.fixture(scope="module")
def small_queue_server(tiny_weights):
    """An app with room for 3 waiting requests, deleting unclaimed uploads after GRACE_S."""
    import app_server

    server = app_server.start(tiny_weights, DFDEMO_QUEUE_SIZE="3", DFDEMO_UPLOAD_GRACE_S=str(GRACE_S))
    yield server
    server.stop()


def _leftovers(server, *names: str) -> list[str]:
    """Upload leftovers in the server's upload folder: files with these names, Gradio's temp files
    of refused uploads, empty content-hash folders (Gradio's own folders, such as
    ``vibe_edit_history``, are not uploads)."""
    root = server.temp_dir
    found = [p for n in names for p in root.rglob(n)]
    found += [p for p in root.iterdir() if p.is_file() and p.name.startswith("tmp")]
    found += [p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{32,128}", p.name) and not any(p.iterdir())]
    return sorted(str(p.relative_to(root)) for p in found)


def _wait_until_clean(server, *names: str, timeout: float = 12 * GRACE_S) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _leftovers(server, *names)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_19_0_many_visitors_sending_the_same_file_each_get_a_result_or_a_queue_full(small_queue_server, tmp_path):
    """12 requests at once with one and the same photo (Gradio keeps one copy for all): each gets its
    report or "queue is full", never "file not found"; afterwards no upload is left."""
    import app_server
    from gradio_client import handle_file

    photo = tmp_path / "same_photo_19_0.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut()[::2, ::2], cv2.COLOR_RGB2BGR))
    client = app_server.client(small_queue_server)
    jobs = [client.submit(handle_file(str(photo)), api_name="/analyze") for _ in range(12)]
    outcomes = []
    for job in jobs:
        try:
            outcomes.append(job.result(timeout=180)["verdict"])
        except Exception as e:  # gradio_client's QueueError / AppError
            outcomes.append(str(e))
    assert not [o for o in outcomes if "not found" in o or "no longer" in o], outcomes
    assert all(o in ("fake", "real", "uncertain", "no_face") or "Queue is full" in o for o in outcomes), outcomes
    results = [o for o in outcomes if "Queue is full" not in o]
    assert 4 <= len(results) < 12, outcomes  # 1 running + 3 waiting at least; the queue did refuse some
    assert _wait_until_clean(small_queue_server, photo.name) == []


def test_19_1_uploads_never_analysed_are_deleted(small_queue_server, tmp_path):
    """Uploaded and never asked for, or refused for its name ('..', Gradio answers 400 and leaves
    its temporary file and an empty folder): neither stays on the server's disk."""
    import httpx

    url = small_queue_server.url + "gradio_api/upload"
    lone = tmp_path / "uploaded_only_19_1.png"
    cv2.imwrite(str(lone), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    with open(lone, "rb") as f:
        r = httpx.post(url, files={"files": (lone.name, f, "image/png")}, timeout=60)
    assert r.status_code == 200 and Path(r.json()[0]).name == lone.name
    with open(lone, "rb") as f:
        r = httpx.post(url, files={"files": ("..", f, "image/png")}, timeout=60)
    assert r.status_code == 400
    assert _leftovers(small_queue_server, lone.name)  # both are there at first ...
    assert _wait_until_clean(small_queue_server, lone.name) == []  # ... then gone


def test_19_1_an_upload_cancelled_while_waiting_is_deleted(small_queue_server, tmp_path):
    """A long clip keeps the one worker busy; a second request waits in the queue and its client
    cancels it (``job.cancel()``, as a closed tab does): its upload is deleted all the same."""
    import app_server
    from gradio_client import handle_file
    from gradio_client.utils import Status

    busy = write_video(tmp_path / "busy_19_1.mp4", [astronaut()[:240, :320]] * 100, fps=5)
    waiting = tmp_path / "cancelled_19_1.png"
    cv2.imwrite(str(waiting), cv2.cvtColor(astronaut()[::-1], cv2.COLOR_RGB2BGR))
    # two visitors: a client's cancel ends every request of its session
    first = app_server.client(small_queue_server).submit(handle_file(str(busy)), api_name="/analyze")
    while first.status().code not in (Status.PROCESSING, Status.PROGRESS, Status.FINISHED):
        time.sleep(0.05)
    second = app_server.client(small_queue_server).submit(handle_file(str(waiting)), api_name="/analyze")
    deadline = time.monotonic() + 60
    while second.status().code != Status.IN_QUEUE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.status().code == Status.IN_QUEUE and not first.done(), "the second request never waited"
    assert list(small_queue_server.temp_dir.rglob(waiting.name))
    second.cancel()
    first.result(timeout=180)
    assert _wait_until_clean(small_queue_server, waiting.name, busy.name) == []


def _call_analyze(server, path: Path) -> str:
    """/analyze called over HTTP with Gradio's file data naming ``path`` (no upload): the error line."""
    import httpx

    api = server.url + "gradio_api/call/analyze"
    body = {"data": [{"path": str(path), "meta": {"_type": "gradio.FileData"}}]}
    event = httpx.post(api, json=body, timeout=60).json()["event_id"]
    with httpx.stream("GET", f"{api}/{event}", timeout=120) as r:
        text = "".join(r.iter_text())
    assert "event: error" in text
    (data,) = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    return json.loads(data)["error"]


def test_19_9_a_path_that_was_not_uploaded_is_refused(small_queue_server, tmp_path):
    """A request naming a server file instead of uploading it is refused and the file is left as it
    is. Outside Gradio's upload folder Gradio itself refuses it, before dfdemo's code runs (its
    message, and its traceback in the log: no Gradio hook turns that into one line without a
    monkeypatch); inside it (another visitor's session folder) dfdemo refuses it with one line."""
    secret = tmp_path / "server_file_19_9.png"
    cv2.imwrite(str(secret), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    content = secret.read_bytes()
    _call_analyze(small_queue_server, secret)
    assert secret.read_bytes() == content and not list(small_queue_server.temp_dir.rglob(secret.name))

    owned = small_queue_server.temp_dir / "dfdemo-sessions" / "another-visitor" / "upload-0123456789ab" / "theirs_19_9.png"
    owned.parent.mkdir(parents=True)
    owned.write_bytes(content)
    before = len(small_queue_server.log_tail(10**7))
    assert _call_analyze(small_queue_server, owned) == ("Send the file itself (gradio_client's handle_file uploads it): "
                                                        "a path on the server is not accepted.")
    assert owned.read_bytes() == content
    time.sleep(1)
    log = small_queue_server.log_tail(10**7)[before:]
    assert "Traceback" not in log
    assert [line for line in log.splitlines() if "refused a request" in line and str(owned) in line]
    owned.unlink()


def test_25_5_an_api_call_without_a_file_gets_one_line_naming_the_input_expected(small_queue_server):
    """``predict("")``, a URL, ``file:///...``, a number. Before: "The upstream Gradio app has raised
    an exception" for the caller and a pydantic traceback per call in the log."""
    import app_server
    from gradio_client.exceptions import AppError

    client = app_server.client(small_queue_server)
    before = len(small_queue_server.log_tail(10**7))
    expected = 'Send one video or photo as a file (gradio_client: handle_file("clip.mp4")), not '
    for sent, what in (("", "an empty string"), ("https://example.com/clip.mp4", "a URL ('https://example.com/clip.mp4')"),
                       ("file:///etc/hostname", "a URL ('file:///etc/hostname')"), (5, "a number")):
        with pytest.raises(AppError) as e:
            client.predict(sent, api_name="/analyze")
        assert str(e.value) == expected + what + "."
    time.sleep(1)
    log = small_queue_server.log_tail(10**7)[before:]
    assert "Traceback" not in log
    assert len([line for line in log.splitlines() if "refused a request" in line]) == 4
