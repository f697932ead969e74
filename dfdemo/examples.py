"""Offline example media for the app, made with the project's own code on first use.

``build_examples()`` writes four files into a cache folder and returns their paths:

- ``astronaut_real.png``: scikit-image's astronaut photo (a real face);
- ``astronaut_blended.png``: a self-blended fake of it: a colour- and quality-changed copy of the
  face pasted back through a soft elliptic mask around eyes, nose and mouth, built from the 6
  BlazeFace keypoints (the Self-Blended Images recipe of ``dfdemo.train.sbi``);
- ``astronaut_real.mp4`` / ``astronaut_blended.mp4``: a short slow pan over each photo (OpenCV, mp4v).

Nothing is downloaded. The folder is ``$DFDEMO_EXAMPLES_DIR``, else ``$XDG_CACHE_HOME/dfdemo/examples``
(``~/.cache/dfdemo/examples``), else a folder in the system temp dir when the home is read-only.
Files are written under temporary names and renamed into place, so concurrent first runs are safe.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .errors import DfdemoError

ENV_EXAMPLES = "DFDEMO_EXAMPLES_DIR"
VERSION = "2"  # bump when the recipe changes, so old caches are rebuilt
NAMES = ("astronaut_real.mp4", "astronaut_blended.mp4", "astronaut_real.png", "astronaut_blended.png")
SEED = 2  # the first seed whose quality step resamples the face (down, then up): the resolution
# mismatch that most face swaps leave; its colour shift makes the blend visible to people too
CLIP_FRAMES = 36
CLIP_FPS = 12.0
CLIP_SIZE = (480, 360)  # width, height of the clips


def examples_dir() -> Path:
    if os.environ.get(ENV_EXAMPLES):
        return Path(os.environ[ENV_EXAMPLES]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dfdemo" / "examples"


def face_mask(keypoints: np.ndarray, shape: tuple[int, int], blur: float = 0.25) -> np.ndarray:
    """Soft ellipse (float32 [0, 1], ``shape`` = (H, W)) over eyes, nose and mouth.

    ``keypoints``: the 6 BlazeFace points in pixels (right eye, left eye, nose tip, mouth, ...).
    The ellipse follows the eye line; its edge is blurred over ``blur`` x the eye distance.
    """
    kp = np.asarray(keypoints, np.float64)
    reye, leye, mouth = kp[0], kp[1], kp[3]
    eye_mid = (reye + leye) / 2
    d = max(float(np.linalg.norm(leye - reye)), 2.0)
    centre = (eye_mid + mouth) / 2
    half_w = 1.0 * d
    half_h = float(np.linalg.norm(mouth - eye_mid)) / 2 + 0.55 * d
    angle = float(np.degrees(np.arctan2(leye[1] - reye[1], leye[0] - reye[0])))
    mask = np.zeros(shape, np.float32)
    cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(half_w), round(half_h)), angle, 0, 360, 1.0, -1)
    k = int(blur * d) * 2 + 1
    return np.clip(cv2.GaussianBlur(mask, (k, k), 0), 0, 1)


def blended_fake(img: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A self-blended fake of the RGB uint8 ``img``: returns (fake uint8, mask float32 [0, 1]).

    As in ``dfdemo.train.sbi.self_blend``: the source is a colour- and quality-transformed copy of
    the image, blended into the untouched image through the soft face mask.
    """
    from .train.sbi import color_transform, quality_transform

    mask = face_mask(keypoints, img.shape[:2])
    source = quality_transform(color_transform(img, rng), rng)
    m3 = mask[..., None]
    fake = source.astype(np.float32) * m3 + img.astype(np.float32) * (1 - m3)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask


def pan_frames(img: np.ndarray, n: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE) -> list[np.ndarray]:
    """``n`` RGB frames of a slow diagonal pan over ``img`` (a window of 78 % of it), resized to ``size``."""
    h, w = img.shape[:2]
    ww, wh = int(w * 0.78), int(w * 0.78 * size[1] / size[0])
    wh = min(wh, h)
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        x, y = round(t * (w - ww)), round(t * (h - wh) * 0.25)
        frames.append(cv2.resize(img[y : y + wh, x : x + ww], size, interpolation=cv2.INTER_AREA))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], fps: float = CLIP_FPS) -> None:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not vw.isOpened():
        raise DfdemoError(f"cannot write the example clip {path}: OpenCV has no mp4v encoder")
    try:
        for f in frames:
            vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        vw.release()


def _face_keypoints(img: np.ndarray) -> np.ndarray:
    from .faces import FaceDetector

    with FaceDetector() as fd:
        dets = fd.detect(img)
    if not dets:
        raise DfdemoError("no face found in the example photo; cannot build the blended example")
    return dets[0].keypoints


def _build(folder: Path) -> None:
    import skimage.data

    real = np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    fake, _ = blended_fake(real, _face_keypoints(real), np.random.default_rng(SEED))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".building-") as tmp:
        tmp = Path(tmp)
        for stem, img in (("astronaut_real", real), ("astronaut_blended", fake)):
            if not cv2.imwrite(str(tmp / f"{stem}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                raise DfdemoError(f"cannot write the example photo into {folder}")
            write_clip(tmp / f"{stem}.mp4", pan_frames(img))
        (tmp / "VERSION").write_text(VERSION)
        for name in NAMES + ("VERSION",):  # VERSION last: it marks the set as complete
            os.replace(tmp / name, folder / name)


def build_examples(folder: str | os.PathLike | None = None) -> list[Path]:
    """The example files (clips first, then photos), built into ``folder`` unless already there."""
    candidates = [Path(folder)] if folder else [examples_dir(), Path(tempfile.gettempdir()) / "dfdemo-examples"]
    last_error: Exception | None = None
    for f in candidates:
        paths = [f / n for n in NAMES]
        marker = f / "VERSION"
        if marker.is_file() and marker.read_text().strip() == VERSION and all(p.is_file() for p in paths):
            return paths
        try:
            _build(f)
            return paths
        except OSError as e:  # read-only or full: try the next folder
            last_error = e
    raise DfdemoError(f"cannot build the example files: {last_error}")
