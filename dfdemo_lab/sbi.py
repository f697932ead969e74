"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) as pure numpy/OpenCV functions.

A fake is made from one real face: a colour/quality-transformed copy of the face (the
"source") is blended back into the untouched face (the "target") through a deformed, blurred
mask built from the 68 facial landmarks. The detector learns the traces of blending
(boundary, colour mismatch, resampling) without ever seeing a deepfake tool's output.
All functions take RGB uint8 (H, W, 3) images and a ``numpy.random.Generator``.
"""
from __future__ import annotations

import cv2
import numpy as np

from dfdemo.blend import color_transform, composite, quality_transform, resample  # noqa: F401 (part of the SBI recipe)

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


def hull_mask(landmarks: np.ndarray, shape: tuple[int, int], forehead: float = 0.0) -> np.ndarray:
    """Filled convex hull of 68 landmarks as float32 {0, 1}; ``forehead`` > 0 lifts the brow
    points by that fraction of the brow-to-chin height (the 81-point hull of the paper)."""
    pts = np.asarray(landmarks, dtype=np.float32)
    if forehead > 0:
        brows = pts[17:27]
        up = (pts[8] - brows.mean(0)) * forehead
        pts = np.concatenate([pts, brows - up])
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 1)
    return mask.astype(np.float32)


def elastic(mask: np.ndarray, rng: np.random.Generator, strength: float = 0.04) -> np.ndarray:
    """Smooth random displacement of the mask (grid 4x4 upsampled), ``strength`` x side."""
    h, w = mask.shape
    d = rng.normal(0, strength * max(h, w), (2, 4, 4)).astype(np.float32)
    dx = cv2.resize(d[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(d[1], (w, h), interpolation=cv2.INTER_CUBIC)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


# The regions a self-blend may replace: what each kind of face manipulation pastes.
#   face:  the whole landmark hull (face swap), optionally with the forehead
#   lower: jaw, mouth and the lower nose (lip-sync tools paste the lower face)
#   mouth: the lips and a margin around them
#   eyes:  brows and eyes (expression and gaze edits)
#   inner: brows, eyes, nose and mouth, without the face outline (a swap blended inside the jaw)
BLEND_KINDS = ("face", "lower", "mouth", "eyes", "inner")
_REGION_POINTS = {
    "lower": list(range(2, 15)) + list(range(29, 36)),
    "mouth": list(range(48, 60)),
    "eyes": list(range(17, 27)) + list(range(36, 48)),
    "inner": list(range(17, 68)),
}
_REGION_GROW = {"lower": 0.0, "mouth": 0.15, "eyes": 0.1, "inner": 0.05}  # hull grown by this x face width


def region_mask(landmarks: np.ndarray, shape: tuple[int, int], kind: str, forehead: float = 0.0) -> np.ndarray:
    """Filled {0, 1} float32 mask of one region of the face (``BLEND_KINDS``)."""
    if kind == "face":
        return hull_mask(landmarks, shape, forehead)
    pts = np.asarray(landmarks, dtype=np.float32)
    region = pts[_REGION_POINTS[kind]]
    grow = _REGION_GROW[kind] * float(np.ptp(pts[:17, 0]))
    centre = region.mean(0)
    d = region - centre
    norm = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
    region = region + d / norm * grow  # push every point outwards by ``grow`` pixels
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(region.astype(np.int32)), 1)
    return mask.astype(np.float32)


def blend_mask(landmarks: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, kind: str = "face") -> np.ndarray:
    """The random soft mask of one self-blended fake: the region's hull (the whole face with or
    without forehead, or one part of it), elastic deformation, random erosion/dilation, then a
    random blur for the boundary, all scaled to the region's size. float32 [0, 1]."""
    m = region_mask(landmarks, shape, kind, forehead=rng.choice([0.0, 0.0, 0.2, 0.35]) if kind == "face" else 0.0)
    # kernels scale with the region (a mouth is a quarter of a face), never below a 64 px region
    side = max(64, int(np.sqrt(max(m.sum(), 1.0)) * 1.6)) if kind != "face" else max(shape)
    m = elastic(m, rng, strength=0.04 * side / max(shape))
    k = int(rng.integers(3, 9)) * side // 128 * 2 + 1
    m = cv2.GaussianBlur(m, (k, k), 0)
    m = (m >= rng.uniform(0.15, 0.85)).astype(np.float32)  # <0.5 dilates, >0.5 erodes
    if m.max() == 0:  # eroded away: keep the undeformed region
        m = region_mask(landmarks, shape, kind)
    k = int(rng.integers(2, 10)) * side // 128 * 2 + 1
    m = cv2.GaussianBlur(m, (k, k), 0)
    return np.clip(m / max(m.max(), 1e-6), 0, 1)


def affine(img: np.ndarray, mask: np.ndarray, scale: float, shift: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Rescale about the centre by ``scale`` and shift by ``shift`` (fractions of the width),
    source and mask together."""
    h, w = img.shape[:2]
    tx, ty = shift[0] * w, shift[1] * w
    m = np.array([[scale, 0, (1 - scale) * w / 2 + tx], [0, scale, (1 - scale) * h / 2 + ty]], np.float32)
    return (cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT),
            cv2.warpAffine(mask, m, (w, h), borderMode=cv2.BORDER_CONSTANT))


def random_affine(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shift (up to 3 % of the side) and rescale (±5 %) source and mask together."""
    s = rng.uniform(0.95, 1.05)
    return affine(img, mask, s, tuple(rng.uniform(-0.03, 0.03, 2)))


def align_to(other: np.ndarray, other_landmarks: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``other`` (another frame of the same clip) warped so that its 68 landmarks fall on
    ``landmarks`` (similarity transform, least squares): what a swap pipeline's conversion
    step does with the generated face before blending it in."""
    m, _ = cv2.estimateAffinePartial2D(np.asarray(other_landmarks, np.float32), np.asarray(landmarks, np.float32))
    if m is None:
        return other
    h, w = other.shape[:2]
    return cv2.warpAffine(other, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, kind: str = "face",
               source: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One self-blended fake of ``img``; returns (fake uint8, effective blend mask float32 [0, 1]).

    ``kind`` is the region replaced (``BLEND_KINDS``). ``source``, when given, is another frame
    of the same clip already aligned to ``img`` (``align_to``): a cross-frame blend, whose
    pose and expression differ slightly from the target's, as in a face swap; it is then also
    colour/quality transformed half of the time. The mask returned is the one actually applied
    (after the shift and the blend ratio), so it says exactly where and how strongly pixels
    were replaced.
    """
    mask = blend_mask(landmarks, img.shape[:2], rng, kind)
    target = img
    if source is not None:
        if rng.random() < 0.5:
            source = quality_transform(color_transform(source, rng), rng)
    elif rng.random() < 0.5:
        source = quality_transform(color_transform(img, rng), rng)
    else:
        source, target = img, quality_transform(color_transform(img, rng), rng)
    source, mask = random_affine(source, mask, rng)
    mask = mask * rng.choice(BLEND_RATIOS)
    return composite(source, target, mask), mask.astype(np.float32)


def quality_domain(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the looks real faces come in that are not a manipulation: upscaled from a small
    picture, skin smoothed by a beauty filter or retouching (edge-preserving), over-sharpened,
    studio contrast / gamma. Applied to both classes alike (``video_degrade(mode="varied")``)
    so that picture quality alone stops meaning "fake"."""
    r = rng.random()
    if r < 0.3:
        s = rng.uniform(0.25, 0.6)
        return resample(img, s, [cv2.INTER_CUBIC, cv2.INTER_LANCZOS4][int(rng.integers(2))])
    if r < 0.6:
        d = int(rng.integers(5, 10))
        return cv2.bilateralFilter(img, d, rng.uniform(20, 60), rng.uniform(3, 9))
    if r < 0.8:
        blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.0))
        a = rng.uniform(0.4, 1.2)
        return cv2.addWeighted(img, 1 + a, blur, -a, 0)
    x = (img.astype(np.float32) / 255) ** rng.uniform(0.7, 1.4)
    x = (x - 0.5) * rng.uniform(0.9, 1.3) + 0.5
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def video_degrade(img: np.ndarray, rng: np.random.Generator, strong: bool | str = False) -> np.ndarray:
    """What a video pipeline does to every face, real or fake: resampling and JPEG/H.264-like
    compression at a random quality (or nothing, a quarter of the time). ``strong`` (True or
    ``"strong"``) adds, half of the time, heavy whole-face blur (down to a quarter of the size,
    or a Gaussian blur), as in low-resolution or upscaled footage, so that blur alone cannot mean
    "fake"; ``"varied"`` instead adds, half of the time, one of ``quality_domain``'s looks."""
    h, w = img.shape[:2]
    r = rng.random()
    if strong == "varied":
        if rng.random() < 0.5:
            img = quality_domain(img, rng)
    elif strong and rng.random() < 0.5:
        if rng.random() < 0.5:
            s = rng.uniform(0.2, 0.5)
            small = cv2.resize(img, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (w, h), interpolation=[cv2.INTER_LINEAR, cv2.INTER_CUBIC][int(rng.integers(2))])
        else:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.0, 2.5))
    if r < 0.25:
        return img
    out = img
    if r < 0.6:
        s = rng.uniform(0.5, 0.95)
        small = cv2.resize(out, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    q = int(rng.integers(35, 96))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def reframe(img: np.ndarray, from_margin: float, to_margin: float, size: int,
            rng: np.random.Generator | None = None, jitter: float = 0.04) -> np.ndarray:
    """Cut the inference framing (``to_margin``) out of a cache crop made with ``from_margin``
    around the same box centre, resized to ``size``; optional random shift/scale jitter."""
    h = img.shape[0]
    side = h * (1 + to_margin) / (1 + from_margin)
    cx = cy = h / 2
    if rng is not None:
        side *= rng.uniform(1 - jitter, 1 + jitter)
        cx += rng.uniform(-jitter, jitter) * side
        cy += rng.uniform(-jitter, jitter) * side
    s = size / side
    m = np.array([[s, 0, size / 2 - cx * s], [0, s, size / 2 - cy * s]], np.float32)
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
