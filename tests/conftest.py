"""Shared test fixtures. Every medium is generated here (a real face from scikit-image's
astronaut photo); nothing is downloaded. Tests that need ../shared skip where it is absent."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from dfdemo.runtime import configure_process

configure_process()  # as the CLI and the app do where they start (threads, OpenMP spin, FFmpeg log)
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEV_EVAL = SHARED / "data" / "dev-eval" / "index.csv"

# where the astronaut's face is in skimage.data.astronaut() (512x512), measured once by eye
ASTRONAUT_FACE = (175, 80, 275, 180)


def astronaut() -> np.ndarray:
    """RGB uint8 (512, 512, 3) photo with one real face."""
    return skimage.data.astronaut()


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """Write RGB frames as a video with OpenCV."""
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert vw.isOpened(), f"cannot write {path}"
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


def moving_face_frames(n: int = 40, size: tuple[int, int] = (640, 480), step: int = 3) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """``n`` frames of the astronaut photo sliding right by ``step`` px a frame over a grey
    background; returns the frames and each frame's paste offset (x, y)."""
    img = astronaut()
    w, h = size
    frames, offsets = [], []
    for i in range(n):
        canvas = np.full((h, w, 3), 60, np.uint8)
        x, y = 20 + i * step, 0
        part = img[: h - y, : max(0, min(512, w - x))]
        canvas[y : y + part.shape[0], x : x + part.shape[1]] = part
        frames.append(canvas)
        offsets.append((x, y))
    return frames, offsets


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def photo(media_dir) -> Path:
    p = media_dir / "astronaut.png"
    cv2.imwrite(str(p), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    return p


@pytest.fixture(scope="session")
def clip(media_dir) -> Path:
    frames, _ = moving_face_frames()
    return write_clip(media_dir / "moving_face.mp4", frames)


@pytest.fixture(scope="session")
def two_face_photo(media_dir) -> Path:
    img = astronaut()
    canvas = np.full((512, 1100, 3), 60, np.uint8)
    canvas[:, :512] = img
    canvas[:, 588:] = img[:, ::-1]
    p = media_dir / "two_faces.png"
    cv2.imwrite(str(p), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return p


def group_frame(rows: int = 5, cols: int = 8, size: tuple[int, int] = (1274, 838)) -> np.ndarray:
    """A group photo (RGB uint8, ``size`` = (w, h)): ``rows`` x ``cols`` copies of the astronaut's
    face, every other one mirrored, on grey (40 faces on 1274x838 by default, as issue 24's photo)."""
    face = astronaut()[40:240, 140:310]  # the face with some margin
    w, h = size
    cw, ch = w // cols, h // rows
    canvas = np.full((h, w, 3), 90, np.uint8)
    for r in range(rows):
        for c in range(cols):
            tile = cv2.resize(face, (cw - 8, ch - 6))
            canvas[r * ch + 3: r * ch + 3 + tile.shape[0], c * cw + 4: c * cw + 4 + tile.shape[1]] = tile[:, ::-1] if (r + c) % 2 else tile
    return canvas


@pytest.fixture(scope="session")
def group_photo(media_dir) -> Path:
    p = media_dir / "group40.png"
    cv2.imwrite(str(p), cv2.cvtColor(group_frame(), cv2.COLOR_RGB2BGR))
    return p


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """An UNTRAINED detector folder for tests only (never shipped): real architecture, random head."""
    import torch

    from dfdemo.detector import DetectorConfig, save_detector
    from dfdemo.model import create_model

    torch.manual_seed(0)
    model = create_model("tf_efficientnet_lite0")
    folder = tmp_path_factory.mktemp("weights") / "untrained"
    return save_detector(model, folder, DetectorConfig(model_id="test:untrained", target_layer="bn2"))


@pytest.fixture(scope="session")
def analyzer(tiny_weights):
    from dfdemo import Analyzer

    with Analyzer.load(tiny_weights) as a:
        yield a


def needs_shared(path: Path = DEV_EVAL):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present (../shared is not beside the checkout)")


def _face68():
    from dfdemo.faces import FaceDetector
    from dfdemo_lab.cache import DLIB_MODEL, Landmarker, cache_crop

    pytest.importorskip("dlib", reason="dlib (requirements-dev.txt) is needed for the training landmarks")
    if not Path(DLIB_MODEL).is_file():
        pytest.skip(f"{DLIB_MODEL} missing (apt-get install libdlib-data)")
    with FaceDetector() as fd:
        d = fd.detect(astronaut())[0]
    crop, _, marks = cache_crop(astronaut(), d, Landmarker())
    return crop, marks


@pytest.fixture(scope="session")
def face68():
    """The astronaut's face as the training cache cuts it, with dlib's 68 landmarks (skips
    cleanly without dlib or its landmark model)."""
    return _face68()

