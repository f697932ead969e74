"""The weights' config, typed: what travels with a set of weights in ``config.json``.

``DetectorConfig`` holds the network's input contract (architecture, input size, mean, std)
and dfdemo's own settings under the ``"dfdemo"`` key, in typed blocks: the decision cuts (one
``Cut`` type; one ``Calibration`` block, clip and photo cut, read and written the same for the
blending score, each learned check and the temporal check's combined score), the optional ``MaskHeadConfig`` and
``TemporalConfig`` and ``SynthesisConfig``, and ``extra``: the lab's free-form records (accuracy, calibration,
faithfulness, training history), kept as they are written.

One load (``load_config``), one save (``save_config``) and one read-change-write
(``update_config``) that every writer goes through: ``save_detector``, calibrate,
train-temporal, eval --record-accuracy and explain-eval --record. The uncertain band has its
rules here too (``band_for`` after calibration, ``manual_cut`` for a threshold the user sets).
Standard library only: the app reads the config without loading torch.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import WeightsError

CONFIG_FILE = "config.json"
# the learned checks: heads on the scoring pass's pooled activations, by their config key
LEARNED_CHECKS = ("synthesis", "animation")
CALIBRATION_FIELDS = ("threshold", "uncertain_band", "photo_threshold", "photo_uncertain_band")  # ``Calibration`` as stored
MANUAL_BAND = 0.05  # a threshold set by hand gets an uncertain band of ± this


@dataclass(frozen=True)
class Cut:
    """A decision threshold and its uncertain band [low, high): a score inside the band is
    "uncertain", one at or above the threshold outside it "fake", any other "real". The one
    type for a cut, wherever it comes from (a calibration block, the user's threshold, a
    report's check)."""

    threshold: float
    band: tuple[float, float]

    def __post_init__(self):
        object.__setattr__(self, "band", tuple(self.band))

    @classmethod
    def at(cls, threshold: float | None, band: tuple[float, float] | None = None) -> "Cut | None":
        """The cut at ``threshold`` with its ``band`` (none given: no uncertain band); None when
        there is no threshold (not calibrated for that kind of media, or not reported)."""
        return None if threshold is None else cls(threshold, tuple(band or (threshold, threshold)))

    @classmethod
    def manual(cls, threshold: float) -> "Cut":
        """The cut for a threshold set by hand (``Settings.threshold``, the app's slider): ± ``MANUAL_BAND``."""
        t = float(threshold)
        return cls(t, (max(0.0, t - MANUAL_BAND), min(1.0, t + MANUAL_BAND)))

    def verdict(self, probability: float | None) -> str:
        """"fake", "uncertain" or "real" for a fake probability ("no_face" for None)."""
        if probability is None:
            return "no_face"
        low, high = self.band
        if low <= probability < high:
            return "uncertain"
        return "fake" if probability >= self.threshold else "real"

    @property
    def signs(self) -> tuple[float, float]:
        """Where "some signs" and "strong signs" start on the score (``verdict``'s rule: inside
        the band is "some signs", at or above the threshold outside it "strong signs")."""
        low, high = self.band
        return low, (high if low <= self.threshold <= high else self.threshold)


@dataclass(frozen=True)
class Calibration:
    """One calibration block, the same for the blending score, each learned check and the
    temporal check's combined score: the clip cut and the photo cut. ``photo`` None: photos
    use the clip cut; ``clip`` None: videos have no cut (the check does not judge them)."""

    clip: Cut | None
    photo: Cut | None = None

    def cut(self, kind: str) -> Cut | None:
        """The cut for a media kind ("video" or "image"): a photo's own where calibrated."""
        return (self.photo if kind == "image" else None) or self.clip

    @classmethod
    def read(cls, d: dict, clip_default: float | None = 0.5) -> "Calibration":
        """The block as stored in a config.json section (``threshold``, ``uncertain_band``,
        optional ``photo_threshold``, ``photo_uncertain_band``); an explicit null threshold:
        no clip cut; a missing one: ``clip_default`` with the band (0.4, 0.6)."""
        t = d.get("threshold", clip_default)
        band = d.get("uncertain_band", (0.4, 0.6))
        clip = None if t is None else Cut(float(t), tuple(band) if band is not None else (float(t), float(t)))
        photo = Cut.at(None if d.get("photo_threshold") is None else float(d["photo_threshold"]),
                       tuple(d["photo_uncertain_band"]) if d.get("photo_uncertain_band") else None)
        return cls(clip, photo)

    def fields(self) -> dict:
        """The block as the flat fields of a config dataclass (``threshold``, ``uncertain_band``,
        ``photo_threshold``, ``photo_uncertain_band``)."""
        return {"threshold": self.clip and self.clip.threshold, "uncertain_band": self.clip and self.clip.band,
                "photo_threshold": self.photo and self.photo.threshold, "photo_uncertain_band": self.photo and self.photo.band}

    def write(self) -> dict:
        """The block as stored: clip threshold and band always (null when none), the photo ones only when set."""
        d = {"threshold": self.clip and self.clip.threshold, "uncertain_band": self.clip and list(self.clip.band)}
        if self.photo is not None:
            d.update(photo_threshold=self.photo.threshold, photo_uncertain_band=list(self.photo.band))
        return d


def cut_at(threshold: float | None, band: tuple[float, float] | None = None) -> Cut | None:
    """``Cut.at``, kept for callers of earlier versions."""
    return Cut.at(threshold, band)


def manual_cut(threshold: float) -> Cut:
    """``Cut.manual``: the cut for a threshold set by hand."""
    return Cut.manual(threshold)


def threshold_for(scores, target_fpr: float, floor: float = 0.5) -> float:
    """Smallest threshold (≥ ``floor``) with at most ``target_fpr`` of ``scores`` at or above it."""
    s = sorted((float(x) for x in scores), reverse=True)
    k = int(math.floor(target_fpr * len(s)))  # scores allowed above the threshold
    t = s[k] + 1e-3 if k < len(s) else 0.0
    return float(min(max(t, floor), 0.999))


def band_for(t: float, scores=None, target_fpr: float | None = None) -> tuple[float, float]:
    """The uncertain band around a calibrated threshold ``t``: ± min(0.1, t/2, (1 − t)/2), and,
    given the held-out real scores, reaching down to the threshold that would call twice
    ``target_fpr`` of them fake (so a high threshold does not leave a score just under it as
    "real"), but never below half the threshold."""
    d = min(0.1, t / 2, (1 - t) / 2)
    lo = t - d
    if scores is not None and target_fpr is not None and len(scores):
        lo = max(min(lo, threshold_for(scores, min(1.0, 2 * target_fpr), floor=0.0)), t / 2)
    return round(lo, 4), round(t + d, 4)


@dataclass(frozen=True)
class MaskHeadConfig:
    """The learned-map head (``heads.MaskHead``): the layer it reads, optionally joined by a
    deeper one; saved as ``config.json`` → ``dfdemo.mask_head``."""

    layer: str
    channels: int
    deep_layer: str | None = None
    deep_channels: int = 0

    @property
    def layers(self) -> list[str]:
        return [self.layer] + ([self.deep_layer] if self.deep_layer else [])

    def to_dict(self) -> dict:
        d = {"layer": self.layer, "channels": self.channels}
        if self.deep_layer:
            d.update(deep_layer=self.deep_layer, deep_channels=self.deep_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MaskHeadConfig | None":
        if not d:
            return None
        return cls(str(d["layer"]), int(d["channels"]), d.get("deep_layer") or None, int(d.get("deep_channels", 0)))


@dataclass(frozen=True)
class TemporalConfig:
    """The temporal head's settings, saved as ``config.json`` → ``dfdemo.temporal``."""

    window: int = 8  # consecutive frames per window
    windows: int = 4  # windows read per video by default
    embed_dim: int = 1280
    hidden: int = 32
    differences_only: bool = False  # the GRU reads only frame-to-frame changes (no per-frame appearance)
    frame_weight: float = 0.5  # combined = w * frame score + (1 - w) * temporal score
    threshold: float = 0.5  # threshold of the combined score
    uncertain_band: tuple[float, float] = (0.4, 0.6)
    default_on: bool = False  # used by default only if it measured better than the frame detector
    extra: dict = field(default_factory=dict)  # the training command's records

    @property
    def calibration(self) -> Calibration:
        """The cut of the combined (frame + temporal) score (videos only)."""
        return Calibration(Cut(self.threshold, tuple(self.uncertain_band)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TemporalConfig":
        known = {f.name for f in fields(cls)}
        try:
            c = cls(**{k: v for k, v in d.items() if k in known})
            return cls(**{**asdict(c), "uncertain_band": tuple(c.uncertain_band)})
        except TypeError as e:
            raise WeightsError(f"config.json: bad temporal head settings: {e}") from e


MIN_TRACK_FRAMES = 2  # the fewest sampled frames with a spread: no track-level check judges a face seen in fewer


@dataclass(frozen=True)
class SynthesisConfig:
    """A learned check's head (``dfdemo.heads.SynthesisHead`` or ``TrackHead``): the layers it reads from
    the scoring pass and its own calibrated cuts (clip and photo, like the blending score's).
    Saved as ``config.json`` → ``dfdemo.synthesis`` (generator traces) and ``dfdemo.animation``
    (lip-sync / face animation). ``media`` are the kinds of file it judges at all (a photo has
    no lip movement); below ``min_face_px`` (the smallest faces it was measured on) it abstains."""

    layers: tuple[str, ...]
    spread: tuple[str, ...]  # layers whose spatial standard deviation is read too
    dims: int
    # None: calibration found no clip cut within the allowed extra false alarms, so videos
    # are not judged by this check (photos may still be)
    threshold: float | None = 0.5
    uncertain_band: tuple[float, float] | None = (0.4, 0.6)
    photo_threshold: float | None = None
    photo_uncertain_band: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)  # the training command's records
    media: tuple[str, ...] = ("video", "image")
    min_face_px: float = 0.0
    unit: str = "crop"  # "crop": a logit per face crop; "track": one per face track (``synthesis.TrackHead``)
    mouth_px: int = 0  # > 0: the head also reads the mouth at this size (``faces.mouth_crop``), a second pass
    mouth_layers: tuple[str, ...] = ()  # the layers that pass reads (empty: ``layers``); it stops after the last
    motion: bool = False  # the track head also reads the mouth's change to the next frame (``faces.mouth_motion``)
    # the mouth (and its motion) is read on every ``mouth_every``-th sampled frame of a clip (the
    # 0th, the Nth, ...): the mouth pass and the decoding of next frames cost 1/N; the track
    # head's mean and spread leave the other frames out (NaN: not measured)
    mouth_every: int = 1
    # a track-level check judges a face seen in at least this many sampled frames (more than the
    # fewest: a face seen briefly has a noisier summary than the tracks it learned from)
    min_frames: int = MIN_TRACK_FRAMES

    @property
    def mouth_taps(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(layers, spread layers) of the mouth pass."""
        layers = tuple(self.mouth_layers) or tuple(self.layers)
        return layers, tuple(n for n in self.spread if n in layers)

    def judges(self, kind: str) -> bool:
        return kind in self.media

    @property
    def calibration(self) -> Calibration:
        return Calibration(Cut.at(self.threshold, self.uncertain_band), Cut.at(self.photo_threshold, self.photo_uncertain_band))

    def cut(self, kind: str) -> Cut | None:
        """The calibrated cut for a media kind (``Calibration.cut``), None where this check has
        none (it then does not judge that kind of media)."""
        return self.calibration.cut(kind) if self.judges(kind) else None

    def to_dict(self) -> dict:
        d = {**{k: v for k, v in asdict(self).items() if k not in CALIBRATION_FIELDS}, **self.calibration.write(),
             "layers": list(self.layers), "spread": list(self.spread)}
        if tuple(self.media) == ("video", "image"):  # defaults are not written: older configs stay as they were
            d.pop("media")
        else:
            d["media"] = list(self.media)
        d["mouth_layers"] = list(self.mouth_layers)
        for key, default in (("min_face_px", 0.0), ("unit", "crop"), ("mouth_px", 0), ("mouth_layers", []), ("motion", False),
                             ("min_frames", MIN_TRACK_FRAMES), ("mouth_every", 1)):
            if d[key] == default:
                d.pop(key)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SynthesisConfig | None":
        if not d:
            return None
        try:
            if int(d.get("mouth_every", 1)) < 1:
                raise ValueError(f"mouth_every must be 1 or more, not {d['mouth_every']}")
            return cls(layers=tuple(d["layers"]), spread=tuple(d.get("spread", ())), dims=int(d["dims"]),
                       **Calibration.read(d).fields(), media=tuple(d.get("media", ("video", "image"))), min_face_px=float(d.get("min_face_px", 0.0)),
                       unit=str(d.get("unit", "crop")), mouth_px=int(d.get("mouth_px", 0)),
                       mouth_layers=tuple(d.get("mouth_layers", ())), motion=bool(d.get("motion", False)),
                       min_frames=int(d.get("min_frames", MIN_TRACK_FRAMES)), mouth_every=int(d.get("mouth_every", 1)),
                       extra=dict(d.get("extra", {})))
        except (KeyError, TypeError, ValueError) as e:
            raise WeightsError(f"config.json: bad synthesis head settings: {e}") from e


@dataclass(frozen=True)
class DetectorConfig:
    """Everything needed to use a set of weights; saved as config.json beside them."""

    architecture: str = "tf_efficientnet_lite0"
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    crop_margin: float = 0.3
    threshold: float = 0.5
    uncertain_band: tuple[float, float] = (0.4, 0.6)
    # photos are another domain (no video compression, often studio quality): their own cut
    photo_threshold: float | None = None
    photo_uncertain_band: tuple[float, float] | None = None
    # Grad-CAM setting: the layer(s) whose activations explain the score, one module name or
    # several joined by commas (their maps are averaged); "" = the family's last layer
    # (model.TARGET_LAYERS). ``cam`` is the method (explain.CAM_METHODS); "" = Grad-CAM.
    target_layer: str = ""
    cam: str = ""
    model_id: str = ""
    mask_head: MaskHeadConfig | None = None  # when the weights have a learned-map head
    temporal: TemporalConfig | None = None  # when the weights have a temporal head
    synthesis: SynthesisConfig | None = None  # when the weights have a synthesis head
    animation: SynthesisConfig | None = None  # when the weights have a lip-sync / face-animation head
    # The lab's records, free-form and kept as written: "accuracy" (eval --record-accuracy; the
    # report and the app's card show it), "faithfulness" (explain-eval --record; How it works),
    # "calibration" / "photo_calibration" (calibrate), training history and steps (train).
    extra: dict = field(default_factory=dict)

    def __post_init__(self):  # a dict (older callers, add_mask_head of old) becomes its block
        if isinstance(self.mask_head, dict):
            object.__setattr__(self, "mask_head", MaskHeadConfig.from_dict(self.mask_head))
        if isinstance(self.temporal, dict):
            object.__setattr__(self, "temporal", TemporalConfig.from_dict(self.temporal) if self.temporal else None)
        for name in LEARNED_CHECKS:
            if isinstance(getattr(self, name), dict):
                object.__setattr__(self, name, SynthesisConfig.from_dict(getattr(self, name)))

    @property
    def calibration(self) -> Calibration:
        """The blending score's calibration block (clip cut, photo cut where calibrated on photos)."""
        return Calibration(Cut(self.threshold, tuple(self.uncertain_band)), Cut.at(self.photo_threshold, self.photo_uncertain_band))

    def cut(self, kind: str) -> Cut:
        """The cut calibrated for a media kind: photos have their own where the weights were
        calibrated on photos, videos (and older weights) the clip one."""
        return self.calibration.cut(kind)

    @property
    def accuracy(self) -> dict:
        """How the weights did on held-out data (``extra.accuracy``), {} when not measured."""
        return dict(self.extra.get("accuracy") or {})

    @property
    def faithfulness(self) -> dict | None:
        """The heatmaps' measured faithfulness (``extra.faithfulness``), None when not measured."""
        return self.extra.get("faithfulness")

    def learned(self) -> dict[str, SynthesisConfig]:
        """The learned checks these weights have, by name (``LEARNED_CHECKS`` order)."""
        return {n: getattr(self, n) for n in LEARNED_CHECKS if getattr(self, n) is not None}

    def to_json_dict(self) -> dict:
        dfdemo: dict[str, Any] = {"crop_margin": self.crop_margin, **self.calibration.write(), "target_layer": self.target_layer,
                                  "model_id": self.model_id, "mask_head": self.mask_head.to_dict() if self.mask_head else {},
                                  "temporal": self.temporal.to_dict() if self.temporal else {}, "extra": self.extra}
        if self.cam:  # written only when set: configs of older weights stay as they were
            dfdemo["cam"] = self.cam
        for name in LEARNED_CHECKS:
            if getattr(self, name) is not None:
                dfdemo[name] = getattr(self, name).to_dict()
        return {
            "architecture": self.architecture,
            "num_classes": 1,
            "pretrained_cfg": {"input_size": [3, self.input_size, self.input_size], "mean": list(self.mean), "std": list(self.std)},
            "dfdemo": dfdemo,
        }

    @classmethod
    def from_json_dict(cls, d: dict) -> "DetectorConfig":
        try:
            pc = d.get("pretrained_cfg", {})
            own = d.get("dfdemo", {})
            return cls(
                architecture=d["architecture"],
                input_size=int(pc.get("input_size", [3, 224, 224])[-1]),
                mean=tuple(pc.get("mean", (0.5, 0.5, 0.5))),
                std=tuple(pc.get("std", (0.5, 0.5, 0.5))),
                crop_margin=float(own.get("crop_margin", 0.3)),
                **_blending_calibration(own).fields(),
                target_layer=str(own.get("target_layer", "")),
                cam=str(own.get("cam", "")),
                model_id=str(own.get("model_id", "")),
                mask_head=MaskHeadConfig.from_dict(own.get("mask_head") or {}),
                temporal=TemporalConfig.from_dict(own["temporal"]) if own.get("temporal") else None,
                synthesis=SynthesisConfig.from_dict(own.get("synthesis") or {}),
                animation=SynthesisConfig.from_dict(own.get("animation") or {}),
                extra=dict(own.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise WeightsError(f"config.json is not a dfdemo/timm detector config: {e}") from e


def _blending_calibration(own: dict) -> Calibration:
    """The blending score's block as stored; it always has a clip cut."""
    cal = Calibration.read(own)
    if cal.clip is None:
        raise ValueError("the decision threshold is null")
    return cal


def load_config(folder: str | os.PathLike) -> DetectorConfig:
    """The ``DetectorConfig`` of a weights folder, without loading the weights."""
    path = Path(folder) / CONFIG_FILE
    try:
        return DetectorConfig.from_json_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path} is not valid JSON: {e}") from e
    except OSError as e:
        raise WeightsError(f"{path}: cannot read the detector config: {e}") from e


def save_config(folder: str | os.PathLike, config: DetectorConfig) -> Path:
    """Write ``config`` as ``folder/config.json`` (sorted keys, indented)."""
    path = Path(folder) / CONFIG_FILE
    path.write_text(json.dumps(config.to_json_dict(), indent=2, sort_keys=True) + "\n")
    return path


def update_config(folder: str | os.PathLike, records: dict | None = None, **changes) -> DetectorConfig:
    """Read ``folder/config.json``, change the fields named in ``changes`` and merge ``records``
    into ``extra`` (a record of the same name is replaced, the others kept), write it back."""
    config = load_config(folder)
    if records:
        changes["extra"] = {**changes.get("extra", config.extra), **records}
    config = replace(config, **changes)
    save_config(folder, config)
    return config
