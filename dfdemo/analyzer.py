"""The one place that glues the stages: media → faces → detector → decisions → explanation → report.

``Analyzer.load(weights)`` loads the detector and the face detector once;
``analyzer.analyze(path, settings, progress)`` returns an ``Analysis``: the JSON-ready
``Report`` plus the images it names (heatmap overlays, learned maps), face thumbnails and the
photo. The analyzer writes nothing: whoever shows the images writes them (``Analysis.write_images``).
``analyze`` is a recipe over stage functions: the media (``media``), the faces and their quality
(``faces``), the detector's scores, the temporal windows (``temporal.window_scores``), the
decision rules (``decide``: cuts, verdicts, the deciding check) and the maps (``explain``).
One analyzer may serve several threads: the face detector and the Grad-CAM step take turns on
their shared state (locks inside the library), scoring runs in parallel.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import decide
from .decide import aggregate  # noqa: F401 (the lab scores tracks as the product does)
from .detector import Detector, load_detector
from .errors import DfdemoError, MediaError
from .explain import cam_maps, heatmaps
from .faces import FaceDetector, Track, appearance, drop_weak_tracks, face_warnings, link_tracks
from .foreign import NOT_CALIBRATED
from .media import MediaInfo, probe, write_png
from .report import CLASSIFIER_LABEL, Check, FaceReport, FrameScore, Heatmap, Report, deciding
from .sampling import MAX_FACES, FaceSample, Framing, Sampled, find_faces
from .stopwatch import Stopwatch
from .temporal import TemporalCheck, temporal_check

Progress = Callable[[float, str], None]
FACES_COUNTED = 500  # faces found per frame are counted (and the ones left out shown) up to this many


@dataclass(frozen=True)
class Settings:
    """What an analysis does. ``threshold=None`` uses the one calibrated with the weights."""

    frames: int = 32
    heatmaps: int = 4
    threshold: float | None = None
    max_faces: int = 10  # faces analysed per frame, the clearest first (1..MAX_FACES); the others are counted
    max_duration_s: float | None = None  # refuse longer videos (the app sets this)
    temporal: bool | None = None  # temporal check over windows of consecutive frames; None = the weights' default
    windows: int | None = None  # how many windows; None = the weights' default

    def __post_init__(self):
        t = self.threshold
        if t is not None and not (isinstance(t, (int, float)) and 0.0 <= t <= 1.0):  # NaN fails every comparison
            raise DfdemoError(f"the threshold must be a number from 0 to 1, not {t!r}")
        if not 1 <= self.max_faces <= MAX_FACES:
            raise DfdemoError(f"faces to analyse must be between 1 and {MAX_FACES}, got {self.max_faces}")


@dataclass
class Analysis:
    """The JSON-ready ``Report`` and the images it names: ``images`` holds, under the file name
    each heatmap gives (``overlay_path``, ``learned_map_path``: names such as
    ``clip_face1_frame3.png``, never paths), its RGB uint8 image."""

    report: Report
    images: dict[str, np.ndarray] = field(default_factory=dict)
    face_thumbnails: dict[int, np.ndarray] = field(default_factory=dict)  # track_id → RGB crop
    photo: np.ndarray | None = None  # a photo as analysed (RGB), to show where its faces are

    def write_images(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write every image as ``folder/NAME`` (PNG; the folder is made); name → path written."""
        if not self.images:
            return {}
        out = Path(folder)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DfdemoError(f"{out}: cannot make the heatmap folder ({(e.strerror or str(e)).lower()})") from None
        for name, rgb in self.images.items():
            write_png(out / name, rgb)
        return {name: out / name for name in self.images}


@dataclass(frozen=True)
class _Tracked:
    """Each person's scored samples, in track order, and what tracking had to say."""

    tracks: list[Track]
    samples: dict[int, list[FaceSample]]  # track_id → its samples, frame order
    notes: list[str]


def _stacked(rows: list) -> np.ndarray | None:
    """The samples' mouth motions as one array; None where the framing measured none."""
    return np.stack(rows) if rows and rows[0] is not None else None


def _name_stem(path) -> str:
    """The input's name without suffix, cut to 100 bytes: image names stay under the 255-byte
    limit of file systems whatever the input is called."""
    return Path(path).stem.encode()[:100].decode(errors="ignore")


class Analyzer:
    """The one public object: a detector and a face detector, loaded once, reused per file."""

    def __init__(self, detector: Detector, faces: FaceDetector):
        self.detector = detector
        self.faces = faces

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None, fake_label: str | None = None) -> "Analyzer":
        # the face detector returns every face it finds: Settings.max_faces chooses how many are
        # analysed, and the others are counted and reported as left out (``fake_label``: which
        # classes of a Hub classifier are fake, when its labels do not say, ``load_detector``)
        return cls(load_detector(weights, fake_label), FaceDetector(max_faces=FACES_COUNTED))

    def close(self) -> None:
        self.faces.close()

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def model_id(self) -> str:
        return self.detector.config.model_id

    def analyze(self, path: str | os.PathLike, settings: Settings = Settings(), progress: Progress | None = None, *,
                name: str | None = None) -> Analysis:
        """Analyse one video or image; ``name`` is what the report calls the file (default: ``path``).
        Raises MediaError for input that cannot be analysed."""
        say, clock, cfg = progress or (lambda f, m: None), Stopwatch(), self.detector.config
        name = str(path) if name is None else name
        with clock("total"):
            with clock("probe"):
                say(0.0, "reading the file")
                info = self._probe(path, settings)
            sampled = find_faces(path, info, self.faces, self._framing(info.kind), settings.frames, settings.max_faces, clock, say)
            tracked = self._score_tracks(sampled, info.kind, clock, say)
            seen = {tid: [(s.time_s, s.box) for s in ss] for tid, ss in tracked.samples.items()}
            temporal = temporal_check(path, info, seen, settings.temporal, settings.windows, self.detector,
                                      self.faces.detect, settings.max_faces, clock, say)
            cuts = decide.choose_cuts(cfg, info.kind, settings.threshold,
                                      self.detector.temporal_config if temporal.state == "used" else None,
                                      self.detector.learned_heads)
            with clock("report"):
                faces = [self._face_report(tr, tracked.samples[tr.track_id], temporal, cuts, info.kind) for tr in tracked.tracks]
            with clock("explain"):
                say(0.85, "explaining the most suspicious faces")
                checks = decide.file_checks(faces, cuts.learned)  # the maps explain the check that decides the file
                heatmaps, images = self._explain(tracked.samples, settings.heatmaps, _name_stem(name), deciding(checks).name, faces)
        say(1.0, "done")
        faces, checks = self._relabelled(faces, checks)
        notes = [*info.notes, *sampled.notes, *tracked.notes, *([temporal.note] if temporal.note else []),
                 *decide.decision_notes(faces, cuts, info.kind, cfg.learned(), temporal.state == "used"),
                 *(n for n in self.detector.notes if settings.threshold is None or n != NOT_CALIBRATED)]
        cut, decided = decide.report_cut(checks, cuts), deciding(checks)
        report = Report(
            file=name, kind=info.kind, verdict=decided.verdict, fake_probability=decided.fake_probability,
            frames_analyzed=len(sampled.per_frame), frames_with_face=sum(1 for d in sampled.per_frame if d), faces=faces,
            timings_s=clock.rounded(), model=self.model_id, threshold=cut.threshold, uncertain_band=tuple(cut.band),
            media={"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                   "duration_s": round(info.duration_s, 3), "frame_count": info.frame_count, "rotation": info.rotation},
            heatmaps=heatmaps, notes=notes, temporal=temporal.state, checks=checks, accuracy=cfg.accuracy,
            faces_found=sampled.faces_found, face_limit=sampled.face_limit, faces_left_out=sampled.left_out,
            detector=self._detector_info())
        thumbs = {tr.track_id: max(tracked.samples[tr.track_id], key=lambda s: s.score).crop for tr in tracked.tracks}
        return Analysis(report, images, thumbs, sampled.photo)

    def _relabelled(self, faces: list[FaceReport], checks: list[Check]) -> tuple[list[FaceReport], list[Check]]:
        """A Hub classifier's score is not dfdemo's face-swap blending check: its checks say so."""
        if self.detector.origin.family == "dfdemo":
            return faces, checks

        def fix(cs: list[Check]) -> list[Check]:
            return [replace(c, label=CLASSIFIER_LABEL) if c.name == "blending" else c for c in cs]
        return [replace(f, checks=fix(f.checks)) for f in faces], fix(checks)

    def _detector_info(self) -> dict:
        """What the report says of a detector that is not dfdemo's own ({} for dfdemo's weights)."""
        origin, cfg = self.detector.origin, self.detector.config
        if origin.family == "dfdemo":
            return {}
        return {"family": origin.family, "architecture": cfg.architecture, "fake_classes": list(origin.fake_classes),
                "measured": bool(cfg.accuracy), "calibrated": NOT_CALIBRATED not in origin.notes}

    @staticmethod
    def _probe(path, settings: Settings) -> MediaInfo:
        """Describe the file (a photo is decoded here, once); refuse a video over the length limit."""
        info = probe(path, check_beyond_s=settings.max_duration_s)  # a stated length over the limit is checked
        if settings.max_duration_s and info.kind == "video" and info.duration_s > settings.max_duration_s:
            raise MediaError(f"{path}: the video lasts {info.duration_s:.0f} s, longer than the {settings.max_duration_s:.0f} s limit")
        return info

    def _framing(self, kind: str) -> Framing:
        cfg = self.detector.config
        return Framing.of(cfg.crop_margin, cfg.input_size, self.detector.judging(kind).values(), kind)

    def _score_tracks(self, sampled: Sampled, kind: str, clock: Stopwatch, say: Progress) -> _Tracked:
        """Follow each person over the frames (appearance tells people apart across cuts), then
        score every crop in one batched pass (the mouth pass only over the faces seen often
        enough for the check that reads the mouth to judge them)."""
        looks = {id(s.detection): appearance(s.crop) for s in sampled.samples}
        tracks, weak = drop_weak_tracks(link_tracks(sampled.per_frame, [[looks[id(d)] for d in dets] for dets in sampled.per_frame]))
        judging = self.detector.judging(kind)
        need = min((decide.frames_needed(h) for h in judging.values() if h.mouth_px), default=1)
        judged = {id(d) for tr in tracks if len(tr.detections) >= need for d in tr.detections}
        notes = [f"{weak} faint face detection(s) beside a clear face were ignored (most likely not faces)"] if weak else []
        with clock("classify"):
            say(0.75, f"scoring {len(sampled.samples)} face crops")
            samples = sampled.samples
            both = self.detector.scores(np.stack([s.crop for s in samples]),
                                        [s.mouth if id(s.detection) in judged else None for s in samples],
                                        heads=list(judging),
                                        motion=_stacked([s.motion for s in samples])) if samples else None
            blend = both.blending if both else []
            synth = both.synthesis if both is not None and both.synthesis is not None else [None] * len(blend)
            feats = both.features if both else {}
            scored = {id(s.detection): replace(s, score=float(p), synthesis=None if q is None else float(q), mouth=None, motion=None,
                                               features={n: f[i] for n, f in feats.items()})
                      for i, (s, p, q) in enumerate(zip(sampled.samples, blend, synth))}
        return _Tracked(tracks, {tr.track_id: [scored[id(d)] for d in tr.detections] for tr in tracks}, notes)

    def _face_report(self, track: Track, samples: list[FaceSample], temporal: TemporalCheck, cuts: decide.Cuts,
                     kind: str) -> FaceReport:
        """One person's checks (``decide``): the frame scores aggregated, combined with the
        windows' when there are any; each learned check at its cut, or why it did not judge."""
        sc = np.array([s.score for s in samples])
        frame_p = aggregate(sc)
        wins = temporal.windows.get(track.track_id, [])
        temporal_p = aggregate(np.array([w.fake_probability for w in wins])) if wins else None
        weight = self.detector.temporal_config.frame_weight if wins else 1.0
        size = float(np.median([s.quality["size_px"] for s in samples]))
        heads = self.detector.config.learned()
        why = {n: decide.abstains(heads[n], cut, kind, size, len(samples)) for n, cut in cuts.learned.items()}
        checks = [decide.blending_check(frame_p, temporal_p, weight, cuts)]
        checks += [decide.learned_check(n, why[n], None if why[n] else self._learned_probability(n, samples), cut)
                   for n, cut in cuts.learned.items()]
        said = [w for n in cuts.learned if (w := decide.abstain_warning(n, heads[n], why[n], size, len(samples)))]
        decided = deciding(checks)
        return FaceReport(
            track_id=track.track_id, fake_probability=decided.fake_probability, verdict=decided.verdict,
            frames=[FrameScore(s.index, round(s.time_s, 3), tuple(round(v, 1) for v in s.box), s.score,
                               round(d.score, 3), s.synthesis) for s, d in zip(samples, track.detections)],
            face_size_px=size, score_spread=float(sc.std()),
            warnings=face_warnings([s.quality for s in samples], kind == "video") + said,
            frame_probability=frame_p if temporal.state == "used" else None, temporal_probability=temporal_p, windows=wins,
            checks=checks)

    def _learned_probability(self, name: str, samples: list[FaceSample]) -> float:
        """A learned check's P(fake) of one face: its track head's, or its crops' aggregated."""
        if self.detector.config.learned()[name].unit == "track":
            return self.detector.track_probability(name, np.stack([s.features[name] for s in samples]))
        return aggregate(np.array([s.synthesis for s in samples]))

    def _explain(self, track_samples: dict[int, list[FaceSample]], k: int, stem: str, check: str,
                 faces: list[FaceReport]) -> tuple[list[Heatmap], dict[str, np.ndarray]]:
        """Grad-CAM of ``check``'s score on ``k`` crops (``decide.explained_crops``), and the
        learned map (a blending map) beside the blending check's: the heatmaps and their images."""
        if k <= 0 or not track_samples:
            return [], {}
        score = self._explained_score(check, faces)
        picks = decide.explained_crops(faces, {tid: [(score(tid, s), s.score) for s in ss] for tid, ss in track_samples.items()},
                                       check, k)
        chosen = [(tid, track_samples[tid][i]) for tid, i in picks]
        maps, masks = cam_maps(self.detector, check, np.stack([s.crop for _, s in chosen]))
        return heatmaps(chosen, maps, masks, [score(tid, s) for tid, s in chosen], stem, check)

    def _explained_score(self, check: str, faces: list[FaceReport]) -> Callable[[int, FaceSample], float]:
        """A crop's score by ``check``: a track-level check's is its face's probability (its report's)."""
        if check not in self.detector.learned_heads:
            return lambda tid, s: s.score
        if self.detector.config.learned()[check].unit != "track":
            return lambda tid, s: s.synthesis
        track_p = {f.track_id: next((c.fake_probability for c in f.checks if c.name == check and c.fake_probability is not None),
                                    0.0) for f in faces}
        return lambda tid, s: track_p.get(tid, 0.0)
