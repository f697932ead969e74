"""Media stage: probe a file and sample frames from it. OpenCV only.

Frames leave this module as RGB ``uint8`` arrays of shape (H, W, 3). A video is never held
in memory whole: ``sample_frames`` yields one frame at a time, seeking where the sampled
frames are far apart and grabbing sequentially where they are close.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# FFmpeg (inside OpenCV) prints demuxer errors such as "moov atom not found" straight to
# stderr; dfdemo reports a broken file itself, in one line. OpenCV reads this on first use.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import MediaError  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
JPEG_EXTENSIONS = (".jpg", ".jpeg")
# Larger images are refused from their header, before any pixel is decoded. JPEGs are decoded
# at 1/2, 1/4 or 1/8 size (DCT scaling), so they may be larger than the formats decoded whole.
MAX_JPEG_PIXELS = 16_000 * 16_000
MAX_IMAGE_PIXELS = 50_000_000  # PNG, WebP, BMP: decoded at full size (3 bytes a pixel)
MAX_SIDE = 4096  # larger images and frames are downscaled to this longest side
SEEK_GAP = 24  # sampled frames further apart than this are reached by seeking


@dataclass(frozen=True)
class MediaInfo:
    path: str
    kind: str  # "video" or "image"
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation: int = 0


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``rgb`` is (H, W, 3) uint8 RGB, upright (rotation metadata applied)."""

    index: int
    time_s: float
    rgb: np.ndarray


def media_kind(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    raise MediaError(
        f"{path}: unsupported file type {ext or '(none)'}; use a video "
        f"({', '.join(VIDEO_EXTENSIONS)}) or an image ({', '.join(IMAGE_EXTENSIONS)})"
    )


def _check_file(path: str | os.PathLike) -> None:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{path}: file not found")
    if not p.is_file():
        raise MediaError(f"{path}: not a file")
    if p.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty")


def _limit_size(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    """A decoded OpenCV image as RGB, downscaled first (less memory) to at most MAX_SIDE."""
    return cv2.cvtColor(_limit_size(bgr), cv2.COLOR_BGR2RGB)


def _image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the file header without decoding the pixels, or None if unknown.

    Pillow's own decompression-bomb guard warns (on stderr) above 89 MP and raises above
    179 MP; here only the header is read, and the size limits are dfdemo's.
    """
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:  # over twice Pillow's limit: no size is given
        raise MediaError(f"{path}: image is too large (over {2 * Image.MAX_IMAGE_PIXELS // 10**6} MP); "
                         "downscale it first") from None
    except Exception:  # Pillow cannot parse it: let OpenCV decide
        return None


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as upright RGB uint8 (EXIF orientation applied, alpha dropped, grey and
    16-bit converted), downscaled to ``MAX_SIDE``; too large images raise MediaError."""
    _check_file(path)
    size = _image_size(path)
    flags = cv2.IMREAD_COLOR
    if size is not None:
        w, h = size
        jpeg = Path(path).suffix.lower() in JPEG_EXTENSIONS
        limit = MAX_JPEG_PIXELS if jpeg else MAX_IMAGE_PIXELS
        if w * h > limit:
            raise MediaError(f"{path}: image is too large ({w}x{h} pixels, over the {limit // 10**6} MP limit"
                             f"{'' if jpeg else ' for PNG/WebP/BMP'}); downscale it first")
        # decode large JPEGs at reduced size instead of full size (bounded memory)
        for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if max(w, h) // factor >= MAX_SIDE:
                flags = flag
                break
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, flags)
    if bgr is None or bgr.size == 0:
        raise MediaError(f"{path}: not a readable image (corrupt or not really {Path(path).suffix})")
    return _to_rgb(bgr)


def _open_video(path: str | os.PathLike) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"{path}: not a readable video (corrupt, truncated, audio only, no frames "
                         f"or not really {Path(path).suffix})")
    return cap


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a video or image. Raises MediaError for anything that cannot be analysed."""
    _check_file(path)
    kind = media_kind(path)
    if kind == "image":
        rgb = load_image(path)
        return MediaInfo(str(path), "image", rgb.shape[1], rgb.shape[0], 0.0, 1, 0.0)
    cap = _open_video(path)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        ok, bgr = cap.read()
        if not ok or bgr is None:
            raise MediaError(f"{path}: the video has no readable frames (audio only, empty or broken)")
        h, w = bgr.shape[:2]
        if w > MAX_SIDE or h > MAX_SIDE:
            s = MAX_SIDE / max(w, h)
            w, h = round(w * s), round(h * s)
    finally:
        cap.release()
    if fps <= 0 or not np.isfinite(fps) or fps > 1000:
        fps = 25.0  # unknown rate: time stamps are then approximate
    count = max(count, 1)
    return MediaInfo(str(path), "video", w, h, fps, count, count / fps, rotation)


def _frame_time(cap: cv2.VideoCapture, index: int, fps: float) -> float:
    """Time stamp of the frame just read: its own presentation time (right for variable frame
    rate), or ``index / fps`` where the container gives none."""
    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    if ms is None or not np.isfinite(ms) or ms < 0 or (ms == 0 and index > 0):
        return index / fps
    return ms / 1000.0


def sample_indices(frame_count: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``frame_count`` frames (each at the centre of its slot)."""
    if frame_count <= 0 or n <= 0:
        return []
    n = min(n, frame_count)
    return sorted({int((i + 0.5) * frame_count / n) for i in range(n)})


def _advance(cap: cv2.VideoCapture, pos: int, target: int) -> tuple[int, bool]:
    """Make frame ``target`` the next one the decoder returns, ``pos`` being the next one now:
    seek when it is far (or behind), else grab the frames in between (cheaper than a seek).
    Returns the new position and whether the stream still had frames."""
    if target - pos > SEEK_GAP or target < pos:
        cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        return target, True
    ok = True
    while pos < target and ok:
        ok = cap.grab()
        pos += 1
    return pos, ok


def sample_frames(path: str | os.PathLike, n: int, info: MediaInfo | None = None) -> Iterator[Frame]:
    """Yield up to ``n`` evenly spaced frames, one at a time (never the whole video).

    Images yield one frame. Frames that cannot be decoded (a truncated tail) are skipped;
    if none can be decoded MediaError is raised.
    """
    info = info or probe(path)
    if info.kind == "image":
        yield Frame(0, 0.0, load_image(path))
        return
    wanted = sample_indices(info.frame_count, n)
    cap = _open_video(path)
    yielded = 0
    try:
        pos = 0  # index of the next frame the decoder returns
        for idx in wanted:
            pos, ok = _advance(cap, pos, idx)
            if not ok:
                break
            ok, bgr = cap.read()
            pos += 1
            if not ok or bgr is None:
                break  # frame count in the header was larger than the stream
            yielded += 1
            yield Frame(idx, _frame_time(cap, idx, info.fps), _to_rgb(bgr))
    finally:
        cap.release()
    if yielded == 0:
        raise MediaError(f"{path}: no frame of the video could be decoded")


def window_starts(frame_count: int, n: int, length: int) -> list[int]:
    """Start indices of up to ``n`` windows of ``length`` consecutive frames, spread evenly over
    ``frame_count`` frames without overlapping; [] when the video is shorter than one window."""
    if length <= 0 or n <= 0 or frame_count < length:
        return []
    n = min(n, frame_count // length)
    return [min(frame_count - length, max(0, int((i + 0.5) * frame_count / n) - length // 2)) for i in range(n)]


def read_windows(path: str | os.PathLike, starts: list[int], length: int, info: MediaInfo | None = None) -> Iterator[list[Frame]]:
    """Yield, for each start (ascending), the ``length`` consecutive frames from it, decoded once
    (one seek per window, then sequential reads). A window cut short by the end of the stream is
    yielded shorter; one window is in memory at a time."""
    info = info or probe(path)
    cap = _open_video(path)
    try:
        pos = 0
        for start in sorted(starts):
            pos, ok = _advance(cap, pos, start)
            frames: list[Frame] = []
            while ok and len(frames) < length:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                frames.append(Frame(pos, _frame_time(cap, pos, info.fps), _to_rgb(bgr)))
                pos += 1
            yield frames
    finally:
        cap.release()


def read_consecutive(path: str | os.PathLike, start: int, count: int) -> list[Frame]:
    """Decode ``count`` consecutive frames from ``start`` (fewer at the end of the stream)."""
    return next(read_windows(path, [start], count))
