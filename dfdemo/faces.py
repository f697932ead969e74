"""Faces stage: BlazeFace detection (MediaPipe Tasks), face tracks, and the square face crop.

No torch here. ``square_crop`` is the one crop function shared by analysis and training, so
the detector sees the same framing in both. Boxes are (x0, y0, x1, y1) in pixels of the frame
given; keypoints are the 6 BlazeFace points (right eye, left eye, nose tip, mouth centre,
right ear, left ear; "right" = the subject's right) as a (6, 2) float array in pixels.
``face_quality`` measures how well a crop can be judged (size, brightness, sharpness, yaw) and
``face_warnings`` says where that makes a score less reliable.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import DfdemoError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights" / "mediapipe"
SHORT_RANGE = "face_detection_short_range.tflite"
FULL_RANGE = "face_detection_full_range_sparse.tflite"
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")
TILE_BELOW = 0.08  # faces smaller than this share of the longest side may hide others: search tiles
TILE_MIN_SCORE = 0.75  # zoomed in, textures pass for faces more often (0.5-0.7 on the astronaut's suit)
TILES_ACROSS = 4  # tile side = longest side / 4: a face of 1/40 of the frame fills a tenth of a tile
# Before a face is scored (``FaceDetector.find``): smaller ones are too small to judge, and at
# that size BlazeFace also finds "faces" in digits and textures
MIN_FACE_PX = 16
MIN_FACE_SHARE = 0.01  # of the frame's longest side
CLEAR_FACE = 0.8  # a detection this sure is taken as a face (cf. ``drop_weak_tracks``)
# A face's quality (``face_quality``) below these makes its scores less reliable (``face_warnings``)
SMALL_FACE_PX = 64
DARK_LUMA = 50
BLURRY_LAPLACIAN = 30.0
TURNED_YAW = 0.35


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what LiteRT's C++ code prints on fd 2 (model loading chatter, a one-off memory
    alignment warning) so that the CLI's stderr carries only dfdemo's own messages."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2) pixels

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


@dataclass
class Track:
    """One face followed over frames: parallel lists of frame positions and detections."""

    track_id: int
    frame_slots: list[int] = field(default_factory=list)  # position in the sampled frame list
    detections: list[Detection] = field(default_factory=list)


@dataclass
class Found:
    """Faces of one frame that may be scored, and how many detections were not, by reason:
    "small" (under ``MIN_FACE_PX`` or ``MIN_FACE_SHARE`` of the frame), "implausible" (eyes,
    nose, mouth and ears not laid out as in a face), "upside_down" (weak faces in a frame
    that shows a clear face only when turned over)."""

    faces: list[Detection]
    rejected: dict[str, int] = field(default_factory=dict)


def plausible(d: Detection) -> bool:
    """Whether the 6 keypoints are laid out as in an upright or turned face: measured along the
    eye line (right eye 0, left eye 1) and across it, in eye distances, the nose and the mouth
    lie about between the eyes (half an eye distance beyond them for a turned face) and below
    them, the mouth below the nose, the right ear on the right, and the eyes are 0.2-0.8 of the
    box apart (an upright frontal face: 0.47; nose 0.46 below the eyes, mouth 0.94)."""
    right_eye, left_eye, nose, mouth, right_ear, left_ear = np.asarray(d.keypoints, dtype=np.float64)
    v = left_eye - right_eye
    e = float(np.linalg.norm(v))
    if e < 1e-6 or not 0.2 <= e / max(d.size, 1e-6) <= 0.8:
        return False
    along, across = v / e, np.array([-v[1], v[0]]) / e

    def at(p) -> tuple[float, float]:
        q = p - right_eye
        return float(q @ along) / e, float(q @ across) / e

    (nx, ny), (mx, my), (rx, _), (lx, _) = at(nose), at(mouth), at(right_ear), at(left_ear)
    return -0.5 <= nx <= 1.5 and -0.5 <= mx <= 1.5 and 0.1 <= ny < my <= 2.0 and rx < lx


class FaceDetector:
    """BlazeFace via MediaPipe Tasks, loaded once; ``detect`` takes RGB uint8 (H, W, 3).

    Detection runs on a copy downscaled to ``detect_side`` (longest side) and boxes are mapped
    back. The short-range model runs first; where it finds nothing the full-range model runs,
    and then the short-range model again on a padded frame (faces that fill the frame).
    Where that finds no face, or only faces smaller than ``TILE_BELOW`` of the frame's longest
    side, the frame is also searched in overlapping tiles (``tiles``): BlazeFace misses faces
    under about a tenth of the picture it is given (a crowd, a face far away in a wide shot).
    A face found only in a tile must score ``TILE_MIN_SCORE``.
    Use as a context manager or call ``close()``.
    """

    def __init__(self, model_dir: str | os.PathLike = WEIGHTS_DIR, min_score: float = 0.5,
                 detect_side: int = 640, max_faces: int = 10):
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logs off the console
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        model_dir = Path(model_dir)
        self.min_score = min_score
        self.detect_side = detect_side
        self.max_faces = max_faces
        self._detectors = []
        self._lock = threading.Lock()  # MediaPipe graphs are not re-entrant: one frame at a time
        for name in (SHORT_RANGE, FULL_RANGE):
            p = model_dir / name
            if not p.is_file():
                raise DfdemoError(f"face detector model missing: {p} (it ships in weights/mediapipe/)")
            opts = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(p)),
                min_detection_confidence=min_score,
            )
            with _quiet_native_stderr():
                self._detectors.append(vision.FaceDetector.create_from_options(opts))

    def close(self) -> None:
        with _quiet_native_stderr():
            for d in self._detectors:
                d.close()
        self._detectors = []

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, which: int, rgb: np.ndarray) -> list[Detection]:
        import mediapipe as mp

        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        out = []
        for d in self._detectors[which].detect(image).detections:
            bb = d.bounding_box
            kps = np.array([[k.x * w, k.y * h] for k in d.keypoints], dtype=np.float32)
            if kps.shape != (6, 2):
                continue
            box = (float(bb.origin_x), float(bb.origin_y), float(bb.origin_x + bb.width), float(bb.origin_y + bb.height))
            out.append(Detection(box, float(d.categories[0].score if d.categories else 0.0), kps))
        return out

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in one RGB frame, best first, at most ``max_faces``; boxes in ``rgb`` pixels."""
        if not self._detectors:
            raise DfdemoError("FaceDetector is closed")
        h, w = rgb.shape[:2]
        scale = min(1.0, self.detect_side / max(h, w))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        # LiteRT logs a one-off alignment warning on whichever run first gets an unaligned
        # tensor (not always the first run), so every run is kept off the console
        with self._lock, _quiet_native_stderr():
            found = self._run(0, small) or self._run(1, small)
            pad = 0
            if not found:  # a face filling the frame: give it room
                pad = max(small.shape[:2]) // 2
                padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
                found = self._run(0, padded)
        dets = [_map_detection(d, pad, scale, w, h) for d in found]
        if not dets or min(d.size for d in dets) < TILE_BELOW * max(h, w):
            dets += self._tiled(rgb)
        dets = _suppress(sorted(dets, key=lambda d: -d.score))
        return dets[: self.max_faces]

    def find(self, rgb: np.ndarray) -> Found:
        """The faces of ``detect`` that may be scored: not too small for the frame, keypoints laid
        out as in a face, and not the weak "faces" of a frame that is upside down (only there,
        where every face is weak, the frame is also searched turned over)."""
        h, w = rgb.shape[:2]
        rejected: dict[str, int] = {}
        kept = []
        for d in self.detect(rgb):
            reason = ("small" if d.size < max(MIN_FACE_PX, MIN_FACE_SHARE * max(h, w))
                      else None if plausible(d) else "implausible")
            if reason:
                rejected[reason] = rejected.get(reason, 0) + 1
            else:
                kept.append(d)
        if kept and max(d.score for d in kept) < CLEAR_FACE:
            turned = [d for d in self.detect(np.ascontiguousarray(rgb[::-1, ::-1])) if plausible(d)]
            if turned and max(d.score for d in turned) >= max(CLEAR_FACE, max(d.score for d in kept) + 0.1):
                rejected["upside_down"] = len(kept)
                kept = []
        return Found(kept, rejected)

    def _tiled(self, rgb: np.ndarray) -> list[Detection]:
        """Faces found in overlapping tiles of a copy at up to twice ``detect_side``; detections
        cut by a tile's inner edge are dropped (the overlap holds those faces whole)."""
        h, w = rgb.shape[:2]
        scale = min(1.0, 2 * self.detect_side / max(h, w))
        big = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        out = []
        with self._lock, _quiet_native_stderr():
            for x0, y0, x1, y1 in tiles(big.shape[1], big.shape[0]):
                for d in self._run(0, big[y0:y1, x0:x1]):
                    bx0, by0, bx1, by1 = d.box
                    cut = ((x0 > 0 and bx0 <= 1) or (y0 > 0 and by0 <= 1) or (x1 < big.shape[1] and bx1 >= x1 - x0 - 1)
                           or (y1 < big.shape[0] and by1 >= y1 - y0 - 1))
                    if not cut and d.score >= TILE_MIN_SCORE:
                        shifted = Detection((bx0 + x0, by0 + y0, bx1 + x0, by1 + y0), d.score, d.keypoints + np.float32([x0, y0]))
                        out.append(_map_detection(shifted, 0, scale, w, h))
        return out


def tiles(w: int, h: int, across: int = TILES_ACROSS) -> list[tuple[int, int, int, int]]:
    """Square tiles (x0, y0, x1, y1) of side ``max(w, h) / across`` covering a w x h picture,
    overlapping by a third of a tile so that a face up to that size lies whole in one."""
    side = min(max(w, h) // across, w, h)
    if side < 16:
        return []
    step = max(1, side * 2 // 3)

    def starts(n: int) -> list[int]:  # evenly spread, the last one flush with the far edge
        k = -(-(n - side) // step) + 1
        return [0] if k == 1 else [round(i * (n - side) / (k - 1)) for i in range(k)]

    return [(x, y, x + side, y + side) for y in starts(h) for x in starts(w)]


def _map_detection(d: Detection, pad: int, scale: float, w: int, h: int) -> Detection:
    x0, y0, x1, y1 = ((np.array(d.box) - pad) / scale).tolist()
    box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
    return Detection(box, d.score, (d.keypoints - pad) / scale)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _suppress(dets: list[Detection], thr: float = 0.4) -> list[Detection]:
    kept: list[Detection] = []
    for d in dets:
        if all(iou(d.box, k.box) < thr for k in kept):
            kept.append(d)
    return kept


def _centre(box: tuple[float, ...]) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def appearance(crop: np.ndarray) -> np.ndarray:
    """A face crop's colour signature (RGB uint8 square crop, as ``square_crop`` cuts it): the
    square roots of the hue-saturation and the brightness histograms of its central part, scaled
    so that the dot product of two signatures is their Bhattacharyya coefficient in [0, 1]
    (1 = the same colours). Skin, hair and lighting tell two people apart across a cut; it is
    no identity model, so it only decides between tracks that position alone cannot."""
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)[8:56, 8:56]
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    hs = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256]).ravel()
    v = cv2.calcHist([hsv], [2], None, [8], [0, 256]).ravel()
    return np.concatenate([np.sqrt(hs / max(hs.sum(), 1)), np.sqrt(v / max(v.sum(), 1))]).astype(np.float32) / np.sqrt(2)


def link_tracks(per_frame: list[list[Detection]], looks: list[list[np.ndarray]] | None = None,
                min_iou: float = 0.2, max_centre_shift: float = 0.6, same_look: float = 0.8,
                relink_look: float = 0.98) -> list[Track]:
    """Link detections of successive sampled frames into tracks, one per person.

    A detection joins the track whose last box overlaps it most (IoU >= ``min_iou``), or whose
    last centre is within ``max_centre_shift`` face sizes; otherwise it starts a new track.
    With ``looks`` (an ``appearance`` signature per detection, parallel to ``per_frame``) a
    detection whose colours differ from the track's last face (similarity < ``same_look``: a
    cut to another person in the same place) starts a new track too, and afterwards tracks that
    never share a frame are joined when their mean signatures are alike (>= ``relink_look``):
    the same person after a cut, a close-up or a gap. Tracks are numbered by first appearance,
    then left to right.
    """
    tracks: list[Track] = []
    last_look: list[np.ndarray | None] = []
    for slot, dets in enumerate(per_frame):
        free = set(range(len(tracks)))
        order = sorted(range(len(dets)), key=lambda k: dets[k].box[0])
        for k in order:
            d = dets[k]
            look = looks[slot][k] if looks is not None else None
            best, best_cost = None, None
            for t in free:
                last = tracks[t].detections[-1]
                o = iou(last.box, d.box)
                shift = np.linalg.norm(_centre(last.box) - _centre(d.box)) / max(1.0, last.size)
                if look is not None and last_look[t] is not None and float(look @ last_look[t]) < same_look:
                    continue
                if o >= min_iou or shift <= max_centre_shift:
                    cost = shift - o
                    if best_cost is None or cost < best_cost:
                        best, best_cost = t, cost
            if best is None:
                tracks.append(Track(len(tracks)))
                last_look.append(None)
                best = len(tracks) - 1
            else:
                free.discard(best)
            tracks[best].frame_slots.append(slot)
            tracks[best].detections.append(d)
            last_look[best] = look
    if looks is not None:
        tracks = _relink(tracks, looks, per_frame, relink_look)
    return tracks


def _relink(tracks: list[Track], looks: list[list[np.ndarray]], per_frame: list[list[Detection]],
            threshold: float) -> list[Track]:
    """Join tracks that never share a frame and look alike (mean ``appearance`` signatures,
    most alike first), then renumber by first appearance, then left to right."""
    where = {(slot, id(d)): looks[slot][k] for slot, dets in enumerate(per_frame) for k, d in enumerate(dets)}

    def mean_look(t: Track) -> np.ndarray:
        m = np.mean([where[(s, id(d))] for s, d in zip(t.frame_slots, t.detections)], axis=0)
        return m / max(float(np.linalg.norm(m)), 1e-9)

    groups = [[t] for t in tracks]
    while True:
        best, pair = threshold, None
        means = [mean_look(Track(0, [s for t in g for s in t.frame_slots], [d for t in g for d in t.detections]))
                 for g in groups]
        for i in range(len(groups)):
            slots_i = {s for t in groups[i] for s in t.frame_slots}
            for j in range(i + 1, len(groups)):
                if slots_i & {s for t in groups[j] for s in t.frame_slots}:
                    continue  # seen together in one frame: two people
                sim = float(means[i] @ means[j])
                if sim >= best:
                    best, pair = sim, (i, j)
        if pair is None:
            break
        i, j = pair
        groups[i] += groups.pop(j)
    merged = []
    for g in groups:
        pairs = sorted((s, d) for t in g for s, d in zip(t.frame_slots, t.detections, strict=True))
        merged.append(Track(0, [s for s, _ in pairs], [d for _, d in pairs]))
    merged.sort(key=lambda t: (t.frame_slots[0], t.detections[0].box[0]))
    for i, t in enumerate(merged):
        t.track_id = i
    return merged


def follow(box: tuple[float, ...], per_frame: list[list[Detection]], min_iou: float = 0.3) -> list[Detection] | None:
    """The same face through consecutive frames: starting from ``box`` (that face in a frame
    close by), take in each frame the detection that overlaps the previous box most. None when
    the face is lost (no detection with IoU >= ``min_iou``) in any frame."""
    out: list[Detection] = []
    for dets in per_frame:
        best = max(dets, key=lambda d: iou(box, d.box), default=None)
        if best is None or iou(box, best.box) < min_iou:
            return None
        out.append(best)
        box = best.box
    return out


def drop_weak_tracks(tracks: list[Track], weak: float = 0.7, strong: float = 0.8) -> tuple[list[Track], int]:
    """Drop the tracks never seen clearly (best detection score < ``weak``) when another track
    is (best score >= ``strong``); return the kept tracks, renumbered in order, and how many went.

    On the dev-eval clips every such track was a jacket, a blurred background or a puppet
    (best scores 0.52-0.68; real faces 0.78 and up), and one of them with a high fake score
    would decide the file's verdict. A weak track with no clear face beside it is kept: it
    may be the only face there is.
    """
    best = [max(d.score for d in t.detections) for t in tracks]
    if not any(b >= strong for b in best):
        return tracks, 0
    kept = [t for t, b in zip(tracks, best) if b >= weak]
    for i, t in enumerate(kept):
        t.track_id = i
    return kept, len(tracks) - len(kept)


def square_crop(rgb: np.ndarray, box: tuple[float, ...], margin: float, size: int,
                keypoints: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Square crop of side ``max(w, h) * (1 + margin)`` centred on ``box``, resized to ``size``.

    Outside the frame is filled with black. Returns the (size, size, 3) uint8 crop and the
    keypoints mapped into crop pixels (or None). Shared by analysis and training.
    """
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0, 1.0) * (1 + margin)
    scale = size / side
    ox, oy = cx - side / 2, cy - side / 2
    m = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]], dtype=np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(rgb, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    kps = None if keypoints is None else ((np.asarray(keypoints, dtype=np.float64) - [ox, oy]) * scale).astype(np.float32)
    return crop, kps


MOUTH_SIDE = 0.5  # the mouth square's side, as a share of the face box's larger side


def part_square(rgb: np.ndarray, box: tuple[float, ...], centre, size: int) -> np.ndarray:
    """A square ``MOUTH_SIDE`` of the face box wide centred on ``centre`` (x, y), cut from the
    frame and resized to ``size``: the mouth crop, and the squares the mouth's motion compares."""
    side = max(box[2] - box[0], box[3] - box[1]) * MOUTH_SIDE
    cx, cy = centre
    return square_crop(rgb, (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), 0.0, size)[0]


def mouth_crop(rgb: np.ndarray, box: tuple[float, ...], keypoints: np.ndarray, size: int) -> np.ndarray:
    """The mouth at its own resolution: a square on BlazeFace's mouth point (keypoint 3),
    ``MOUTH_SIDE`` of the face box wide, cut from the frame and resized to ``size``. Lip-sync
    tools redraw this region at low resolution and paste it back."""
    return part_square(rgb, box, keypoints[3], size)


MOTION_PX = 112  # the side at which the mouth's and the eyes' frame-to-frame change is measured
MOTION_DIMS = 20  # mouth_motion's numbers


def _band_energies(grey: np.ndarray, levels: int = 4) -> list[float]:
    """log mean square of each band-pass level of a Laplacian pyramid (finest first)."""
    out, cur = [], grey
    for _ in range(levels):
        down = cv2.pyrDown(cur)
        out.append(float(np.log(((cur - cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))) ** 2).mean() + 1e-3)))
        cur = down
    return out


def mouth_motion(rgb: np.ndarray, next_rgb: np.ndarray | None, box: tuple[float, ...], keypoints: np.ndarray) -> np.ndarray:
    """How the mouth changes from a frame to the very next one, against the eyes at the same
    scale (``MOTION_DIMS`` numbers). A lip-sync tool redraws the mouth in every frame on its own,
    so it flickers between neighbouring frames more than a filmed mouth does; the eyes, left as
    filmed, say how much the camera, the head and the compression move everything else. Squares
    ``MOUTH_SIDE`` of the face box wide on the mouth point and on the eyes' midpoint, both cut at
    this frame's box from both frames, grey at ``MOTION_PX``: the band energies (4 levels) of
    each square's change and of each square itself, the log mean absolute change of both, their
    difference, and the correlation of the mouth's two cuts. NaN throughout where there is no
    next frame (the last frame of a clip): not measured, and a track head leaves it out."""
    if next_rgb is None:
        return np.full(MOTION_DIMS, np.nan, np.float32)
    def grey(frame: np.ndarray, centre) -> np.ndarray:
        return cv2.cvtColor(part_square(frame, box, centre, MOTION_PX), cv2.COLOR_RGB2GRAY).astype(np.float32)

    kp = np.asarray(keypoints, dtype=np.float64)
    eyes = (kp[0] + kp[1]) / 2
    m0, m1 = grey(rgb, kp[3]), grey(next_rgb, kp[3])
    e0, e1 = grey(rgb, eyes), grey(next_rgb, eyes)
    dm, de = np.log(np.abs(m1 - m0).mean() + 1e-3), np.log(np.abs(e1 - e0).mean() + 1e-3)
    corr = 1.0 if m0.std() == 0 or m1.std() == 0 else float(np.corrcoef(m0.ravel(), m1.ravel())[0, 1])
    return np.array(_band_energies(m1 - m0) + _band_energies(e1 - e0) + _band_energies(m0) + _band_energies(e0)
                    + [dm, de, dm - de, corr], np.float32)


# ---------------------------------------------------------------- how well a face can be judged
def face_quality(crop: np.ndarray, keypoints: np.ndarray, box_size: float) -> dict[str, float]:
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    c = grey.shape[0] // 4
    centre = grey[c:-c, c:-c]
    reye, leye, nose = keypoints[0], keypoints[1], keypoints[2]
    d = max(np.linalg.norm(leye - reye), 1e-3)
    yaw = float(np.dot(nose - (reye + leye) / 2, (leye - reye) / d) / d)
    return {"size_px": float(box_size), "brightness": float(centre.mean()),
            "sharpness": float(cv2.Laplacian(centre, cv2.CV_64F).var()), "yaw": yaw}


def face_warnings(q: list[dict[str, float]], is_video: bool = True) -> list[str]:
    med = {k: float(np.median([x[k] for x in q])) for k in q[0]}
    out = []
    if med["size_px"] < SMALL_FACE_PX:
        out.append(f"small face ({med['size_px']:.0f} px): fine detail is lost, scores are less reliable")
    if med["sharpness"] < BLURRY_LAPLACIAN:
        out.append("blurry face: blur hides (and can imitate) blending traces")
    if med["brightness"] < DARK_LUMA:
        out.append("dark face: low light hides detail")
    if abs(med["yaw"]) > TURNED_YAW:
        out.append("face turned away from the camera: detectors are less reliable on profiles")
    if is_video and len(q) < 3:
        out.append(f"seen in only {len(q)} frame(s)")
    return out


def rejected_notes(rejected: Counter[str]) -> list[str]:
    """The report's notes on face detections that were not scored (``FaceDetector.find``)."""
    said = {"small": f"face detection(s) under {MIN_FACE_PX} px or {MIN_FACE_SHARE:.0%} of the frame's longest side "
                     "were not scored (too small to judge; most likely not faces)",
            "implausible": "face detection(s) whose eyes, nose, mouth and ears are not laid out as in a face were not scored",
            "upside_down": "weak face detection(s) were not scored: the picture seems upside down (a face is found "
                           "clearly only when it is turned over); turn it upright and analyse it again"}
    return [f"{rejected[k]} {said[k]}" for k in said if rejected[k]]
