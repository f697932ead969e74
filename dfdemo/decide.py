"""The decision rules, on numbers alone: cuts → verdicts → the deciding check.

Every function here is pure (no model, no file, no clock): given the weights' calibration, the
user's threshold and the scores the stages measured, it chooses the cuts (``choose_cuts``),
reads a face's scores against them (``blending_check``, ``learned_check``), picks the check
that decides a face or the file (``deciding``, ``file_checks``, ``report_cut``) and the
crops whose maps are shown (``explained_crops``), and says in a note what it could not judge.
The order of verdicts is ``report.SEVERITY``; a cut is ``config.Cut``. ``tests/test_decide.py``
tests each rule on numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import MIN_TRACK_FRAMES, Cut, DetectorConfig, SynthesisConfig, TemporalConfig
from .report import CHECK_LABELS, SEVERITY, Check, FaceReport, deciding, judged, make_check, not_checked

SYNTHESIS_NOT_CALIBRATED = ("the generator-traces check has no calibrated threshold for videos with these weights (on "
                            "held-out real clips it fired too often), so only the blending check judged this file")


def aggregate(scores) -> float:
    """A face track's fake probability: the mean of the top half of its frame scores.

    Robust to a few odd frames (blur, occlusion) in either direction, yet a manipulation
    visible in only part of the clip still raises it; documented in the README.
    """
    s = np.sort(np.asarray(scores, np.float64))[::-1]
    return float(s[: max(1, (len(s) + 1) // 2)].mean())


def combine(frame_p: float, temporal_p: float, frame_weight: float) -> float:
    """The blending probability of a face with windows: w * frame score + (1 - w) * temporal score."""
    return float(frame_weight * frame_p + (1.0 - frame_weight) * temporal_p)


@dataclass(frozen=True)
class Cuts:
    """The one choice of cuts for a file: ``frame`` for a frame score, ``combined`` for a face
    whose frame and temporal scores were combined, and each learned check's (by name; None: it
    has no cut for this kind of media and does not judge it)."""

    frame: Cut
    combined: Cut
    learned: dict[str, Cut | None] = field(default_factory=dict)


def choose_cuts(config: DetectorConfig, kind: str, threshold: float | None = None,
                temporal: TemporalConfig | None = None, heads=()) -> Cuts:
    """The user's threshold (with the manual band), else the one calibrated for the media kind;
    a combined score (``temporal``: the temporal check ran) has its own calibrated cut unless
    the user set one; ``heads``: the learned checks the weights have."""
    frame = Cut.manual(threshold) if threshold is not None else config.cut(kind)
    combined = temporal.calibration.cut(kind) or frame if temporal is not None and threshold is None else frame
    learned = config.learned()
    return Cuts(frame, combined, {n: learned[n].cut(kind) for n in heads})


def blending_check(frame_p: float, temporal_p: float | None, frame_weight: float, cuts: Cuts) -> Check:
    """The blending check on a face: its frame score, combined with its temporal score where
    it has one (at the combined cut)."""
    if temporal_p is None:
        return judged("blending", frame_p, cuts.frame)
    return judged("blending", combine(frame_p, temporal_p, frame_weight), cuts.combined)


def frames_needed(head: SynthesisConfig) -> int:
    """The fewest sampled frames a face is seen in for ``head`` to judge it (1 for a crop-level
    head; a track-level head's ``min_frames``, never under ``MIN_TRACK_FRAMES``)."""
    return max(MIN_TRACK_FRAMES, head.min_frames) if head.unit == "track" else 1


def abstains(head: SynthesisConfig, cut: Cut | None, kind: str, size: float, seen: int) -> str | None:
    """Why a learned check does not judge a face (``report.REASONS``), None when it does: no cut
    for this kind of media, a face smaller than it was calibrated for, or (a track-level check)
    a face seen in fewer sampled frames than it judges (``min_frames``)."""
    if cut is None:
        return "needs_video" if kind == "image" and not head.judges(kind) else "not_calibrated"
    if size < head.min_face_px:
        return "face_too_small"
    if seen < frames_needed(head):
        return "too_few_frames"
    return None


def abstain_warning(name: str, head: SynthesisConfig, reason: str | None, size: float, seen: int) -> str | None:
    """The face warning that says why a check did not judge this face (the file-level reasons
    are said once, in a note: ``not_judged_note``)."""
    label = CHECK_LABELS[name].lower()
    if reason == "face_too_small":
        return f"face too small for the {label} check ({size:.0f} px; it is calibrated from {head.min_face_px:.0f} px): not checked"
    if reason == "too_few_frames":
        return (f"seen in {seen} sampled frame{'s' if seen != 1 else ''}, too few for the {label} check (it judges a face "
                f"seen in at least {frames_needed(head)}): not checked")
    return None


def learned_check(name: str, reason: str | None, probability: float | None, cut: Cut | None) -> Check:
    """A learned check's finding on a face: not checked (and why), or its probability at its cut."""
    return not_checked(name, reason) if reason is not None else judged(name, probability, cut)


def file_check(name: str, faces: list[FaceReport]) -> Check:
    """One check over the file: its finding on the file's most suspicious face for that check.
    Where it judged no face, "not_checked" with the reason every face shares (None: they differ),
    or "no_face" without faces."""
    found = [c for f in faces for c in f.checks if c.name == name]
    if found and all(c.verdict == "not_checked" for c in found):
        reasons = {c.reason for c in found}
        return found[0] if len(reasons) == 1 else not_checked(name, None)
    found = [c for c in found if c.verdict != "not_checked"]
    worst = max(found, key=lambda c: (SEVERITY[c.verdict], c.fake_probability), default=None)
    return worst if worst is not None else make_check(name, "no_face", None)


def file_checks(faces: list[FaceReport], learned=()) -> list[Check]:
    """Each check over the file, blending first, then the learned checks in order."""
    return [file_check(name, faces) for name in ("blending", *learned)]


def report_cut(checks: list[Check], cuts: Cuts) -> Cut:
    """The cut the file's verdict is read at: the deciding check's (no face: the frame cut)."""
    decided = deciding(checks)
    return (decided.cut if decided is not None else None) or cuts.frame


def temporal_state(wanted: bool, temporal: TemporalConfig | None, kind: str, frame_count: int) -> tuple[str, str | None]:
    """Whether the temporal check runs on a file (``Report.temporal``: "off", "unavailable",
    "not_applicable" or "used"), and the note that says why not when it was asked for."""
    if not wanted:
        return "off", None
    if temporal is None:
        return "unavailable", "these weights have no temporal head: frame scores only"
    if kind != "video":
        return "not_applicable", "a photo has no motion: the temporal check was skipped, frame score only"
    if frame_count < temporal.window:
        return "not_applicable", (f"the clip has {frame_count} frame(s), fewer than one {temporal.window}-frame "
                                  "window: the temporal check was skipped, frame score only")
    return "used", None


def not_judged_note(name: str, kind: str, head: SynthesisConfig) -> str | None:
    """Why a learned check did not judge this file at all (it has no cut for its kind of media)."""
    if name == "synthesis" and kind == "video":
        return SYNTHESIS_NOT_CALIBRATED
    if not head.judges(kind):
        return (f"the {CHECK_LABELS[name].lower()} check reads how a face moves over the frames of a video: "
                f"it does not judge a {'photo' if kind == 'image' else kind}")
    return (f"the {CHECK_LABELS[name].lower()} check has no calibrated threshold for "
            f"{'photos' if kind == 'image' else 'videos'} with these weights, so it did not judge this file")


def decision_notes(faces: list[FaceReport], cuts: Cuts, kind: str, heads: dict[str, SynthesisConfig],
                   temporal_used: bool) -> list[str]:
    """The notes of the decisions: a face the temporal check did not see through a whole window,
    and a learned check that judged no face of the file for want of a cut."""
    notes = [f"face {f.track_id + 1} was not seen through any whole window: frame score only"
             for f in faces if temporal_used and f.temporal_probability is None]
    if faces:
        notes += [note for name, cut in cuts.learned.items() if cut is None and (note := not_judged_note(name, kind, heads[name]))]
    return notes


def explained_crops(faces: list[FaceReport], scores: dict[int, list[tuple[float, float]]], check: str,
                    k: int) -> list[tuple[int, int]]:
    """Which ``k`` crops to explain, as (track_id, position in that track's crops): first each
    face's most suspicious crop, faces in the order of their finding by ``check`` (the face that
    decides the file first, so it always has a map), then the highest-scored crops left; in
    track order. ``scores[track_id]``: per crop, (its score by ``check``, its blending score)."""
    def finding(f: FaceReport) -> tuple[int, float]:  # the file check's rule (``file_check``)
        c = next((c for c in f.checks if c.name == check and c.verdict in ("real", "uncertain", "fake")), None)
        return (SEVERITY[c.verdict], c.fake_probability) if c else (-1, f.fake_probability)

    ranked = [f.track_id for f in sorted(faces, key=finding, reverse=True)]  # stable: the first of equals first
    order = ranked + [tid for tid in scores if tid not in ranked]
    best = {tid: sorted(range(len(scores[tid])), key=lambda i: (-scores[tid][i][0], -scores[tid][i][1])) for tid in order}
    chosen = [(tid, best[tid][0]) for tid in order][:k]
    rest = sorted(((tid, i) for tid, ii in best.items() for i in ii[1:]), key=lambda p: -scores[p[0]][p[1]][0])
    chosen += rest[: k - len(chosen)]
    return sorted(chosen, key=lambda p: (p[0], -scores[p[0]][p[1]][0]))
