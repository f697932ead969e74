"""Sampling stage: the faces of the sampled frames, cropped as the detector sees them.

``find_faces`` decodes the sampled frames one at a time (the next one while faces are searched
in this one, ``media.read_ahead``), finds the faces of each (``FaceDetector.find``: too small,
implausible and upside-down ones are counted, not scored), keeps the clearest ``max_faces`` of a
frame and, of each, only its square crop, keypoints, quality and (for a head that reads it) its
mouth. No torch here.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .faces import Detection, FaceDetector, face_quality, mouth_crop, mouth_motion, rejected_notes, square_crop
from .media import MediaInfo, read_ahead, sample_frames
from .stopwatch import Stopwatch

MAX_FACES = 50  # the most faces analysed per frame (Settings.max_faces, scan --max-faces, the app's slider)


@dataclass(frozen=True)
class FaceSample:
    """One face in one sampled frame: its detection, its crop and (once scored) its P(fake)."""

    index: int  # frame index in the file
    time_s: float
    detection: Detection
    crop: np.ndarray  # RGB uint8 (S, S, 3), the detector's framing
    keypoints: np.ndarray  # the 6 BlazeFace points in crop pixels
    quality: dict[str, float]
    score: float = 0.0  # the blending check's P(fake)
    synthesis: float | None = None  # the synthesis check's, with weights that have that head
    mouth: np.ndarray | None = None  # the mouth at its own resolution, for a head that reads it (on this frame)
    motion: np.ndarray | None = None  # the mouth's change to the next frame (faces.mouth_motion; NaN: no next frame)
    features: dict[str, np.ndarray] = field(default_factory=dict)  # a track-level head's input from this crop

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.detection.box


@dataclass(frozen=True)
class Sampled:
    """The faces found on the sampled frames (``per_frame``: the detections of each decoded frame)."""

    samples: list[FaceSample]
    per_frame: list[list[Detection]]
    notes: list[str]
    faces_found: int = 0  # the most faces found in one sampled frame (analysed or not)
    left_out: list[dict] = field(default_factory=list)  # found beyond the cap in that frame: index, time_s, box
    face_limit: int = 10  # Settings.max_faces of this analysis
    photo: np.ndarray | None = None  # the decoded photo (None for a video)


@dataclass(frozen=True)
class Framing:
    """How a face is cropped for the detector (its config), the mouth size a head reads (0: none),
    whether a head reads the mouth's change to the next frame (videos only), and on which sampled
    frames the mouth and its change are read (every ``mouth_every``-th: the 0th, the Nth, ...)."""

    margin: float
    size: int
    mouth_px: int = 0
    motion: bool = False
    mouth_every: int = 1

    @classmethod
    def of(cls, margin: float, size: int, heads: Iterable, kind: str) -> "Framing":
        """The framing for ``heads`` (``config.SynthesisConfig``: the learned heads that judge
        ``kind`` of media): the largest mouth any reads, the motion where one reads it (videos
        only), read on the most frequent frames any of those asks for."""
        heads = list(heads)
        return cls(margin, size, max((h.mouth_px for h in heads), default=0), kind == "video" and any(h.motion for h in heads),
                   min((h.mouth_every for h in heads if h.mouth_px or h.motion), default=1))

    def reads_mouth(self, ordinal: int) -> bool:
        """Whether the mouth is read on the ``ordinal``-th sampled frame (0, 1, 2, ...)."""
        return reads_mouth(ordinal, self.mouth_every)


def reads_mouth(ordinal, every: int):
    """Whether the mouth is read on the ``ordinal``-th sampled frame (an int, or an array of
    them) when it is read on every ``every``-th: the 0th, the Nth, ..."""
    return ordinal % every == 0


def find_faces(path, info: MediaInfo, finder: FaceDetector, framing: Framing, frames: int, max_faces: int,
               clock: Stopwatch, say: Callable[[float, str], None]) -> Sampled:
    """The faces of ``frames`` frames sampled over the file; times "decode" (waiting for a
    frame), "detect" and "crop" on ``clock``."""
    samples, per_frame, rejected = [], [], Counter()
    found_most, left_out, photo = 0, [], None
    n_target = 1 if info.kind == "image" else min(frames, info.frame_count)
    for stage in ("decode", "detect", "crop"):
        clock.times.setdefault(stage, 0.0)
    next_every = framing.mouth_every if framing.motion else 0  # the frames whose mouth change is read
    with contextlib.closing(read_ahead(iter(sample_frames(path, frames, info, next_every=next_every)))) as decoded:
        while (fr := _next(decoded, clock)) is not None:
            with clock("detect"):
                screened = finder.find(fr.rgb)  # too small, implausible and upside-down faces are not scored
                rejected.update(screened.rejected)
                found, dets = screened.faces, screened.faces[:max_faces]
                if len(found) > found_most:  # the frame with the most faces: how many, and which were left out
                    found_most = len(found)
                    left_out = [{"index": fr.index, "time_s": round(fr.time_s, 3), "box": [round(v, 1) for v in d.box]}
                                for d in found[max_faces:]]
                photo = fr.rgb if info.kind == "image" else None
            with clock("crop"):
                samples += [_sample(fr, d, framing, framing.reads_mouth(len(per_frame))) for d in dets]
                per_frame.append(dets)
            say(0.05 + 0.7 * len(per_frame) / max(1, n_target), f"frame {len(per_frame)}/{n_target}: {len(dets)} face(s)")
    notes = sampling_notes(info.kind, found_most, max_faces, left_out, len(per_frame), n_target, rejected)
    return Sampled(samples, per_frame, notes, found_most, left_out, max_faces, photo)


def _next(frames, clock: Stopwatch):
    with clock("decode"):
        return next(frames, None)


def _sample(fr, d: Detection, framing: Framing, reads_mouth: bool) -> FaceSample:
    """A face's crop and quality; its mouth and the mouth's change where ``reads_mouth`` (the
    change is NaN, not measured, on the other frames and where no next frame was read)."""
    crop, kps = square_crop(fr.rgb, d.box, framing.margin, framing.size, d.keypoints)
    mouth = mouth_crop(fr.rgb, d.box, d.keypoints, framing.mouth_px) if framing.mouth_px and reads_mouth else None
    motion = mouth_motion(fr.rgb, fr.next_rgb if reads_mouth else None, d.box, d.keypoints) if framing.motion else None
    return FaceSample(fr.index, fr.time_s, d, crop, kps, face_quality(crop, kps, d.size), mouth=mouth, motion=motion)


def sampling_notes(kind: str, found_most: int, limit: int, left_out: list, decoded: int, wanted: int,
                   rejected: Counter[str]) -> list[str]:
    """The report's notes on the faces left out (over the limit, not scored) and the frames not decoded."""
    notes = []
    if left_out:
        where = "" if kind == "image" else " in one frame"
        notes.append(f"{found_most} faces were found{where}; the {limit} clearest were analysed (to analyse "
                     f"more, raise 'Faces to analyse' in Settings or scan --max-faces, up to {MAX_FACES})")
    if kind == "video" and decoded < wanted:
        notes.append(f"only {decoded} of {wanted} sampled frames could be decoded")
    return notes + rejected_notes(rejected)
