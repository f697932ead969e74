"""Media the tests write themselves with PyAV (FFmpeg's libraries, from requirements-dev.txt):
what OpenCV's VideoWriter cannot make — rotation metadata, per-frame time stamps (variable
frame rate), audio-only files, a 0-frame stream, fast-start mp4s, two video streams, a header
that lies about the duration — plus frame stamps that
tell which frame a decoder returned, and the check that a report has every field it must."""
from __future__ import annotations

import fractions
import struct
from pathlib import Path

import av
import cv2
import numpy as np

STAMP_BITS = 14
STAMP_CELL = 8  # px per bit: survives lossy compression


def stamp(rgb: np.ndarray, k: int) -> np.ndarray:
    """Write the number ``k`` as black/white cells along the top-left edge of a copy of ``rgb``."""
    out = rgb.copy()
    for b in range(STAMP_BITS):
        out[:STAMP_CELL, b * STAMP_CELL : (b + 1) * STAMP_CELL] = 255 if (k >> b) & 1 else 0
    return out


def read_stamp(rgb: np.ndarray) -> int:
    """The number written by ``stamp`` (after decoding)."""
    c = STAMP_CELL
    return sum(1 << b for b in range(STAMP_BITS) if rgb[2 : c - 2, b * c + 2 : (b + 1) * c - 2].mean() > 127)


def write_video(path: Path, frames, fps: int = 25, rotation: int | None = None, pts_ms: list[int] | None = None,
                faststart: bool = False, gop: int = 12, size: tuple[int, int] | None = None) -> Path:
    """Encode RGB uint8 frames (an iterable) as MPEG-4 Part 2 in an mp4.

    ``rotation``: display rotation in degrees counter-clockwise, as FFmpeg's display matrix
    (a phone that filmed portrait writes -90 or 90). ``pts_ms``: one presentation time per
    frame, for variable frame rate. ``size`` (w, h) is needed only when ``frames`` is empty.
    """
    frames = iter(frames)
    first = next(frames, None)
    w, h = size if first is None else (first.shape[1], first.shape[0])
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as out:
        s = out.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.gop_size = gop
        s.codec_context.bit_rate = 2_000_000
        if rotation is not None:
            s.set_display_rotation(rotation)
        if pts_ms is not None:
            s.codec_context.time_base = fractions.Fraction(1, 1000)
        out.start_encoding()
        if first is None:  # a header and an empty video stream
            return path
        for i, f in enumerate(_chain(first, frames)):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if pts_ms is not None:
                vf.pts, vf.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            out.mux(s.encode(vf))
        out.mux(s.encode())
    return path


def _chain(first, rest):
    yield first
    yield from rest


def write_audio_only(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """An mp4 holding a single AAC audio stream (a 440 Hz tone) and no video."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        out.mux(a.encode(frame))
        out.mux(a.encode())
    return path


def write_two_streams(path: Path, first: list[np.ndarray], second: list[np.ndarray], fps: int = 25) -> Path:
    """An mp4 with two video streams (MPEG-4 Part 2), frames interleaved: ``first`` is stream 0."""
    with av.open(str(path), "w") as out:
        streams = []
        for frames in (first, second):
            s = out.add_stream("mpeg4", rate=fps)
            s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            streams.append(s)
        for a, b in zip(first, second):
            for s, f in zip(streams, (a, b)):
                out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        for s in streams:
            out.mux(s.encode())
    return path


def write_mkv_claiming(path: Path, frames: list[np.ndarray], claimed_s: float, fps: int = 25) -> Path:
    """A Matroska file whose header states ``claimed_s`` seconds whatever the frames last:
    written by PyAV, then the Segment's Duration element (ms, a float) is overwritten."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(s.encode())
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")  # Duration: id 0x4489, a one-byte size (0x88 or 0x84), the float
    assert at > 0 and data[at + 2] in (0x84, 0x88), "no Duration element where PyAV writes it"
    fmt = ">d" if data[at + 2] == 0x88 else ">f"
    data[at + 3 : at + 3 + struct.calcsize(fmt)] = struct.pack(fmt, claimed_s * 1000)
    path.write_bytes(bytes(data))
    return path


def paste(canvas_hw: tuple[int, int], img: np.ndarray, xy: tuple[int, int], grey: int = 60) -> np.ndarray:
    """``img`` pasted at ``xy`` (top-left) on a grey canvas of (height, width)."""
    h, w = canvas_hw
    canvas = np.full((h, w, 3), grey, np.uint8)
    x, y = xy
    part = img[: h - y, : w - x]
    canvas[y : y + part.shape[0], x : x + part.shape[1]] = part
    return canvas


def scale_box(box, s: float, offset=(0, 0)) -> tuple[float, float, float, float]:
    ox, oy = offset
    return (box[0] * s + ox, box[1] * s + oy, box[2] * s + ox, box[3] * s + oy)


def face_grid(face: np.ndarray, n: int = 20, cols: int = 5, cell: int = 128, gap: int = 32) -> tuple[np.ndarray, list]:
    """``n`` copies of a face crop in a grid on grey; returns the frame and each cell's box."""
    rows = -(-n // cols)
    f = cv2.resize(face, (cell, cell), interpolation=cv2.INTER_AREA)
    canvas = np.full((gap + rows * (cell + gap), gap + cols * (cell + gap), 3), 60, np.uint8)
    boxes = []
    for i in range(n):
        r, q = divmod(i, cols)
        x0, y0 = gap + q * (cell + gap), gap + r * (cell + gap)
        canvas[y0 : y0 + cell, x0 : x0 + cell] = f
        boxes.append((x0, y0, x0 + cell, y0 + cell))
    return canvas, boxes


REPORT_FIELDS = {"file", "kind", "verdict", "fake_probability", "frames_analyzed", "faces", "timings_s", "model"}
FACE_FIELDS = {"track_id", "fake_probability", "frames"}
FRAME_FIELDS = {"index", "time_s", "box", "fake_probability"}


def assert_complete_report(r: dict, kind: str | None = None) -> None:
    """The minimum JSON of issue 2, with values that make sense (not just keys)."""
    assert REPORT_FIELDS <= set(r), REPORT_FIELDS - set(r)
    assert r["kind"] in ("video", "image") and (kind is None or r["kind"] == kind)
    assert r["verdict"] in ("fake", "real", "uncertain", "no_face")
    assert r["model"], "the report must name the model"
    assert r["frames_analyzed"] >= 1
    assert r["timings_s"]["total"] > 0 and all(v >= 0 for v in r["timings_s"].values())
    if r["verdict"] == "no_face":
        assert r["fake_probability"] is None and r["faces"] == []
        return
    assert 0.0 <= r["fake_probability"] <= 1.0
    assert r["faces"], "a verdict other than no_face needs a face"
    assert r["fake_probability"] == max(f["fake_probability"] for f in r["faces"])
    assert sorted(f["track_id"] for f in r["faces"]) == list(range(len(r["faces"])))
    for f in r["faces"]:
        assert FACE_FIELDS <= set(f) and f["frames"]
        assert 0.0 <= f["fake_probability"] <= 1.0
        for fr in f["frames"]:
            assert FRAME_FIELDS <= set(fr)
            assert 0 <= fr["index"] and fr["time_s"] >= 0 and 0.0 <= fr["fake_probability"] <= 1.0
            x0, y0, x1, y1 = fr["box"]
            assert 0 <= x0 < x1 <= r["media"]["width"] + 1 and 0 <= y0 < y1 <= r["media"]["height"] + 1
