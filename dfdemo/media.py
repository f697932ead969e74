"""Media stage: probe a file and sample frames from it. OpenCV only.

Frames leave this module as RGB ``uint8`` arrays of shape (H, W, 3). A video is never held
in memory whole: ``sample_frames`` yields one frame at a time, seeking where the sampled
frames are far apart and grabbing sequentially where they are close. FFmpeg's console log is
silenced where the process starts (``dfdemo.runtime``), not here. ``read_ahead`` decodes the
next sampled frame on a thread while the caller works on this one; ``write_png`` writes an image.
"""
from __future__ import annotations

import os
import queue
import stat
import threading
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TypeVar

import cv2
import numpy as np

from .errors import DfdemoError, MediaError

T = TypeVar("T")

# What a file is comes from its bytes, never its name; these name what the upload box offers and
# what the CLI recognises as a media file (and what a video's "not really .EXT" message names).
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg", ".ts", ".3gp", ".flv", ".wmv",
                    ".asf", ".ogv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".avif", ".heic")
# Larger images are refused from their header, before any pixel is decoded. JPEGs are decoded
# at 1/2, 1/4 or 1/8 size (DCT scaling), so they may be larger than the formats decoded whole.
MAX_JPEG_PIXELS = 16_000 * 16_000
MAX_IMAGE_PIXELS = 50_000_000  # PNG, WebP, BMP: decoded at full size (3 bytes a pixel)
MAX_IMAGE_BYTES = 256 * 2**20  # larger image files are refused before they are read
MAX_SIDE = 4096  # larger images and frames are downscaled to this longest side
SEEK_GAP = 24  # sampled frames further apart than this are reached by seeking
MIN_BYTES_PER_S = 4000  # a video file smaller than this per second of its stated duration is checked
HEAD_BYTES = 4096  # read to tell what a file is
# how the image formats begin: (first bytes, name); WebP is RIFF, 4 bytes of size, WEBP; AVIF and
# HEIC are ISO-BMFF files whose ftyp brand says so (``_sniff``)
IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"BM", "BMP"), (b"II*\x00", "TIFF"),
               (b"MM\x00*", "TIFF"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))
AVIF_BRANDS = (b"avif", b"avis")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
# containers found from their first bytes: (first bytes, name); the MPEG streams have no index, so
# their frames are counted and reached by decoding in order (``MediaInfo.seekable``)
CONTAINER_MAGIC = ((b"\x1a\x45\xdf\xa3", "a Matroska/WebM container"), (b"FLV", "an FLV container"),
                   (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "an ASF/WMV container"), (b"OggS", "an Ogg container"),
                   (b"\x00\x00\x01\xba", "an MPEG program stream"), (b"\x00\x00\x01\xb3", "an MPEG video stream"))
SEQUENTIAL = ("an MPEG program stream", "an MPEG video stream", "an MPEG transport stream")
OTHER_MAGIC = ((b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
               (b"ID3", "MP3 audio"), (b"\xff\xfb", "MP3 audio"), (b"fLaC", "FLAC audio"), (b"\x7fELF", "a program"),
               (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"))


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
    seekable: bool = True  # False: frames are reached by decoding in order (MPEG streams, no index)
    notes: tuple[str, ...] = ()  # what the analysis must say about the file (a stream left out, a false header)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # a photo, decoded once by ``probe``


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``rgb`` is (H, W, 3) uint8 RGB, upright (rotation metadata applied)."""

    index: int
    time_s: float
    rgb: np.ndarray
    next_rgb: np.ndarray | None = None  # the frame right after, when asked for (``sample_frames(next_every=...)``)


@dataclass(frozen=True)
class Sniffed:
    """What a file's first bytes say it is: ``kind`` "image", "video" (a known container),
    "other" (known, not media: text, audio, a document; never handed to a decoder, so a playlist
    or a concat script cannot make FFmpeg open other files) or None (unknown: the video decoders
    decide), and ``found``, its name for messages."""

    kind: str | None
    found: str


def sniff(head: bytes) -> Sniffed:
    """Tell an image or a video container from the first bytes of a file (the name plays no part)."""
    for magic, name in IMAGE_MAGIC:
        if head.startswith(magic):
            return Sniffed("image", f"a {name} image")
    if head.startswith(b"RIFF"):
        kind = head[8:12]
        if kind == b"WEBP":
            return Sniffed("image", "a WebP image")
        if kind == b"AVI ":
            return Sniffed("video", "an AVI container")
        return Sniffed("other", "WAV audio" if kind == b"WAVE" else f"a RIFF file ({kind.decode('latin-1')!r})")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in AVIF_BRANDS:
            return Sniffed("image", "an AVIF image")
        if brand in HEIF_BRANDS:
            return Sniffed("image", "a HEIC/HEIF image")
        return Sniffed("video", f"an MP4/MOV container (brand {brand.decode('latin-1').strip()!r})")
    if head[4:8] in (b"moov", b"mdat", b"free", b"wide", b"skip"):
        return Sniffed("video", "an MP4/MOV container")
    for magic, name in CONTAINER_MAGIC:
        if head.startswith(magic):
            return Sniffed("video", name)
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # a sync byte every 188-byte packet
        return Sniffed("video", "an MPEG transport stream")
    for magic, name in OTHER_MAGIC:
        if head.startswith(magic):
            return Sniffed("other", name)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.strip() and all(c.isprintable() or c in "\r\n\t" for c in text.rstrip("\x00")):
        return Sniffed("other", "text")
    return Sniffed(None, f"unknown data (first bytes {head[:8].hex(' ')})")


def _head(path: str | os.PathLike, n: int = HEAD_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise MediaError(f"{path}: cannot be read ({(e.strerror or str(e)).lower()})") from None


def _check_file(path: str | os.PathLike) -> int:
    """The file's size in bytes; MediaError for a missing, unreadable, special or empty file."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise MediaError(f"{path}: file not found") from None
    except OSError as e:  # a name too long, no permission, a loop of links
        raise MediaError(f"{path}: cannot be read ({(e.strerror or str(e)).lower()})") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(f"{path}: not a file")
    if st.st_size == 0:
        raise MediaError(f"{path}: the file is empty")
    return st.st_size


def _limit_size(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    """A decoded OpenCV image as RGB, downscaled first (less memory) to at most MAX_SIDE."""
    return cv2.cvtColor(_limit_size(bgr), cv2.COLOR_BGR2RGB)


def _image_size(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(width, height, frames) from the file header without decoding the pixels, or None if
    unknown; frames > 1 for an animated WebP or PNG.

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
                return (*im.size, int(getattr(im, "n_frames", 1) or 1))
    except Image.DecompressionBombError:  # over twice Pillow's limit: no size is given
        raise MediaError(f"{path}: image is too large (over {2 * Image.MAX_IMAGE_PIXELS // 10**6} MP); "
                         "downscale it first") from None
    except Exception:  # Pillow cannot parse it: let OpenCV decide
        return None


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as upright RGB uint8 (EXIF orientation applied, alpha dropped, grey and
    16-bit converted), downscaled to ``MAX_SIDE``; too large images raise MediaError.
    Only the first frame of an animated image is read."""
    nbytes = _check_file(path)
    found = sniff(_head(path))  # the first bytes say whether it is an image at all
    not_readable = MediaError(f"{path}: not a readable image (corrupt or not really {Path(path).suffix or 'an image'})")
    if found.kind != "image":
        raise not_readable
    if nbytes > MAX_IMAGE_BYTES:
        raise MediaError(f"{path}: image file is too large ({nbytes / 2**20:.0f} MB, over the "
                         f"{MAX_IMAGE_BYTES // 2**20} MB limit); downscale or compress it first")
    size = _image_size(path)
    flags = cv2.IMREAD_COLOR
    if size is not None:
        w, h, _ = size
        jpeg = found.found == "a JPEG image"
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
    if (bgr is None or bgr.size == 0) and found.found == "a HEIC/HEIF image":
        raise MediaError(f"{path}: a HEIC/HEIF image, which this server cannot decode; convert it to JPEG or PNG") from None
    if bgr is None or bgr.size == 0:
        raise not_readable
    return _to_rgb(bgr)


def _not_a_video(path: str | os.PathLike, found: Sniffed | None = None) -> MediaError:
    """The one line for a file no video decoder reads: named after its extension where it has a
    video's, else after what its bytes are."""
    ext = Path(path).suffix.lower()
    if found is None or ext in VIDEO_EXTENSIONS:
        return MediaError(f"{path}: not a readable video (corrupt, truncated, audio only, no frames or not really "
                          f"{Path(path).suffix or 'a video'})")
    what = f"{found.found} that does not decode (corrupt, truncated or audio only)" if found.kind == "video" else found.found
    return MediaError(f"{path}: not a video or a photo that can be read (found {what}); use a video (MP4, MOV, WebM, MKV, "
                      "AVI, MPEG, ...) or a photo (JPEG, PNG, WebP, ...)")


def _open_video(path: str | os.PathLike, found: Sniffed | None = None) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise _not_a_video(path, found)
    return cap


def probe(path: str | os.PathLike, check_beyond_s: float | None = None) -> MediaInfo:
    """Describe a video or image. Raises MediaError for anything that cannot be analysed.

    A video's stated length is checked against what decodes (one seek) where it is longer than
    ``check_beyond_s`` or the file is implausibly small for it: a header that claims more than
    the stream holds is replaced by what decodes, and ``notes`` says so.
    """
    nbytes = _check_file(path)
    found = sniff(_head(path))
    if found.kind == "image":
        rgb = load_image(path)
        width, height, frames = _image_size(path) or (rgb.shape[1], rgb.shape[0], 1)
        notes = (f"an animated image ({frames} frames): only its first frame was analysed",) if frames > 1 else ()
        if max(width, height) > MAX_SIDE:
            notes += (_shrunk(width, height, rgb.shape[1], rgb.shape[0]),)
        return MediaInfo(str(path), "image", rgb.shape[1], rgb.shape[0], 0.0, 1, 0.0, notes=notes, image=rgb)
    if found.kind == "other":
        raise _not_a_video(path, found)
    tracks = _video_tracks(path)
    cap = _open_video(path, found)
    seekable = found.found not in SEQUENTIAL
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        ok, bgr = cap.read()
        if not ok or bgr is None:
            if found.kind is None:
                raise _not_a_video(path, found)
            raise MediaError(f"{path}: the video has no readable frames (audio only, empty or broken)")
        h, w = bgr.shape[:2]
        notes = []
        if w > MAX_SIDE or h > MAX_SIDE:
            s = MAX_SIDE / max(w, h)
            notes.append(_shrunk(w, h, round(w * s), round(h * s)))
            w, h = round(w * s), round(h * s)
        if fps <= 0 or not np.isfinite(fps) or fps > 1000:
            fps = 25.0  # unknown rate: time stamps are then approximate
        count = max(count, 1)
        if not seekable:  # no index: the header's count is an estimate, and joined segments fool it
            limit = int(check_beyond_s * fps) + 2 if check_beyond_s else None
            real = _count_in_order(cap, limit)
            if abs(real - count) > max(fps, 0.1 * count) and (limit is None or real < limit):
                said = "but only" if real < count else "but"
                notes.append(f"the file's header says the video lasts {count / fps:.1f} s, {said} {real / fps:.1f} s "
                             f"decode ({real} frames): frames were sampled over all that decodes")
            count = real
        elif count > 1 and ((check_beyond_s and count / fps > check_beyond_s) or nbytes < MIN_BYTES_PER_S * count / fps):
            # a frame at the limit (or the stated end) settles it; else find the real end
            probe_at = min(count, int(check_beyond_s * fps) + 1) if check_beyond_s and count / fps > check_beyond_s else count
            if not _has_frame(cap, probe_at - 1):
                real = _decodable_count(cap, probe_at - 1)
                notes.append(f"the file's header says the video lasts {count / fps:.0f} s, but only {real / fps:.1f} s "
                             "could be decoded: that part was analysed")
                count = real
    finally:
        cap.release()
    if len(tracks) > 1:
        tw, th = tracks[0]
        notes.append(f"the file holds {len(tracks)} video streams; only the first ({tw}x{th}) was analysed")
    return MediaInfo(str(path), "video", w, h, fps, count, count / fps, rotation, seekable, tuple(notes))


def _count_in_order(cap: cv2.VideoCapture, limit: int | None) -> int:
    """Frames in a stream without an index, the first one already read: counted by decoding in
    order (its time stamps may jump back, so seeking cannot be trusted), up to ``limit``."""
    n = 1
    while (limit is None or n < limit) and cap.grab():
        n += 1
    return n


def _shrunk(w: int, h: int, to_w: int, to_h: int) -> str:
    return (f"the picture is {w}x{h} pixels: it was shrunk to {to_w}x{to_h} to be analysed, so faces smaller than "
            f"{max(1, round(16 * max(w, h) / MAX_SIDE))} px in the original may be missed; crop it to the faces for a closer look")


def _has_frame(cap: cv2.VideoCapture, index: int) -> bool:
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    return bool(cap.grab())


def _decodable_count(cap: cv2.VideoCapture, bad: int) -> int:
    """How many frames decode, frame 0 decoding and frame ``bad`` not (binary search by seeking)."""
    good = 0
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if _has_frame(cap, mid) else (good, mid)
    return good + 1


# ---------------------------------------------------------------- video streams in the container
# OpenCV decodes the first video stream of a file and cannot be told another; these read the
# container's track list (MP4/MOV, Matroska/WebM) so that a file with several can be named.
def _video_tracks(path: str | os.PathLike) -> list[tuple[int, int]]:
    """(width, height) of each video track in an MP4/MOV or Matroska/WebM file, in file order
    (the order OpenCV picks from); [] for other containers or an unreadable header."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            size = f.seek(0, os.SEEK_END)
            if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return _mp4_tracks(f, size)
            if head.startswith(b"\x1a\x45\xdf\xa3"):
                return _mkv_tracks(f, size)
    except (OSError, ValueError, struct.error):
        pass
    return []


def _mp4_boxes(f, start: int, end: int):
    """(type, payload start, end) of the ISO-BMFF boxes between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < head:
            return
        yield kind, pos + head, min(pos + size, end)
        pos += size


def _mp4_tracks(f, size: int) -> list[tuple[int, int]]:
    out = []
    for kind, a, b in _mp4_boxes(f, 0, size):
        if kind != b"moov":
            continue
        for trak, ta, tb in _mp4_boxes(f, a, b):
            if trak != b"trak":
                continue
            boxes = {k: (x, y) for k, x, y in _mp4_boxes(f, ta, tb)}
            mdia = {k: (x, y) for k, x, y in _mp4_boxes(f, *boxes.get(b"mdia", (0, 0)))}
            if b"hdlr" not in mdia or b"tkhd" not in boxes:
                continue
            f.seek(mdia[b"hdlr"][0] + 8)  # version and flags, pre_defined, then the handler type
            if f.read(4) == b"vide":
                f.seek(boxes[b"tkhd"][1] - 8)  # tkhd ends with width and height, 16.16 fixed point
                w, h = struct.unpack(">II", f.read(8))
                out.append((w >> 16, h >> 16))
    return out


def _ebml(f, start: int, end: int):
    """(id, payload start, end) of the EBML elements between ``start`` and ``end``."""
    pos = start
    while pos < end:
        f.seek(pos)
        head = f.read(12)
        if len(head) < 2:
            return
        n = 9 - head[0].bit_length()  # the length of a variable-size integer is in its first byte
        m = 9 - head[n].bit_length() if n < len(head) else 0
        if not (1 <= n <= 4 and 1 <= m <= 8) or len(head) < n + m:
            return
        eid = int.from_bytes(head[:n], "big")
        size = int.from_bytes(head[n:n + m], "big") & ((1 << 7 * m) - 1)
        body = pos + n + m
        stop = end if size == (1 << 7 * m) - 1 else min(body + size, end)  # all ones: unknown size
        yield eid, body, stop
        pos = stop


def _mkv_tracks(f, size: int) -> list[tuple[int, int]]:
    def uint(a: int, b: int) -> int:
        f.seek(a)
        return int.from_bytes(f.read(min(b - a, 8)), "big")

    out = []
    for eid, a, b in _ebml(f, 0, size):
        if eid != 0x18538067:  # Segment
            continue
        for sid, sa, sb in _ebml(f, a, b):
            if sid == 0x1F43B675:  # the first Cluster: the track list is before it
                return out
            if sid != 0x1654AE6B:  # Tracks
                continue
            for tid, ta, tb in _ebml(f, sa, sb):
                fields = {k: (x, y) for k, x, y in _ebml(f, ta, tb)} if tid == 0xAE else {}  # TrackEntry
                if 0x83 in fields and uint(*fields[0x83]) == 1:  # TrackType 1: video
                    video = {k: (x, y) for k, x, y in _ebml(f, *fields.get(0xE0, (0, 0)))}
                    out.append((uint(*video[0xB0]) if 0xB0 in video else 0, uint(*video[0xBA]) if 0xBA in video else 0))
    return out


def _frame_time(cap: cv2.VideoCapture, index: int, info: MediaInfo) -> float:
    """Time stamp of the frame just read: its own presentation time (right for variable frame
    rate), or ``index / fps`` where the container gives none or a stream's may jump back."""
    fps = info.fps
    if not info.seekable:
        return index / fps
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


def _advance(cap: cv2.VideoCapture, pos: int, target: int, seek: bool = True) -> tuple[int, bool]:
    """Make frame ``target`` the next one the decoder returns, ``pos`` being the next one now:
    seek when it is far (or behind), else grab the frames in between (cheaper than a seek).
    Without ``seek`` (a stream without an index) always grab, and going back starts over.
    Returns the new position and whether the stream still had frames."""
    if not seek and target < pos:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        pos = 0
    elif target - pos > SEEK_GAP or target < pos:
        cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        return target, True
    ok = True
    while pos < target and ok:
        ok = cap.grab()
        pos += 1
    return pos, ok


def sample_frames(path: str | os.PathLike, n: int, info: MediaInfo | None = None, next_every: int = 0) -> Iterator[Frame]:
    """Yield up to ``n`` evenly spaced frames, one at a time (never the whole video).

    Images yield one frame. Frames that cannot be decoded (a truncated tail) are skipped;
    if none can be decoded MediaError is raised. ``next_every`` (> 0): every ``next_every``-th
    video frame yielded (the 0th, the Nth, ...) also carries the frame right after it
    (``Frame.next_rgb``; None after the last one and on the others), for how the mouth changes
    from one frame to the next.
    """
    info = info or probe(path)
    if info.kind == "image":
        yield Frame(0, 0.0, info.image if info.image is not None else load_image(path))
        return
    wanted = sample_indices(info.frame_count, n)
    cap = _open_video(path)
    yielded = 0
    try:
        pos = 0  # index of the next frame the decoder returns
        for idx in wanted:
            pos, ok = _advance(cap, pos, idx, info.seekable)
            if not ok:
                break
            ok, bgr = cap.read()
            pos += 1
            if not ok or bgr is None:
                break  # frame count in the header was larger than the stream
            t, nxt = _frame_time(cap, idx, info), None  # the time of the frame just read, before the next is
            if next_every and yielded % next_every == 0:
                ok, after = cap.read()
                pos += 1
                nxt = _to_rgb(after) if ok and after is not None else None
            yielded += 1
            yield Frame(idx, t, _to_rgb(bgr), nxt)
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
            pos, ok = _advance(cap, pos, start, info.seekable)
            frames: list[Frame] = []
            while ok and len(frames) < length:
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                frames.append(Frame(pos, _frame_time(cap, pos, info), _to_rgb(bgr)))
                pos += 1
            yield frames
    finally:
        cap.release()


def read_consecutive(path: str | os.PathLike, start: int, count: int) -> list[Frame]:
    """Decode ``count`` consecutive frames from ``start`` (fewer at the end of the stream)."""
    return next(read_windows(path, [start], count))


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield from ``items`` while a thread produces the next ``depth`` of them.

    Frame decoding (FFmpeg) and face detection (LiteRT) both release the GIL, so the next
    sampled frame is decoded while this one is searched for faces. At most ``depth`` items
    wait in memory; an error of the reader is raised here; stopping early stops the reader.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def read() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, end))
        except BaseException as e:  # handed to the consumer, raised there
            put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator releases its file here, in the thread that ran it

    reader = threading.Thread(target=read, name="dfdemo-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        reader.join()


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG; a DfdemoError that names the file where it cannot be written."""
    try:
        ok = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:  # OpenCV returns False (no exception) for a folder it cannot write to
        raise DfdemoError(f"{Path(path).parent}: cannot write the heatmap image {Path(path).name} there")
