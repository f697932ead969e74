"""Offline example media for the app, made with the project's own code on first use.

``build_examples()`` writes four files into a cache folder and returns their paths:

- ``astronaut_real.png``: scikit-image's astronaut photo (a real face);
- ``astronaut_blended.png``: a self-blended fake of it: a colour- and quality-changed copy of the
  face pasted back through a soft elliptic mask around eyes, nose and mouth, built from the 6
  BlazeFace keypoints (``dfdemo.blend``, the Self-Blended Images recipe the lab trains on);
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

from .blend import blended_fake
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
