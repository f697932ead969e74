"""Report dataclasses: what one analysis produced. Standard library only (and ``config.Cut``).

Every stage returns plain data; this module turns the final result into JSON with a
stable schema shared by the CLI (``python -m dfdemo scan --json``) and the app's ``/analyze``.
``SEVERITY`` is the one order of verdicts; ``Report``'s query methods (``deciding``,
``cut_of``, ``blending_cut``, ...) are the one place that reads a report of an older version
(no checks, checks without their cut) as its blending check at the report's cut. Heatmaps name
their images (``Analysis.images``), they never hold a path of the machine that made them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import Cut

VERDICTS = ("fake", "real", "uncertain", "no_face")
# a check's verdict in words: what it found, never a claim that the face is real
STRENGTHS = {"fake": "strong signs", "uncertain": "some signs", "real": "none found", "no_face": "not checked",
             "not_checked": "not checked"}  # not_checked: a check without a calibrated cut for this kind of media
# the one order of verdicts, least to most severe: the deciding check, the file's finding per check
# and the order of the heatmaps all read it
SEVERITY = {"not_checked": -1, "no_face": 0, "real": 1, "uncertain": 2, "fake": 3}
# why a check did not judge a face (``Check.reason``; ``words.not_checked_reason`` says it in words)
REASONS = ("needs_video", "not_calibrated", "face_too_small", "too_few_frames")


@dataclass(frozen=True)
class Check:
    """One kind of evidence the analysis looked for, and what it found in the file.

    ``verdict`` follows the same rule as ``Report.verdict``; ``strength`` says it in words
    ("strong signs" / "some signs" / "none found" / "not checked": no face to check).
    """

    name: str  # machine name: "blending", "synthesis" or "animation"
    label: str  # what a person reads, e.g. "Face-swap blending"
    verdict: str
    fake_probability: float | None
    strength: str
    threshold: float | None = None  # the cut this check's probability met (None: not reported)
    uncertain_band: tuple[float, float] | None = None
    # why a "not_checked" check did not run (``REASONS``; None where it ran, or older reports).
    # Not in the JSON (``Report.to_dict``): the report's notes and face warnings say it in words
    reason: str | None = None

    @property
    def cut(self) -> Cut | None:
        """The cut this check's probability met (None: not reported)."""
        return Cut.at(self.threshold, self.uncertain_band)


CHECK_LABELS = {"blending": "Face-swap blending", "synthesis": "Generator traces", "animation": "Lip-sync / face animation"}
CLASSIFIER_LABEL = "Deepfake classifier"  # the "blending" check's label when the detector is a Hub classifier


def make_check(name: str, verdict: str, probability: float | None, threshold: float | None = None,
               band: tuple[float, float] | None = None, reason: str | None = None) -> Check:
    """One check's row: ``"blending"`` (the frame detector, with the temporal check when used)
    or a learned check (``"synthesis"``, ``"animation"``)."""
    return Check(name, CHECK_LABELS[name], verdict, probability, STRENGTHS[verdict], threshold,
                 None if band is None else tuple(band), reason)


def judged(name: str, probability: float, cut: Cut) -> Check:
    """A check that judged a face: its probability read against its cut."""
    return make_check(name, cut.verdict(probability), probability, cut.threshold, cut.band)


def not_checked(name: str, reason: str | None) -> Check:
    """A check that did not judge a face, and why (``REASONS``)."""
    return make_check(name, "not_checked", None, reason=reason)


def blending_check(verdict: str, probability: float | None) -> Check:
    """The face-swap blending check (the frame detector, with the temporal check when used)."""
    return make_check("blending", verdict, probability)


def deciding(checks: list[Check]) -> Check | None:
    """The check whose verdict the face or file takes: the most severe one (fake, then
    uncertain, then real); on a tie the first (blending), so a second check changes nothing
    until it finds more than the first."""
    return max(checks, key=lambda c: SEVERITY[c.verdict], default=None)


@dataclass(frozen=True)
class FrameScore:
    """One face in one sampled frame. ``box`` is (x0, y0, x1, y1) in source-frame pixels."""

    index: int
    time_s: float
    box: tuple[float, float, float, float]
    fake_probability: float  # the blending check's
    detection_score: float = 0.0
    synthesis_probability: float | None = None  # the synthesis check's (weights with that head)


@dataclass(frozen=True)
class WindowScore:
    """The temporal head's score of one window of consecutive frames of one face."""

    start_index: int
    end_index: int  # inclusive
    start_s: float
    end_s: float
    fake_probability: float  # temporal head
    frame_probability: float  # mean frame-detector score of the same frames


@dataclass(frozen=True)
class Heatmap:
    """A Grad-CAM explanation of one face crop. Images are paths (PNG) when written to disk."""

    track_id: int
    frame_index: int
    time_s: float
    fake_probability: float
    region_shares: dict[str, float]
    top_region: str
    overlay_path: str | None = None
    # learned manipulation map (weights with a mask head only): mean activation and where it lies
    learned_map_mean: float | None = None
    learned_map_shares: dict[str, float] | None = None
    learned_map_path: str | None = None
    # the check whose score the map explains ("blending", or "synthesis" when that check
    # decided the file); ``fake_probability`` is that check's score of the crop
    check: str = "blending"


@dataclass(frozen=True)
class FaceReport:
    """One face track: the same person followed over the sampled frames."""

    track_id: int
    fake_probability: float
    verdict: str
    frames: list[FrameScore]
    face_size_px: float = 0.0
    score_spread: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # temporal check (weights with a temporal head, when used): the blending probability is
    # then the combination of these two, see dfdemo/temporal.py
    frame_probability: float | None = None
    temporal_probability: float | None = None
    windows: list[WindowScore] = field(default_factory=list)
    # each check's finding on this face (blending; synthesis when the weights have that head).
    # ``fake_probability`` and ``verdict`` are those of the deciding check (``deciding``)
    checks: list[Check] = field(default_factory=list)

    def blending(self) -> Check:
        """The blending check's finding on this face (a face of an older report: its own verdict)."""
        return next((c for c in self.checks if c.name == "blending"), None) or blending_check(self.verdict, self.fake_probability)

    def deciding(self) -> Check:
        """The check whose verdict this face takes."""
        return deciding(self.checks) if self.checks else self.blending()


@dataclass(frozen=True)
class Report:
    """The analysis of one file. ``fake_probability`` is ``None`` when no face was found."""

    file: str
    kind: str  # "video" or "image"
    verdict: str
    fake_probability: float | None
    frames_analyzed: int
    frames_with_face: int
    faces: list[FaceReport]
    timings_s: dict[str, float]
    model: str
    threshold: float
    uncertain_band: tuple[float, float]
    media: dict[str, Any]
    heatmaps: list[Heatmap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # "off" (not asked), "used", "unavailable" (the weights have no temporal head) or
    # "not_applicable" (a photo, a clip shorter than one window, or no face in any window)
    temporal: str = "off"
    # the kinds of evidence looked for, each with its verdict in words, and how well the weights
    # measured on held-out data (config.json → dfdemo.extra.accuracy; {} when none recorded).
    # ``verdict``, ``fake_probability``, ``threshold`` and ``uncertain_band`` are those of the
    # deciding check (``deciding``: the most severe, blending on a tie)
    checks: list[Check] = field(default_factory=list)
    accuracy: dict[str, Any] = field(default_factory=dict)
    # how many faces were found in the sampled frame with the most faces, how many a frame may
    # have analysed (``Settings.max_faces``), and the faces of that frame left out by that limit
    # (``index``, ``time_s``, ``box``; the clearest faces are analysed, these are not)
    faces_found: int = 0
    face_limit: int = 0
    faces_left_out: list[dict[str, Any]] = field(default_factory=list)
    # a detector that is not dfdemo's own (a timm or transformers classifier): ``family``,
    # ``architecture``, ``fake_classes`` (its classes read as fake), ``measured`` (its accuracy
    # measured here), ``calibrated`` (its cut); {} for dfdemo's weights, and then not in the JSON
    detector: dict[str, Any] = field(default_factory=dict)

    # -- queries: a report of an older version (no checks, checks without their cut) reads as
    # its blending check at the report's own cut; this is the one place that knows it
    def all_checks(self) -> list[Check]:
        """The file's checks as they were listed (an older report: its blending finding)."""
        return self.checks or [blending_check(self.verdict, self.fake_probability)]

    def deciding(self) -> Check:
        """The check that decides the file: the most severe (blending on a tie, ``deciding``)."""
        return deciding(self.all_checks())

    def check(self, name: str) -> Check | None:
        return next((c for c in self.all_checks() if c.name == name), None)

    @property
    def cut(self) -> Cut:
        """The cut of the file's verdict (the deciding check's)."""
        return Cut(self.threshold, tuple(self.uncertain_band))

    def cut_of(self, check: Check | None) -> Cut:
        """The cut ``check``'s probability met: its own, else (older reports) the file's."""
        return (check.cut if check is not None else None) or self.cut

    def blending_cut(self) -> Cut:
        """The blending check's cut over the file (what frame scores are drawn against)."""
        return self.cut_of(next((c for c in self.checks if c.name == "blending" and c.threshold is not None), None))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for c in [*d["checks"], *(c for f in d["faces"] for c in f["checks"])]:
            c.pop("reason", None)  # said in words by the notes and warnings; the JSON schema stays as it was
        if not d["detector"]:
            d.pop("detector")  # dfdemo's own weights: the JSON stays as it was
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)


def reports_to_json(reports: list[Report], indent: int | None = 2) -> str:
    return json.dumps([r.to_dict() for r in reports], indent=indent, sort_keys=True)


def verdict_for(probability: float | None, threshold: float, band: tuple[float, float]) -> str:
    """Map a fake probability to a verdict (``Cut.verdict``): inside ``band`` 'uncertain'."""
    return Cut(threshold, band).verdict(probability)
