"""Per-face features of labelled media for the supervised checks (``learn-kinds extract``).

Each file goes through the product's own stages (``probe`` → ``sample_frames`` → BlazeFace →
tracks → ``square_crop`` at the detector's framing), and each face crop through the detector's
one scoring pass: the blending P(fake) and the pooled activations every learned head reads
(``dfdemo.heads.pool`` over the synthesis layers). Beside the face, the mouth at its own
resolution: ``dfdemo.faces.mouth_crop``, cut from the frame and scored by the same frozen
backbone at ``MOUTH_SIZE`` px (``--mouth-px``), pooled the same way; and a few
sharpness numbers (mouth against eyes), since lip-sync tools redraw the mouth at low
resolution; and, of clips, the mouth's change to the very next frame against the eyes'
(``faces.mouth_motion``, read as the product's sampling reads it). Photos are also read as ``down`` (the whole picture shrunk so that the face is
40-160 px) and ``up`` (shrunk, then enlarged back) variants, fakes and reals alike, so that
size and resampling cannot tell the classes apart and a resized real face is real.

One ``.npz`` per (file, variant) under ``OUT/files/``: a killed run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from dfdemo.detector import Detector
from dfdemo.errors import DfdemoError
from dfdemo.faces import FaceDetector, appearance, drop_weak_tracks, link_tracks, mouth_crop, mouth_motion, square_crop
from dfdemo.media import Frame, probe, sample_frames
from dfdemo.heads import pool
from dfdemo.model import forward_all

from .realfakes import Item

LAYERS = ("blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "bn2")
SPREAD = ("blocks.1", "blocks.2", "blocks.3", "blocks.4")
MOUTH_SIZE = 112
VARIANTS = ("orig", "down", "up")


@dataclass(frozen=True)
class FaceFeatures:
    """Every face of one file (one row per face per sampled frame)."""

    face: np.ndarray  # (N, D) pooled activations of the face crop, float16
    mouth: np.ndarray  # (N, D) the same of the mouth crop
    sharp: np.ndarray  # (N, 4) log Laplacian variance of mouth, eyes, their difference, log face size
    blend: np.ndarray  # (N,) the blending check's P(fake)
    track: np.ndarray  # (N,)
    frame: np.ndarray  # (N,) sampled frame's index
    motion: np.ndarray | None = None  # (N, MOTION_DIMS) the mouth's change to the next frame (clips; NaN: none)


def variant_scale(path: str, variant: str, face_px: float) -> float:
    """The picture's scale for a variant: the face to 40-160 px, chosen by a hash of the path."""
    if variant == "orig" or face_px <= 0:
        return 1.0
    u = int(hashlib.sha1(f"{variant}:{path}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    target = 40 + 120 * u
    return min(1.0, target / face_px)


def resized(rgb: np.ndarray, scale: float, back: bool) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) if back else small


def sharpness(crop: np.ndarray, keypoints: np.ndarray, face_px: float) -> np.ndarray:
    """log Laplacian variance around the mouth and around the eyes of a face crop, their
    difference (a mouth redrawn at low resolution is blurrier than the eyes), log face size."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    r = max(6, int(crop.shape[0] * 0.08))

    def var_at(points) -> float:
        vals = []
        for x, y in points:
            x, y = int(round(x)), int(round(y))
            patch = lap[max(0, y - r):y + r, max(0, x - r):x + r]
            if patch.size:
                vals.append(float(patch.var()))
        return float(np.log1p(np.mean(vals))) if vals else 0.0

    mouth, eyes = var_at([keypoints[3]]), var_at([keypoints[0], keypoints[1]])
    return np.array([mouth, eyes, mouth - eyes, np.log(max(face_px, 1.0))], np.float32)


class Extractor:
    """The detector's pooled activations and blending score of crops, and the faces of a file."""

    def __init__(self, detector: Detector, faces: FaceDetector, frames: int = 8, max_faces: int = 4,
                 mouth_px: int = MOUTH_SIZE):
        self.det, self.faces, self.frames, self.max_faces = detector, faces, frames, max_faces
        self.mouth_px = mouth_px

    @torch.inference_mode()
    def pooled(self, crops: np.ndarray, bs: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Face crops: (pooled activations, blending P(fake)) from one pass."""
        feats, blend = [], []
        for i in range(0, len(crops), bs):
            out = forward_all(self.det.scorer, self.det.preprocess(crops[i:i + bs]), LAYERS)
            feats.append(pool([out.taps[n] for n in LAYERS], LAYERS, SPREAD).numpy())
            blend.append(torch.sigmoid(out.logits.float()).numpy())
        return np.concatenate(feats), np.concatenate(blend)

    def frames_of(self, item: Item, variant: str) -> list[Frame]:
        info = probe(item.path)
        frames = list(sample_frames(item.path, 1 if info.kind == "image" else self.frames, info, next_every=int(info.kind == "video")))
        if variant == "orig":
            return frames
        found = self.faces.detect(frames[0].rgb)
        face_px = found[0].size if found else max(frames[0].rgb.shape[:2]) / 2
        s = variant_scale(item.path, variant, face_px)
        return [Frame(f.index, f.time_s, resized(f.rgb, s, back=variant == "up")) for f in frames]

    def __call__(self, item: Item, variant: str = "orig") -> FaceFeatures | None:
        cfg = self.det.config
        frames = self.frames_of(item, variant)
        per_frame = [self.faces.detect(f.rgb)[: self.max_faces] for f in frames]
        crops, kps = {}, {}
        looks = []
        for k, (f, dets) in enumerate(zip(frames, per_frame)):
            row = []
            for j, d in enumerate(dets):
                crops[(k, j)], kps[(k, j)] = square_crop(f.rgb, d.box, cfg.crop_margin, cfg.input_size, d.keypoints)
                row.append(appearance(crops[(k, j)]))
            looks.append(row)
        if not crops:
            return None
        tracks, _ = drop_weak_tracks(link_tracks(per_frame, looks))
        rows = []  # (track, slot, detection index)
        for t in tracks:
            for slot, d in zip(t.frame_slots, t.detections):
                rows.append((t.track_id, slot, next(j for j, e in enumerate(per_frame[slot]) if e is d)))
        face = np.stack([crops[(s, j)] for _, s, j in rows])
        mouth = np.stack([mouth_crop(frames[s].rgb, per_frame[s][j].box, per_frame[s][j].keypoints, self.mouth_px) for _, s, j in rows])
        sharp = np.stack([sharpness(crops[(s, j)], kps[(s, j)], per_frame[s][j].size) for _, s, j in rows])
        motion = None
        if item.kind == "video":  # as the product's sampling: NaN where the frame has no next one
            motion = np.stack([mouth_motion(frames[s].rgb, frames[s].next_rgb, per_frame[s][j].box, per_frame[s][j].keypoints)
                               for _, s, j in rows])
        ff, blend = self.pooled(face)
        mf = self.det.pooled_activations(mouth, LAYERS, SPREAD).numpy()
        return FaceFeatures(ff.astype(np.float16), mf.astype(np.float16), sharp, blend.astype(np.float32),
                            np.array([t for t, _, _ in rows]), np.array([frames[s].index for _, s, _ in rows]), motion)


def cache_path(out: Path, item: Item, variant: str) -> Path:
    return out / "files" / f"{hashlib.sha1(item.path.encode()).hexdigest()[:16]}_{variant}.npz"


def save(path: Path, feats: FaceFeatures | None, error: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    if feats is None:
        np.savez(tmp, empty=np.array(1), error=np.array(error))
    else:
        more = {} if feats.motion is None else {"motion": feats.motion}
        np.savez(tmp, face=feats.face, mouth=feats.mouth, sharp=feats.sharp, blend=feats.blend, track=feats.track,
                 frame=feats.frame, **more)
    tmp.replace(path)


def load(path: Path) -> FaceFeatures | None:
    d = np.load(path, allow_pickle=False)
    if "empty" in d:
        return None
    return FaceFeatures(d["face"], d["mouth"], d["sharp"], d["blend"], d["track"], d["frame"],
                        d["motion"] if "motion" in d else None)


def extract_all(items: list[Item], extractor: Extractor, out: Path, log=print) -> dict:
    """Features of every (item, variant) not cached yet; photos get every variant."""
    done = failed = 0
    todo = [(it, v) for it in items for v in (VARIANTS if it.kind == "image" else ("orig",))]
    for n, (it, v) in enumerate(todo):
        p = cache_path(out, it, v)
        if p.is_file():
            continue
        try:
            feats = extractor(it, v)
            save(p, feats, "" if feats is not None else "no face")
            done += 1
        except DfdemoError as e:
            save(p, None, str(e))
            failed += 1
        if (n + 1) % 25 == 0:
            log(f"[extract] {n + 1}/{len(todo)} ({done} new, {failed} unreadable)")
    return {"files": len(todo), "new": done, "unreadable": failed}
