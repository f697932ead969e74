"""Build the face-crop cache that training reads: crops + 68 landmarks + BlazeFace keypoints.

Crops are made by the app's own detector and ``square_crop`` at a wider margin than the
detector's (``CACHE_MARGIN``), so training can jitter the framing and still cut the exact
inference framing. Landmarks come from dlib's 68-point predictor (Debian ``libdlib-data``)
run inside the BlazeFace box. Output: ``DIR/crops/*.jpg`` and ``DIR/index.npz``.
Resumable: sources already in the index are skipped.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dfdemo.faces import Detection, FaceDetector, square_crop
from dfdemo.media import sample_frames, probe

from .errors import LabError, add_shared_option, require_shared

CACHE_MARGIN = 0.6
CACHE_SIZE = 256
DLIB_MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
HOLDOUT_EVERY = 5  # every 5th clip (by name hash) of the first clip folders is held out
# Clips of ``real-videos/more/`` are held out by source repository (the part of the file name
# before the second "__"): a source's clips are all trained on or all held out, so calibration
# measures sources the detector never saw. 35 % of the sources: 31 clips from 22 sources.
SOURCE_HOLDOUT_PERCENT = 35
SOURCE_SPLIT_FOLDERS = ("more",)


@dataclass(frozen=True)
class Source:
    path: str
    group: str  # clip name or LFW person: the unit of the train/validation split
    kind: str  # "video" or "photo"


def list_sources(shared: Path, lfw_limit: int | None = None) -> list[Source]:
    out = []
    vids = sorted((shared / "data" / "real-videos").glob("*/*.mp4"))
    out += [Source(str(p), f"{p.parent.name}/{p.stem}", "video") for p in vids]
    people = sorted((shared / "data" / "real-faces" / "lfw").glob("*/"))
    photos = [p for d in people for p in sorted(d.glob("*.jpg"))]
    if lfw_limit:
        rng = np.random.default_rng(0)
        photos = [photos[i] for i in sorted(rng.choice(len(photos), min(lfw_limit, len(photos)), replace=False))]
    out += [Source(str(p), f"lfw/{p.parent.name}", "photo") for p in photos]
    return out


def _hash(text: str) -> int:
    return int(hashlib.md5(text.encode()).hexdigest(), 16)


def source_of(group: str) -> str:
    """The unit of the split of a clip or photo group: the source repository for the clip
    folders split by source, the LFW person, else the clip itself. ``"more/a__b__c"`` → ``"more:a__b"``."""
    folder, _, stem = group.partition("/")
    if folder in SOURCE_SPLIT_FOLDERS:
        return f"{folder}:" + "__".join(stem.split("__")[:2])
    return group


def split_of(group: str) -> str:
    """'val' for held-out groups, else 'train': ~5 % of LFW people, every HOLDOUT_EVERY-th clip
    of the first clip folders, and SOURCE_HOLDOUT_PERCENT % of the sources of ``more/``."""
    if group.startswith("lfw/"):
        return "val" if _hash(group) % 20 == 0 else "train"
    src = source_of(group)
    if src != group:
        return "val" if _hash(src) % 100 < SOURCE_HOLDOUT_PERCENT else "train"
    return "val" if _hash(group) % HOLDOUT_EVERY == 0 else "train"


class Landmarker:
    def __init__(self, model_path: str = DLIB_MODEL):
        try:
            import dlib
        except ImportError:
            raise LabError("dlib is not installed: pip install -r requirements-dev.txt") from None
        if not Path(model_path).is_file():
            raise LabError(f"dlib landmark model missing: {model_path} (apt-get install libdlib-data)")
        self._predict = dlib.shape_predictor(model_path)
        self._rect = dlib.rectangle

    def __call__(self, rgb: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
        x0, y0, x1, y1 = box
        # BlazeFace boxes are tighter at the chin and forehead than dlib's: grow them a little
        h = y1 - y0
        r = self._rect(int(x0), int(y0 - 0.05 * h), int(x1), int(y1 + 0.1 * h))
        s = self._predict(rgb, r)
        return np.array([[p.x, p.y] for p in s.parts()], dtype=np.float32)


def cache_crop(rgb: np.ndarray, d: Detection, lm: Landmarker) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cache's crop of one detected face (``square_crop`` at CACHE_MARGIN, CACHE_SIZE), its
    BlazeFace keypoints and its 68 landmarks, all in crop pixels."""
    crop, kps = square_crop(rgb, d.box, CACHE_MARGIN, CACHE_SIZE, d.keypoints)
    # landmarks on the crop itself, inside the box mapped into crop pixels
    scale = CACHE_SIZE / (d.size * (1 + CACHE_MARGIN))
    half = (d.box[2] - d.box[0]) * scale / 2, (d.box[3] - d.box[1]) * scale / 2
    c = CACHE_SIZE / 2
    return crop, kps, lm(crop, (c - half[0], c - half[1], c + half[0], c + half[1]))


def frames_of(src: Source, fps: float, max_frames: int):
    if src.kind == "photo":
        yield from sample_frames(src.path, 1)
        return
    info = probe(src.path)
    n = int(min(max_frames, max(1, info.duration_s * fps)))
    yield from sample_frames(src.path, n, info)


def build(shared: Path, out: Path, fps: float, max_frames: int, lfw_limit: int | None) -> None:
    crops_dir = out / "crops"
    crops_dir.mkdir(parents=True, exist_ok=True)
    index_path = out / "index.npz"
    rows: dict[str, list] = {k: [] for k in ("name", "group", "kind", "split", "landmarks", "keypoints", "face_size")}
    if index_path.exists():
        old = np.load(index_path, allow_pickle=False)
        rows = {k: list(old[k]) for k in rows}
    done_groups = {(g, k) for g, k in zip(rows["group"], rows["kind"])}
    done_files = set(rows["name"])
    sources = list_sources(shared, lfw_limit)
    lm = Landmarker()
    t0, misses = time.time(), 0
    with FaceDetector(max_faces=1) as fd:
        for i, src in enumerate(sources):
            stem = src.group.replace("/", "__")
            if src.kind == "video" and (src.group, "video") in done_groups:
                continue
            if src.kind == "photo" and f"{stem}__{Path(src.path).stem}.jpg" in done_files:
                continue
            for fr in frames_of(src, fps, max_frames):
                dets = fd.detect(fr.rgb)
                if not dets:
                    misses += 1
                    continue
                d = dets[0]
                crop, kps, landmarks = cache_crop(fr.rgb, d, lm)
                name = f"{stem}__{Path(src.path).stem}.jpg" if src.kind == "photo" else f"{stem}__{fr.index:06d}.jpg"
                cv2.imwrite(str(crops_dir / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
                for k, v in zip(rows, (name, src.group, src.kind, split_of(src.group), landmarks, kps, d.size)):
                    rows[k].append(v)
            if i % 200 == 0 or src.kind == "video":
                print(f"[cache] {i + 1}/{len(sources)} sources, {len(rows['name'])} crops, {misses} frames without a face, {time.time() - t0:.0f}s", flush=True)
                _save(index_path, rows)
    _save(index_path, rows)
    print(f"[cache] done: {len(rows['name'])} crops in {time.time() - t0:.0f}s ({misses} frames without a face)")


def _save(path: Path, rows: dict[str, list]) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in rows.items()})
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab cache", description=__doc__)
    add_shared_option(ap)
    ap.add_argument("--out", default="cache/faces", type=Path)
    ap.add_argument("--fps", type=float, default=5.0, help="frames per second sampled from each real clip")
    ap.add_argument("--max-frames", type=int, default=120, help="at most this many frames per clip")
    ap.add_argument("--lfw-limit", type=int, default=None, help="use a random subset of LFW photos")
    a = ap.parse_args(argv)
    require_shared(a.shared, "data")
    build(a.shared, a.out, a.fps, a.max_frames, a.lfw_limit)


if __name__ == "__main__":
    sys.exit(main())
