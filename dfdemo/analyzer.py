"""The one place that glues the stages: media → faces → detector → explanation → report.

``Analyzer.load(weights)`` loads the detector and the face detector once;
``analyzer.analyze(path, settings, progress)`` returns an ``Analysis``: the JSON-ready
``Report`` plus the images (face thumbnails, learned-map overlays) that the app shows.
``analyze`` is a short sequence of named steps with small frozen dataclasses between them
(probe → find faces → track and score → temporal check → cuts → face reports → explain →
report). One analyzer may serve several threads: the face detector and the Grad-CAM step
take turns on their shared state (locks inside the library), scoring runs in parallel.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections import Counter
from typing import Callable, Iterator, TypeVar

import cv2
import numpy as np

from .config import Cut, cut_at, manual_cut
from .detector import Detector, load_detector
from .errors import DfdemoError, MediaError
from .explain import gradcam, overlay, region_shares, top_region
from .faces import MIN_FACE_PX, MIN_FACE_SHARE, Detection, FaceDetector, Track, appearance, drop_weak_tracks, follow, link_tracks, mouth_crop, square_crop
from .media import MediaInfo, probe, read_windows, sample_frames, window_starts
from .report import CHECK_LABELS, Check, FaceReport, FrameScore, Heatmap, Report, WindowScore, deciding, make_check, verdict_for
from .temporal import combine, window_probabilities

Progress = Callable[[float, str], None]
T = TypeVar("T")

SMALL_FACE_PX = 64
DARK_LUMA = 50
BLURRY_LAPLACIAN = 30.0
TURNED_YAW = 0.35
SEVERITY = {"real": 0, "uncertain": 1, "fake": 2}
MAX_FACES = 50  # the most faces analysed per frame (Settings.max_faces, scan --max-faces, the app's slider)
FACES_COUNTED = 500  # faces found per frame are counted (and the ones left out shown) up to this many
SYNTHESIS_NOT_CALIBRATED = ("the generator-traces check has no calibrated threshold for videos with these weights (on "
                            "held-out real clips it fired too often), so only the blending check judged this file")
MIN_TRACK_CROPS = 2  # a track-level check (lip-sync / animation) needs a face seen in this many frames


def not_judged_note(name: str, kind: str, head) -> str | None:
    """Why a learned check did not judge this file at all (None: it did, or it has a cut)."""
    if name == "synthesis" and kind == "video":
        return SYNTHESIS_NOT_CALIBRATED
    if not head.judges(kind):
        return (f"the {CHECK_LABELS[name].lower()} check reads how a face moves over the frames of a video: "
                f"it does not judge a {'photo' if kind == 'image' else kind}")
    return (f"the {CHECK_LABELS[name].lower()} check has no calibrated threshold for "
            f"{'photos' if kind == 'image' else 'videos'} with these weights, so it did not judge this file")


@dataclass(frozen=True)
class Settings:
    """What an analysis does. ``threshold=None`` uses the one calibrated with the weights."""

    frames: int = 32
    heatmaps: int = 4
    threshold: float | None = None
    max_faces: int = 10  # faces analysed per frame, the clearest first (1..MAX_FACES); the others are counted
    max_duration_s: float | None = None  # refuse longer videos (the app sets this)
    heatmap_dir: str | None = None  # write heatmap overlays as PNG here
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
    """The JSON-ready ``Report`` and the images the app shows beside it."""

    report: Report
    face_thumbnails: dict[int, np.ndarray] = field(default_factory=dict)  # track_id → RGB crop
    learned_maps: list[np.ndarray] = field(default_factory=list)  # overlays of the learned map, when the weights have one
    photo: np.ndarray | None = None  # a photo as analysed (RGB), to show where its faces are


@dataclass(frozen=True)
class _FaceSample:
    """One face in one sampled frame: its detection, its crop and (once scored) its P(fake)."""

    index: int  # frame index in the file
    time_s: float
    detection: Detection
    crop: np.ndarray  # RGB uint8 (S, S, 3), the detector's framing
    keypoints: np.ndarray  # the 6 BlazeFace points in crop pixels
    quality: dict[str, float]
    score: float = 0.0  # the blending check's P(fake)
    synthesis: float | None = None  # the synthesis check's, with weights that have that head
    mouth: np.ndarray | None = None  # the mouth at its own resolution, for a head that reads it
    features: dict[str, np.ndarray] = field(default_factory=dict)  # a track-level head's input from this crop

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.detection.box


@dataclass(frozen=True)
class _Sampled:
    """The faces found on the sampled frames (``per_frame``: the detections of each decoded frame)."""

    samples: list[_FaceSample]
    per_frame: list[list[Detection]]
    notes: list[str]
    faces_found: int = 0  # the most faces found in one sampled frame (analysed or not)
    left_out: list[dict] = field(default_factory=list)  # found beyond the cap in that frame: index, time_s, box
    face_limit: int = 10  # Settings.max_faces of this analysis
    photo: np.ndarray | None = None  # the decoded photo (None for a video)


@dataclass(frozen=True)
class _Tracked:
    """Each person's scored samples, in track order, and what tracking had to say."""

    tracks: list[Track]
    samples: dict[int, list[_FaceSample]]  # track_id → its samples, frame order
    notes: list[str]


@dataclass(frozen=True)
class _TemporalCheck:
    """Whether the temporal check ran (``Report.temporal``), its windows per track, and the note."""

    state: str  # "off", "used", "unavailable" or "not_applicable"
    windows: dict[int, list[WindowScore]]
    note: str | None = None


@dataclass(frozen=True)
class _Cuts:
    """The one choice of threshold and band: ``frame`` for a frame score, ``combined`` for a
    face whose frame and temporal scores were combined, and each learned check's (by name:
    "synthesis", "animation"; None: it has no cut for this kind of media and does not judge it)."""

    frame: Cut
    combined: Cut
    learned: dict[str, Cut | None] = field(default_factory=dict)  # the weights' learned checks, judged or not

    @property
    def synthesis(self) -> Cut | None:
        return self.learned.get("synthesis")



def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield from ``items`` while a thread produces the next ``depth`` of them.

    Frame decoding (FFmpeg) and face detection (LiteRT) both release the GIL, so the next
    sampled frame is decoded while this one is searched for faces. At most ``depth`` items
    wait in memory; an error of the reader is raised here; stopping early stops the reader.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def read() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, end))
        except BaseException as e:  # handed to the consumer, raised there
            put((False, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator releases its file here, in the thread that ran it

    reader = threading.Thread(target=read, name="dfdemo-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        reader.join()


def aggregate(scores: np.ndarray) -> float:
    """A face track's fake probability: the mean of the top half of its frame scores.

    Robust to a few odd frames (blur, occlusion) in either direction, yet a manipulation
    visible in only part of the clip still raises it; documented in the README.
    """
    s = np.sort(np.asarray(scores, np.float64))[::-1]
    return float(s[: max(1, (len(s) + 1) // 2)].mean())


def face_quality(crop: np.ndarray, keypoints: np.ndarray, box_size: float) -> dict[str, float]:
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    c = grey.shape[0] // 4
    centre = grey[c:-c, c:-c]
    reye, leye, nose = keypoints[0], keypoints[1], keypoints[2]
    d = max(np.linalg.norm(leye - reye), 1e-3)
    yaw = float(np.dot(nose - (reye + leye) / 2, (leye - reye) / d) / d)
    return {"size_px": float(box_size), "brightness": float(centre.mean()),
            "sharpness": float(cv2.Laplacian(centre, cv2.CV_64F).var()), "yaw": yaw}


def face_warnings(q: list[dict[str, float]], is_video: bool = True) -> list[str]:
    med = {k: float(np.median([x[k] for x in q])) for k in q[0]}
    out = []
    if med["size_px"] < SMALL_FACE_PX:
        out.append(f"small face ({med['size_px']:.0f} px): fine detail is lost, scores are less reliable")
    if med["sharpness"] < BLURRY_LAPLACIAN:
        out.append("blurry face: blur hides (and can imitate) blending traces")
    if med["brightness"] < DARK_LUMA:
        out.append("dark face: low light hides detail")
    if abs(med["yaw"]) > TURNED_YAW:
        out.append("face turned away from the camera: detectors are less reliable on profiles")
    if is_video and len(q) < 3:
        out.append(f"seen in only {len(q)} frame(s)")
    return out


def rejected_notes(rejected: Counter[str]) -> list[str]:
    """The report's notes on face detections that were not scored (``FaceDetector.find``)."""
    said = {"small": f"face detection(s) under {MIN_FACE_PX} px or {MIN_FACE_SHARE:.0%} of the frame's longest side "
                     "were not scored (too small to judge; most likely not faces)",
            "implausible": "face detection(s) whose eyes, nose, mouth and ears are not laid out as in a face were not scored",
            "upside_down": "weak face detection(s) were not scored: the picture seems upside down (a face is found "
                           "clearly only when it is turned over); turn it upright and analyse it again"}
    return [f"{rejected[k]} {said[k]}" for k in said if rejected[k]]


def _name_stem(path) -> str:
    """The input's name without suffix, cut to 100 bytes: heatmap file names stay under the
    255-byte limit of file systems whatever the input is called."""
    return Path(path).stem.encode()[:100].decode(errors="ignore")


def _write_png(path: str, rgb: np.ndarray) -> None:
    try:
        ok = cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:  # OpenCV returns False (no exception) for a folder it cannot write to
        raise DfdemoError(f"{Path(path).parent}: cannot write the heatmap image {Path(path).name} there")


class Analyzer:
    """The one public object: a detector and a face detector, loaded once, reused per file."""

    def __init__(self, detector: Detector, faces: FaceDetector):
        self.detector = detector
        self.faces = faces

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None) -> "Analyzer":
        # the face detector returns every face it finds: Settings.max_faces chooses how many are
        # analysed, and the others are counted and reported as left out
        return cls(load_detector(weights), FaceDetector(max_faces=FACES_COUNTED))

    def close(self) -> None:
        self.faces.close()

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def model_id(self) -> str:
        return self.detector.config.model_id


    def analyze(self, path: str | os.PathLike, settings: Settings = Settings(), progress: Progress | None = None) -> Analysis:
        """Analyse one video or image. Raises MediaError for input that cannot be analysed."""
        report_progress = progress or (lambda f, m: None)
        timings: dict[str, float] = {}
        t_all = time.perf_counter()
        info = self._probe(path, settings, timings, report_progress)
        sampled = self._find_faces(path, info, settings, timings, report_progress)
        tracked = self._score_tracks(sampled, info.kind, timings, report_progress)
        temporal = self._temporal(path, info, tracked, settings, timings, report_progress)
        cuts = self._cuts(info.kind, settings, temporal.state)
        t = time.perf_counter()
        faces = [self._face_report(tr, tracked.samples[tr.track_id], temporal, cuts, info.kind) for tr in tracked.tracks]
        timings["report"] = time.perf_counter() - t
        t = time.perf_counter()
        report_progress(0.85, "explaining the most suspicious faces")
        checks = self._file_checks(faces, cuts)  # the maps explain the check that decides the file
        heatmaps, learned = self._explain(tracked.samples, settings, path, deciding(checks).name, faces)
        timings["explain"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_all
        report_progress(1.0, "done")
        notes = [*info.notes, *sampled.notes, *tracked.notes, *([temporal.note] if temporal.note else []),
                 *(f"face {f.track_id + 1} was not seen through any whole window: frame score only"
                   for f in faces if temporal.state == "used" and f.temporal_probability is None),
                 *self._learned_notes(faces, cuts, info.kind)]
        report = self._report(path, info, sampled, faces, checks, heatmaps, notes, temporal.state, cuts, timings)
        thumbs = {tr.track_id: max(tracked.samples[tr.track_id], key=lambda s: s.score).crop for tr in tracked.tracks}
        return Analysis(report, thumbs, learned, sampled.photo)

    def _probe(self, path, settings: Settings, timings, report_progress) -> MediaInfo:
        """Describe the file (a photo is decoded here, once); refuse a video over the length limit."""
        t = time.perf_counter()
        report_progress(0.0, "reading the file")
        info = probe(path, check_beyond_s=settings.max_duration_s)  # a stated length over the limit is checked
        timings["probe"] = time.perf_counter() - t
        if settings.max_duration_s and info.kind == "video" and info.duration_s > settings.max_duration_s:
            raise MediaError(f"{path}: the video lasts {info.duration_s:.0f} s, longer than the {settings.max_duration_s:.0f} s limit")
        return info

    def _score_tracks(self, sampled: _Sampled, kind: str, timings, report_progress) -> _Tracked:
        """Follow each person over the frames (appearance tells people apart across cuts), then
        score every crop in one batched pass."""
        looks = {id(s.detection): appearance(s.crop) for s in sampled.samples}
        tracks, weak = drop_weak_tracks(link_tracks(sampled.per_frame, [[looks[id(d)] for d in dets] for dets in sampled.per_frame]))
        notes = [f"{weak} faint face detection(s) beside a clear face were ignored (most likely not faces)"] if weak else []
        t = time.perf_counter()
        report_progress(0.75, f"scoring {len(sampled.samples)} face crops")
        mouths = [s.mouth for s in sampled.samples]
        both = self.detector.scores(np.stack([s.crop for s in sampled.samples]),
                                    np.stack(mouths) if mouths and mouths[0] is not None else None,
                                    heads=[n for n, h in self.detector.config.learned().items() if h.judges(kind)]) if sampled.samples else None
        blend = both.blending if both else []
        synth = both.synthesis if both is not None and both.synthesis is not None else [None] * len(blend)
        feats = both.features if both else {}
        scored = {id(s.detection): replace(s, score=float(p), synthesis=None if q is None else float(q), mouth=None,
                                           features={n: f[i] for n, f in feats.items()})
                  for i, (s, p, q) in enumerate(zip(sampled.samples, blend, synth))}
        timings["classify"] = time.perf_counter() - t
        return _Tracked(tracks, {tr.track_id: [scored[id(d)] for d in tr.detections] for tr in tracks}, notes)

    def _temporal(self, path, info: MediaInfo, tracked: _Tracked, settings: Settings, timings, report_progress) -> _TemporalCheck:
        state, note = self._temporal_state(settings, info)
        if state != "used":
            return _TemporalCheck(state, {}, note)
        t = time.perf_counter()
        report_progress(0.8, "temporal check: reading windows of consecutive frames")
        windows = self._windows(path, info, tracked.samples, settings)
        timings["temporal"] = time.perf_counter() - t
        if not any(windows.values()):
            return _TemporalCheck("not_applicable", windows,
                                  "no face was seen through a whole window of consecutive frames: frame score only")
        return _TemporalCheck("used", windows)

    def _cuts(self, kind: str, settings: Settings, temporal: str) -> _Cuts:
        """The one place that chooses threshold and band: the user's threshold (with the manual
        band), else the one calibrated for the media kind; a combined score has its own
        calibrated cut, a face without windows keeps the frame one."""
        frame = manual_cut(settings.threshold) if settings.threshold is not None else self.detector.config.cut(kind)
        combined = self.detector.temporal_config.cut if temporal == "used" and settings.threshold is None else frame
        cfg = self.detector.config.learned()
        return _Cuts(frame, combined, {n: cfg[n].cut(kind) for n in self.detector.learned_heads})  # None: not judged here

    def _face_report(self, track: Track, samples: list[_FaceSample], temporal: _TemporalCheck, cuts: _Cuts,
                     kind: str) -> FaceReport:
        """One person's verdict: the frame scores aggregated, combined with the windows' when there are any."""
        sc = np.array([s.score for s in samples])
        p = frame_p = aggregate(sc)
        wins = temporal.windows.get(track.track_id, [])
        temporal_p = aggregate(np.array([w.fake_probability for w in wins])) if wins else None
        cut = cuts.frame
        if temporal_p is not None:
            p, cut = combine(frame_p, temporal_p, self.detector.temporal_config.frame_weight), cuts.combined
        checks = [make_check("blending", verdict_for(p, cut.threshold, cut.band), p, cut.threshold, cut.band)]
        size = float(np.median([s.quality["size_px"] for s in samples]))
        learned = [self._learned_check(name, cut, samples, size) for name, cut in cuts.learned.items()]
        checks += [c for c, _ in learned]
        decided = deciding(checks)
        return FaceReport(
            track_id=track.track_id, fake_probability=decided.fake_probability, verdict=decided.verdict,
            frames=[FrameScore(s.index, round(s.time_s, 3), tuple(round(v, 1) for v in s.box), s.score,
                               round(d.score, 3), s.synthesis) for s, d in zip(samples, track.detections)],
            face_size_px=size, score_spread=float(sc.std()),
            warnings=face_warnings([s.quality for s in samples], kind == "video") + [w for _, w in learned if w],
            frame_probability=frame_p if temporal.state == "used" else None, temporal_probability=temporal_p, windows=wins,
            checks=checks)

    def _learned_check(self, name: str, cut: Cut | None, samples: list[_FaceSample], size: float) -> tuple[Check, str | None]:
        """A learned check on one face: its P(fake) at its own cut; "not_checked" where it has no
        cut for this kind of media (the file's note says so), and, with the face warning that says
        why, where the face is smaller than the check was calibrated for or (a track-level check)
        was seen in too few frames."""
        head, label = self.detector.config.learned()[name], CHECK_LABELS[name].lower()
        if cut is None:
            return make_check(name, "not_checked", None), None
        if size < head.min_face_px:
            return make_check(name, "not_checked", None), (f"face too small for the {label} check ({size:.0f} px; it is "
                                                           f"calibrated from {head.min_face_px:.0f} px): not checked")
        if head.unit == "track" and len(samples) < MIN_TRACK_CROPS:
            return make_check(name, "not_checked", None), f"seen in too few frames for the {label} check: not checked"
        if head.unit == "track":
            q = self.detector.track_probability(name, np.stack([s.features[name] for s in samples]))
        else:
            q = aggregate(np.array([s.synthesis for s in samples]))
        return make_check(name, verdict_for(q, cut.threshold, cut.band), q, cut.threshold, cut.band), None

    def _learned_notes(self, faces: list[FaceReport], cuts: _Cuts, kind: str) -> list[str]:
        """One note for each learned check that judged no face of this file for want of a cut."""
        if not faces:
            return []
        cfg = self.detector.config.learned()
        return [note for name, cut in cuts.learned.items() if cut is None and (note := not_judged_note(name, kind, cfg[name]))]

    def _report(self, path, info: MediaInfo, sampled: _Sampled, faces: list[FaceReport], checks: list[Check],
                heatmaps: list[Heatmap], notes: list[str], temporal: str, cuts: _Cuts, timings: dict[str, float]) -> Report:
        """The file takes the deciding check's verdict, probability and cut (``report.deciding``)."""
        decided = deciding(checks)
        prob, verdict = decided.fake_probability, decided.verdict
        cut = cut_at(decided.threshold, decided.uncertain_band) or cuts.frame
        return Report(
            file=str(path), kind=info.kind, verdict=verdict, fake_probability=prob,
            frames_analyzed=len(sampled.per_frame), frames_with_face=sum(1 for d in sampled.per_frame if d), faces=faces,
            timings_s={k: round(v, 4) for k, v in timings.items()}, model=self.model_id, threshold=cut.threshold,
            uncertain_band=tuple(cut.band),
            media={"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                   "duration_s": round(info.duration_s, 3), "frame_count": info.frame_count, "rotation": info.rotation},
            heatmaps=heatmaps, notes=notes, temporal=temporal, checks=checks,
            accuracy=self.detector.config.accuracy, faces_found=sampled.faces_found, face_limit=sampled.face_limit,
            faces_left_out=sampled.left_out)

    def _file_checks(self, faces: list[FaceReport], cuts: _Cuts) -> list[Check]:
        """Each check over the file: it judges the file by its most suspicious face."""
        return [self._file_check(name, faces) for name in ("blending", *cuts.learned)]

    @staticmethod
    def _file_check(name: str, faces: list[FaceReport]) -> Check:
        """One check over the file: the finding on its most suspicious face for that check."""
        found = [c for f in faces for c in f.checks if c.name == name]
        if found and all(c.verdict == "not_checked" for c in found):
            return found[0]
        found = [c for c in found if c.verdict != "not_checked"]
        worst = max(found, key=lambda c: (SEVERITY[c.verdict], c.fake_probability), default=None)
        return worst if worst is not None else make_check(name, "no_face", None)

    def _temporal_state(self, settings: Settings, info) -> tuple[str, str | None]:
        """Whether the temporal check runs on this file (``Report.temporal``), and the note that
        says why not when it was asked for."""
        tcfg = self.detector.temporal_config
        wanted = settings.temporal if settings.temporal is not None else bool(tcfg and tcfg.default_on)
        if not wanted:
            return "off", None
        if tcfg is None:
            return "unavailable", "these weights have no temporal head: frame scores only"
        if info.kind != "video":
            return "not_applicable", "a photo has no motion: the temporal check was skipped, frame score only"
        if info.frame_count < tcfg.window:
            return "not_applicable", (f"the clip has {info.frame_count} frame(s), fewer than one {tcfg.window}-frame "
                                      "window: the temporal check was skipped, frame score only")
        return "used", None

    def _windows(self, path, info, track_samples: dict[int, list[_FaceSample]], settings: Settings) -> dict[int, list[WindowScore]]:
        """Read windows of consecutive frames, follow each face through them, score each window."""
        tcfg, cfg = self.detector.temporal_config, self.detector.config
        n = settings.windows if settings.windows is not None else tcfg.windows
        crops, spans = [], []  # spans: (track_id, frames) per followed window, crops in order
        for frames in read_windows(path, window_starts(info.frame_count, n, tcfg.window), tcfg.window, info):
            if len(frames) < tcfg.window:
                continue
            per_frame = [self.faces.detect(fr.rgb)[: settings.max_faces] for fr in frames]
            for tid, ss in track_samples.items():
                ref = min(ss, key=lambda s: abs(s.time_s - frames[0].time_s))
                dets = follow(ref.box, per_frame)
                if dets is None:
                    continue
                crops += [square_crop(fr.rgb, d.box, cfg.crop_margin, cfg.input_size)[0] for fr, d in zip(frames, dets)]
                spans.append((tid, frames))
        out: dict[int, list[WindowScore]] = {tid: [] for tid in track_samples}
        if not spans:
            return out
        frame_p, emb = self.detector.embed(np.stack(crops))
        t = tcfg.window
        probs = window_probabilities(self.detector.temporal, emb.reshape(len(spans), t, -1))
        for k, ((tid, frames), p) in enumerate(zip(spans, probs)):
            out[tid].append(WindowScore(frames[0].index, frames[-1].index, round(frames[0].time_s, 3),
                                        round(frames[-1].time_s, 3), float(p), float(frame_p[k * t:(k + 1) * t].mean())))
        return out

    def _find_faces(self, path, info: MediaInfo, settings: Settings, timings, report_progress) -> _Sampled:
        """Decode sampled frames one at a time, detect faces, keep only the crops."""
        cfg = self.detector.config
        samples: list[_FaceSample] = []
        per_frame = []
        rejected: Counter[str] = Counter()
        found_most, left_out, photo = 0, [], None
        decode = detect = crop_t = 0.0
        n_target = 1 if info.kind == "image" else min(settings.frames, info.frame_count)
        heads = self.detector.config.learned()
        mouth_px = max((heads[n].mouth_px for n in self.detector.learned_heads if heads[n].judges(info.kind)), default=0)
        # decode the next frame while detecting on this one; "decode" = time spent waiting for it
        frames = read_ahead(iter(sample_frames(path, settings.frames, info)))
        t = time.perf_counter()
        for slot, fr in enumerate(frames):
            t1 = time.perf_counter()
            decode += t1 - t
            screened = self.faces.find(fr.rgb)  # too small, implausible and upside-down faces are not scored
            found = screened.faces
            rejected.update(screened.rejected)
            dets = found[: settings.max_faces]
            if len(found) > found_most:  # the frame with the most faces: how many, and which were left out
                found_most = len(found)
                left_out = [{"index": fr.index, "time_s": round(fr.time_s, 3), "box": [round(v, 1) for v in d.box]}
                            for d in found[settings.max_faces:]]
            photo = fr.rgb if info.kind == "image" else None
            t2 = time.perf_counter()
            detect += t2 - t1
            for d in dets:
                crop, kps = square_crop(fr.rgb, d.box, cfg.crop_margin, cfg.input_size, d.keypoints)
                mouth = mouth_crop(fr.rgb, d.box, d.keypoints, mouth_px) if mouth_px else None
                samples.append(_FaceSample(fr.index, fr.time_s, d, crop, kps, face_quality(crop, kps, d.size), mouth=mouth))
            per_frame.append(dets)
            t = time.perf_counter()
            crop_t += t - t2
            report_progress(0.05 + 0.7 * (slot + 1) / max(1, n_target), f"frame {slot + 1}/{n_target}: {len(dets)} face(s)")
        timings.update(decode=decode, detect=detect, crop=crop_t)
        notes = []
        if left_out:
            where = "" if info.kind == "image" else " in one frame"
            notes.append(f"{found_most} faces were found{where}; the {settings.max_faces} clearest were analysed (to analyse "
                         f"more, raise 'Faces to analyse' in Settings or scan --max-faces, up to {MAX_FACES})")
        if info.kind == "video" and len(per_frame) < n_target:
            notes.append(f"only {len(per_frame)} of {n_target} sampled frames could be decoded")
        notes += rejected_notes(rejected)
        return _Sampled(samples, per_frame, notes, found_most, left_out, settings.max_faces, photo)

    def _explain(self, track_samples: dict[int, list[_FaceSample]], settings: Settings, path, check: str = "blending",
                 faces: list[FaceReport] = ()):
        """Grad-CAM of ``check``'s score on ``settings.heatmaps`` crops: first each face's most
        suspicious crop, faces in the order of their finding by ``check`` (the face that decides
        the file first, so it always has a map), then the highest-scored crops left; the learned
        map (a blending map) beside the blending check's."""
        k = settings.heatmaps
        if k <= 0 or not track_samples:
            return [], []
        by_head = check in self.detector.learned_heads
        per_track = by_head and self.detector.config.learned()[check].unit == "track"
        # a track-level check's probability of each face (its report's) stands for each of its crops
        track_p = {f.track_id: next((c.fake_probability for c in f.checks if c.name == check and c.fake_probability is not None),
                                    0.0) for f in faces} if per_track else {}

        def score(s: _FaceSample) -> float:
            if not by_head:
                return s.score
            return track_p.get(tid_of[id(s)], 0.0) if per_track else s.synthesis

        tid_of = {id(s): tid for tid, ss in track_samples.items() for s in ss}

        def finding(f: FaceReport) -> tuple[int, float]:  # the file check's rule (``_file_check``)
            c = next((c for c in f.checks if c.name == check and c.verdict in SEVERITY), None)
            return (SEVERITY[c.verdict], c.fake_probability) if c else (-1, f.fake_probability)

        ranked = [f.track_id for f in sorted(faces, key=finding, reverse=True)]  # stable: the first of equals first
        order = ranked + [tid for tid in track_samples if tid not in ranked]
        best = {tid: sorted(track_samples[tid], key=lambda s: (-score(s), -s.score)) for tid in order}
        chosen = [(tid, best[tid][0]) for tid in order][:k]
        rest = sorted(((tid, s) for tid, ss in best.items() for s in ss[1:]), key=lambda p: -score(p[1]))
        chosen += rest[: k - len(chosen)]
        chosen.sort(key=lambda p: (p[0], -score(p[1])))
        x = self.detector.preprocess(np.stack([s.crop for _, s in chosen]))
        # Grad-CAM and the feature capture change the shared model's state (hooks, requires_grad,
        # eval mode): analyses on other threads take turns here, scoring does not wait
        with self.detector.model_lock:
            if by_head:
                maps, masks = gradcam(self.detector.head_model(check), self.detector.cam_layers, x, self.detector.cam_method), None
            else:
                with self.detector.capturing_mask_features() as learned_maps:  # one forward pass for both maps
                    maps = gradcam(self.detector.model, self.detector.cam_layers, x, self.detector.cam_method)
                masks = learned_maps() if learned_maps else None
        heatmaps, learned = [], []
        out_dir = Path(settings.heatmap_dir) if settings.heatmap_dir else None
        if out_dir:
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DfdemoError(f"{out_dir}: cannot make the heatmap folder ({(e.strerror or str(e)).lower()})") from None
        for (tid, s), m in zip(chosen, maps):
            shares = region_shares(m, s.keypoints)
            ov = overlay(s.crop, m, score(s))  # one scale: heat × the crop's score by the explained check
            ov_path = None
            if out_dir:
                ov_path = str(out_dir / f"{_name_stem(path)}_face{tid + 1}_frame{s.index}.png")  # "face 1" = track 0
                _write_png(ov_path, ov)
            lm = {}
            if masks is not None:
                mk = masks[len(heatmaps)]
                learned.append(overlay(s.crop, mk, score(s)))
                lm = {"learned_map_mean": round(float(mk.mean()), 4),
                      "learned_map_shares": {r: round(v, 4) for r, v in region_shares(mk, s.keypoints).items()}}
                if out_dir:
                    lm["learned_map_path"] = ov_path.replace(".png", "_learned.png")
                    _write_png(lm["learned_map_path"], learned[-1])
            heatmaps.append(Heatmap(tid, s.index, round(s.time_s, 3), score(s),
                                    {r: round(v, 4) for r, v in shares.items()}, top_region(shares), ov_path, **lm, check=check))
        return heatmaps, learned
