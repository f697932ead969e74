"""Issue 25, hostile input round three: one visitor must not stall the others, formats accepted
by their content, no traceback from the CLI or the API. Every input is made here; a local socket
that accepts connections and never answers stands in for a silent Hugging Face Hub."""
from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest

from dfdemo import Settings, media
from dfdemo.errors import WeightsError

HUB_TIMEOUT_S = 3


@pytest.fixture
def silent_hub(monkeypatch, tmp_path):
    """huggingface_hub pointed at a socket that accepts and never answers; yields the accepted
    connections (proof that the Hub was really asked)."""
    from huggingface_hub import constants

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    accepted: list[socket.socket] = []

    def accept():
        while True:
            try:
                accepted.append(srv.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{srv.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", HUB_TIMEOUT_S)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", HUB_TIMEOUT_S)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    yield accepted
    srv.close()
    for c in accepted:
        c.close()


def test_25_1_a_silent_hub_is_a_one_line_error_within_its_timeout(silent_hub):
    """Before: ``resolve_weights`` waited forever on the Hub's first metadata call (no timeout)."""
    from dfdemo.detector import resolve_weights

    t = time.monotonic()
    with pytest.raises(WeightsError) as e:
        resolve_weights("someone/silent-weights")
    took = time.monotonic() - t
    assert silent_hub, "the Hub was never asked"
    assert took < 6 * HUB_TIMEOUT_S, took
    assert str(e.value) == ("Hub repo someone/silent-weights is not in the local cache and the Hub cannot be reached "
                            f"(no answer within {HUB_TIMEOUT_S} s)")


@pytest.fixture
def web_apps():
    """WebApps made by a test, their analyzers closed at its end."""
    made = []
    yield made
    for web in made:
        web.models.close()


def _webapp(monkeypatch, tiny_weights, made: list, **env):
    import webapp

    monkeypatch.setenv("DFDEMO_WEIGHTS", str(tiny_weights))
    for k in ("SPACE_ID", "DFDEMO_VISITOR_WEIGHTS", "DFDEMO_HUB_WEIGHTS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    made.append(webapp.WebApp(webapp.WebSettings.from_env()))
    return made[-1]


def test_25_1_a_visitor_loading_weights_does_not_stall_the_others(silent_hub, monkeypatch, tiny_weights, photo, caplog,
                                                                   web_apps):
    """Visitor A names Hub weights on a silent Hub. Meanwhile B's analysis on the loaded weights
    runs at once (before: it waited for A's load, > 200 s), C's request for other Hub weights is
    refused at once (loads are bounded), and A gets one line, no traceback in the log."""
    import gradio as gr

    web = _webapp(monkeypatch, tiny_weights, web_apps)
    with web.models.use(None):  # the default weights, loaded as the warm-up does
        pass
    quiet = lambda *a, **k: None  # noqa: E731 (a progress callback that shows nothing)
    outcome: dict[str, object] = {}

    def visitor_a():
        try:
            web.analyse(str(photo), Settings(heatmaps=0), "someone/silent-weights", quiet, None)
        except gr.Error as e:
            outcome["a"] = e.message

    caplog.set_level(logging.INFO)
    a = threading.Thread(target=visitor_a)
    a.start()
    deadline = time.monotonic() + 30
    while not silent_hub and time.monotonic() < deadline:
        time.sleep(0.05)
    assert silent_hub and a.is_alive(), "visitor A's load never reached the Hub"
    t = time.monotonic()
    r = web.analyse(str(photo), Settings(heatmaps=0), None, quiet, None).report
    assert r.faces and time.monotonic() - t < HUB_TIMEOUT_S and a.is_alive()
    with pytest.raises(gr.Error) as c:
        web.analyse(str(photo), Settings(heatmaps=0), "other/weights", quiet, None)
    assert c.value.message == ("the server is loading other weights for another visitor; try again in a minute, "
                               "or use the bundled weights")
    a.join(timeout=10 * HUB_TIMEOUT_S)
    assert not a.is_alive()
    assert outcome["a"] == ("Hub repo someone/silent-weights is not in the local cache and the Hub cannot be reached "
                            f"(no answer within {HUB_TIMEOUT_S} s)")
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"


def test_25_1_the_operator_decides_what_visitors_may_load(monkeypatch, tiny_weights, web_apps):
    import gradio as gr

    import webapp

    assert webapp.visitor_weights({}) == ("bundled", "any")
    assert webapp.visitor_weights({"SPACE_ID": "someone/space"}) == ("bundled",)  # a public Space: a list
    assert webapp.visitor_weights({"DFDEMO_HUB_WEIGHTS": "0"}) == ("bundled",)
    listed = webapp.visitor_weights({"SPACE_ID": "x/y", "DFDEMO_VISITOR_WEIGHTS": "owner/a, owner/b@v2"})
    assert listed == ("bundled", "owner/a", "owner/b@v2")
    assert webapp.weights_source("owner/b@v2", listed) == "owner/b@v2"
    assert webapp.weights_source("bundled", ("bundled",)) is None
    with pytest.raises(gr.Error) as e:
        webapp.weights_source("owner/c", listed)
    assert e.value.message == ("This server lets visitors use 'bundled' or one of owner/a, owner/b@v2 "
                               "(DFDEMO_VISITOR_WEIGHTS), not 'owner/c'.")
    with pytest.raises(gr.Error) as e:
        webapp.weights_source("owner/a", ("bundled",))
    assert e.value.message == "This server lets visitors use its bundled weights only (DFDEMO_VISITOR_WEIGHTS), not 'owner/a'."
    web = _webapp(monkeypatch, tiny_weights, web_apps, SPACE_ID="someone/space")
    with pytest.raises(gr.Error):
        web.weights_source("owner/a")


# ---------------------------------------------------------------- 25.2 uploads owned from the moment they arrive
@pytest.fixture
def upload_root(tmp_path):
    return tmp_path / "gradio"


def _uploaded(root, name: str, content: bytes = b"x" * 1000) -> str:
    """A file where Gradio's /upload stores it: <upload folder>/<content hash>/<name>."""
    d = root / ("ab" * 20)
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content)
    return str(d / name)


def test_25_2_a_page_upload_kept_by_a_session_that_never_says_goodbye_is_deleted(upload_root):
    """A page analyses an upload (a refusal or a result: the file stays selected) and its session
    never closes (no heartbeat, so no unload): once no request has named the file for the grace
    period it is deleted. Before: kept until the session's unload, which never came."""
    from webapp.sessions import SETTLE_S, Sessions

    sessions = Sessions(grace_s=0.5, folder=upload_root)
    path, other = _uploaded(upload_root, "kept.mp4"), _uploaded(upload_root, "running.mp4")
    kept = sessions.take(path, "session-without-heartbeat")  # the page's upload event: the session's file now
    assert not Path(path).exists() and kept.path.is_file() and kept.path.name == "kept.mp4"
    sessions.select("session-without-heartbeat", kept)
    sessions.release(sessions.hold(kept))  # its analysis started and ended
    running = sessions.hold(sessions.take(other, "api-visitor"))  # another visitor's analysis still runs on its file
    sessions.sweep()
    assert kept.path.exists()  # within the grace period: kept for a re-run
    time.sleep(0.8)
    sessions.sweep()
    assert not kept.path.exists() and sessions.selected("session-without-heartbeat") is None
    assert running.path.exists()  # an analysis running on a file keeps it, however long it takes
    sessions.release(running, share=True)
    assert not running.path.exists()  # an /analyze upload goes when its analysis ends ...
    time.sleep(SETTLE_S + 0.1)
    sessions.sweep()
    assert not [p for p in upload_root.rglob("*") if p.is_file()]  # ... and its shared copy once the queue is idle


def test_25_2_identical_uploads_share_one_copy_until_the_last_request(upload_root):
    """Gradio stores identical uploads at one path: the first request moves the file into its own
    folder, a second one (its request came later) gets a link to a copy, and a third that starts
    just after the others ended gets the shared copy; nothing is left once the queue is idle."""
    from webapp.sessions import SETTLE_S, Sessions, UploadGone

    sessions = Sessions(grace_s=10, folder=upload_root)
    path = _uploaded(upload_root, "same.png")
    a = sessions.hold(sessions.take(path, "a"))
    b = sessions.hold(sessions.take(path, "b"))
    assert a.path != b.path and a.path.read_bytes() == b.path.read_bytes() == b"x" * 1000
    sessions.release(a, share=True)
    sessions.release(b, share=True)
    c = sessions.hold(sessions.take(path, "c"))
    assert c.path.read_bytes() == b"x" * 1000
    sessions.release(c, share=True)
    time.sleep(SETTLE_S + 0.1)
    sessions.sweep_shared()
    assert not [p for p in upload_root.rglob("*") if p.is_file()]
    with pytest.raises(UploadGone):
        sessions.take(path, "d")


def test_25_2_a_selected_upload_goes_on_clear_on_a_new_file_and_on_unload(upload_root):
    from webapp.sessions import Sessions

    sessions = Sessions(grace_s=60, folder=upload_root)
    first = sessions.take(_uploaded(upload_root, "first.mp4"), "s")
    sessions.select("s", first)
    running = sessions.hold(first)
    second = sessions.take(_uploaded(upload_root, "second.mp4", b"y" * 10), "s")
    sessions.select("s", second)  # a new file: the old one goes when its analysis ends
    assert first.path.exists()
    sessions.release(running)
    assert not first.path.exists() and second.path.exists()
    sessions.forget("s")  # the box cleared
    assert not second.path.exists()
    third = sessions.take(_uploaded(upload_root, "third.mp4", b"z" * 10), "s")
    sessions.select("s", third)
    (sessions.new_results_dir("s") / "report.json").write_text("{}")
    sessions.end("s")  # the tab closed
    assert not sessions.session_dir("s").exists() and not third.path.exists()


def test_25_2_every_upload_is_deleted_at_shutdown(tiny_weights, tmp_path):
    """Uploads no request named yet (the grace period is long) and a session's results are gone
    once the server is stopped (SIGTERM). Before: left on disk after shutdown."""
    import httpx

    import app_server

    server = app_server.start(tiny_weights, DFDEMO_UPLOAD_GRACE_S="600")
    try:
        photo = tmp_path / "left_at_shutdown_25_2.png"
        photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)
        with open(photo, "rb") as f:
            r = httpx.post(server.url + "gradio_api/upload", files={"files": (photo.name, f, "image/png")}, timeout=60)
        assert r.status_code == 200
        assert list(server.temp_dir.rglob(photo.name))
        server.proc.terminate()
        server.proc.wait(timeout=60)
        assert list(server.temp_dir.rglob(photo.name)) == []
        assert "Traceback" not in server.log_tail(10**6)
    finally:
        server.stop()


# ---------------------------------------------------------------- 25.3 media by content
FACE_FRAME = (slice(0, 240), slice(0, 320))  # a 320x240 piece of the astronaut photo with her face


def _encode(path: Path, frames, codec: str, fmt: str | None, fps: int = 25) -> Path:
    """Frames (RGB uint8) encoded with PyAV as ``codec`` in container ``fmt``."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(s.encode())
    return path


VIDEO_FORMATS = {".mpg": ("mpeg1video", "mpeg"), ".mpeg": ("mpeg2video", "mpeg"), ".ts": ("mpeg2video", "mpegts"),
                 ".3gp": ("mpeg4", "3gp"), ".flv": ("flv", "flv"), ".wmv": ("wmv2", "asf"), ".asf": ("wmv2", "asf"),
                 ".ogv": ("libtheora", "ogg")}


@pytest.mark.parametrize("ext", sorted(VIDEO_FORMATS))
def test_25_3_videos_are_accepted_by_what_decodes(ext, analyzer, tmp_path):
    """Before: "unsupported file type .mpg; use a video (.mp4, ...)" although OpenCV decodes them."""
    import av

    from conftest import astronaut

    codec, fmt = VIDEO_FORMATS[ext]
    try:
        clip = _encode(tmp_path / f"clip{ext}", [astronaut()[FACE_FRAME]] * 30, codec, fmt)
    except (av.error.FFmpegError, ValueError) as e:
        pytest.skip(f"this PyAV cannot write {ext} ({codec}): {e}")
    r = analyzer.analyze(clip, Settings(frames=4, heatmaps=0)).report
    assert r.kind == "video" and r.frames_analyzed == 4 and len(r.faces) == 1
    assert r.media["frame_count"] == 30 and r.notes == []


@pytest.mark.parametrize("ext", [".tif", ".tiff", ".gif", ".avif", ""])
def test_25_3_photos_are_accepted_by_what_decodes(ext, analyzer, tmp_path):
    """Before: "unsupported file type" for each (and for a file without extension)."""
    from PIL import Image

    from conftest import astronaut

    p = tmp_path / f"photo{ext}"
    Image.fromarray(astronaut()).save(p, format={"": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper()))
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert r.kind == "image" and len(r.faces) == 1 and (r.media["width"], r.media["height"]) == (512, 512)


def test_25_3_an_mp4_named_jpg_is_analysed_as_the_video_it_is(analyzer, tmp_path):
    """Before: "not a readable image (corrupt or not really .jpg)"."""
    from conftest import astronaut
    from mediakit import write_video

    clip = write_video(tmp_path / "clip.mp4", [astronaut()[FACE_FRAME]] * 20)
    named = tmp_path / "holiday.jpg"
    clip.rename(named)
    r = analyzer.analyze(named, Settings(frames=4, heatmaps=0)).report
    assert r.kind == "video" and r.frames_analyzed == 4 and r.media["frame_count"] == 20 and len(r.faces) == 1


@pytest.mark.parametrize("name, content, found", [
    ("report.docx", b"PK\x03\x04" + b"\0" * 200, "a ZIP archive (or an Office document)"),
    ("song", b"ID3\x04" + b"\0" * 200, "MP3 audio"),
    ("playlist.m3u8", b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/hostname\n", "text"),  # never handed to FFmpeg
    ("photo.heic", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200, None),
])
def test_25_3_what_is_refused_is_named_from_its_bytes(analyzer, tmp_path, name, content, found):
    from dfdemo import MediaError

    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(MediaError) as e:
        analyzer.analyze(p, Settings(heatmaps=0))
    if found is None:  # no HEIC decoder here (OpenCV and Pillow have none without plugins)
        assert str(e.value) == f"{p}: a HEIC/HEIF image, which this server cannot decode; convert it to JPEG or PNG"
    else:
        assert str(e.value) == (f"{p}: not a video or a photo that can be read (found {found}); use a video (MP4, MOV, "
                                "WebM, MKV, AVI, MPEG, ...) or a photo (JPEG, PNG, WebP, ...)")


def test_25_3_joined_mpeg_ts_segments_are_sampled_over_all_that_decodes(analyzer, tmp_path):
    """``cat a.ts b.ts > x.mp4``: the second segment's time stamps start again from 0, OpenCV's
    header count says 50 frames while 100 decode. Before: frames 0-49 only, no note."""
    import cv2

    from conftest import astronaut
    from mediakit import read_stamp, stamp

    face = astronaut()[FACE_FRAME]
    a = _encode(tmp_path / "a.ts", [stamp(face, k) for k in range(50)], "mpeg2video", "mpegts")
    b = _encode(tmp_path / "b.ts", [stamp(face, k) for k in range(50, 100)], "mpeg2video", "mpegts")
    joined = tmp_path / "joined.mp4"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    cap = cv2.VideoCapture(str(joined))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 50, "the header no longer disagrees with the stream"
    cap.release()
    info = media.probe(joined)
    assert info.frame_count == 100 and info.duration_s == pytest.approx(4.0)
    frames = list(media.sample_frames(joined, 8, info))
    assert [read_stamp(f.rgb) for f in frames] == [f.index for f in frames] == media.sample_indices(100, 8)
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in media.sample_indices(100, 8)], abs=1e-6)
    r = analyzer.analyze(joined, Settings(frames=8, heatmaps=0)).report
    assert r.frames_analyzed == 8 and max(fr.time_s for fr in r.faces[0].frames) > 2.0
    assert r.notes == ["the file's header says the video lasts 2.0 s, but 4.0 s decode (100 frames): frames were "
                       "sampled over all that decodes"]


# ---------------------------------------------------------------- 25.4 the CLI writes what it finished
def _strict_json(text: str):
    """JSON as a strict parser reads it: NaN and Infinity are errors."""
    import json

    def refuse(name):
        raise ValueError(f"{name} in the JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def scan_cli(tiny_weights):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    def run(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
        e = {k: v for k, v in os.environ.items() if k != "DFDEMO_WEIGHTS"}
        e.update(PYTHONPATH=str(ROOT), **(env or {}))
        return subprocess.run([sys.executable, "-m", "dfdemo", "scan", "--weights", str(tiny_weights), *map(str, args)],
                              cwd=cwd, env=e, capture_output=True, text=True, timeout=300)
    return run


def test_25_4_output_paths_are_checked_before_the_work(scan_cli, photo, tmp_path):
    """Before: a FileNotFoundError / IsADirectoryError / NotADirectoryError traceback after all the
    work, exit 1, every report lost."""
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cases = {tmp_path / "missing" / "o.json": f"--json {tmp_path / 'missing' / 'o.json'}: the folder "
                                              f"{tmp_path / 'missing'} does not exist",
             tmp_path: f"--json {tmp_path}: is a folder; name a file in it (e.g. {tmp_path / 'reports.json'})",
             blocker / "o.json": f"--json {blocker / 'o.json'}: the folder {blocker} does not exist"}
    for out, line in cases.items():
        run = scan_cli(photo, "--json", out)
        assert (run.returncode, run.stdout, run.stderr.splitlines()) == (2, "", [f"error: {line}"])
    run = scan_cli(photo, "--heatmaps", blocker / "D")
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.splitlines() == [f"error: --heatmaps {blocker / 'D'}: cannot make the folder (not a directory)"]


def test_25_4_reports_that_cannot_be_written_at_the_end_go_to_a_named_fallback(scan_cli, photo, tmp_path):
    """/dev/full passes every check and fails on writing (no space left): the reports land in a
    named file and the exit status says so. Before: an OSError traceback, the reports lost."""
    run = scan_cli(photo, "--json", "/dev/full", env={"TMPDIR": str(tmp_path)})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith("error: cannot write /dev/full (no space left on device); the reports are in ")
    fallback = Path(line.rsplit(" ", 1)[1])
    assert fallback.parent == tmp_path
    (r,) = _strict_json(fallback.read_text())
    assert r["file"] == str(photo) and r["faces"]


def test_25_4_numbers_are_range_checked_and_capped(scan_cli, photo, tmp_path):
    """Before: --threshold nan / inf / -1 / 2 were used (NaN written into the JSON), --frames
    1000000 and --heatmaps-k 1000 ran unbounded, '-' was "file not found"."""
    for bad in ("nan", "inf", "-1", "2"):
        run = scan_cli(photo, "--threshold", bad)
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr.splitlines()[-1].endswith(f"error: --threshold must be a number from 0 to 1, not {float(bad)}")
    from conftest import astronaut
    from mediakit import write_video

    clip = write_video(tmp_path / "long_enough.mp4", [astronaut()[::4, ::4]] * 150)
    run = scan_cli(clip, "-", "--frames", "1000000", "--heatmaps-k", "1000", "--heatmaps", tmp_path / "D",
                   "--threshold", "0.5", "--json", "-")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [
        "note: --frames 1000000 is more than the 128 this command analyses (memory grows with it); 128 used",
        "note: --heatmaps-k 1000 is more than the 16 this command analyses (memory grows with it); 16 used",
        "error: -: scan reads files, not standard input; name the file (scan clip.mp4), or save the stream to a file first"]
    (r,) = _strict_json(run.stdout)
    assert r["frames_analyzed"] == 128 and r["threshold"] == 0.5 and 1 <= len(r["heatmaps"]) <= 16


def test_25_4_the_page_refuses_a_threshold_that_is_not_a_number(monkeypatch, tiny_weights, web_apps):
    """The page's event takes raw JSON: NaN, infinity or a string as its threshold or frames.
    Before: a NaN threshold was used (every face "uncertain"), a NaN frame count a traceback."""
    import gradio as gr

    web = _webapp(monkeypatch, tiny_weights, web_apps)
    assert web.page_settings(8, 2, 10, False, 0.4, False).threshold == 0.4
    assert web.page_settings(8, 2, 10, True, float("nan"), False).threshold is None  # calibrated: the slider is not read
    for args, line in (((8, 2, 10, False, float("nan"), False), "The threshold must be a number from 0 to 1, not nan."),
                       ((8, 2, 10, False, float("inf"), False), "The threshold must be a number from 0 to 1, not inf."),
                       ((float("nan"), 2, 10, True, 0.5, False), "Frames must be a number from 1 to 64, not nan."),
                       ((8, "many", 10, True, 0.5, False), "Heatmaps must be a number from 0 to 12, not 'many'."),
                       ((8, 2, 0, True, 0.5, False), "Faces to analyse must be a number from 1 to 50, not 0.")):
        with pytest.raises(gr.Error) as e:
            web.page_settings(*args)
        assert e.value.message == line
    from dfdemo import DfdemoError

    with pytest.raises(DfdemoError, match="the threshold must be a number from 0 to 1, not nan"):
        Settings(threshold=float("nan"))  # the library refuses it too (the API, other callers)


# ---------------------------------------------------------------- 25.6 faces checked before they are scored
def test_25_6_a_face_too_small_to_judge_is_not_scored_and_said(analyzer, tmp_path):
    """A 14 px face (the astronaut at 15 %, found with a score of 0.94) on a 320x240 grey frame.
    Before: scored like any face (a 13 px "face" on digits got "some signs")."""
    import cv2

    from conftest import astronaut
    from mediakit import paste

    tiny = paste((240, 320), cv2.resize(astronaut(), None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA), (0, 0))
    assert [d.size for d in analyzer.faces.detect(tiny)] == pytest.approx([14], abs=3), "the small face is no longer found"
    p = tmp_path / "tiny.png"
    cv2.imwrite(str(p), cv2.cvtColor(tiny, cv2.COLOR_RGB2BGR))
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert r.verdict == "no_face" and r.faces == []
    assert r.notes == ["1 face detection(s) under 16 px or 1% of the frame's longest side were not scored (too small to "
                       "judge; most likely not faces)"]


def test_25_6_an_upside_down_clip_scores_no_phantom_face_and_says_to_turn_it(analyzer, tmp_path):
    """The astronaut upside down: BlazeFace finds her face weakly and a second, phantom face of
    246 px on her suit (both 0.69). Before: two faces scored. Turned over, her face is clear."""
    from conftest import astronaut
    from mediakit import write_video

    flipped = astronaut()[::-1].copy()
    assert len(analyzer.faces.detect(flipped)) == 2, "the phantom face this test needs is no longer found"
    clip = write_video(tmp_path / "upside_down.mp4", [flipped] * 10)
    r = analyzer.analyze(clip, Settings(frames=4, heatmaps=0)).report
    assert r.verdict == "no_face" and r.faces == []
    assert r.notes == ["8 weak face detection(s) were not scored: the picture seems upside down (a face is found clearly "
                       "only when it is turned over); turn it upright and analyse it again"]
    upright = analyzer.analyze(write_video(tmp_path / "upright.mp4", [astronaut()] * 10), Settings(frames=4, heatmaps=0)).report
    assert len(upright.faces) == 1 and upright.notes == []


def test_25_6_a_shrunk_panorama_says_so(analyzer, tmp_path):
    """20000x300 is shrunk to 4096x61 before faces are searched. Before: "no face", not a word."""
    import cv2
    import numpy as np

    pano = np.full((300, 20000, 3), 110, np.uint8)
    p = tmp_path / "panorama.png"
    cv2.imwrite(str(p), pano)
    r = analyzer.analyze(p, Settings(heatmaps=0)).report
    assert (r.media["width"], r.media["height"]) == (4096, 61) and r.verdict == "no_face"
    assert r.notes == ["the picture is 20000x300 pixels: it was shrunk to 4096x61 to be analysed, so faces smaller than "
                       "78 px in the original may be missed; crop it to the faces for a closer look"]
