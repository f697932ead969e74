"""Detector stage: the predictor over the model. Load once (``load_detector``), then batched
fake probabilities, the learned checks' evidence, learned maps and the views Grad-CAM needs.

The parts: ``dfdemo.weights`` resolves a source (folder, Hub id, ``$DFDEMO_WEIGHTS``, the bundled
weights) into a weights folder and reads it (safetensors only; pickled checkpoints are refused);
``dfdemo.model`` builds the timm network with its heads (``dfdemo.heads``) and runs its one
forward pass (``forward_all``); this module turns uint8 face crops into that pass's outputs.
A timm or transformers image classifier loads too (``dfdemo.foreign``: its fake classes read as
one fake logit, its own input contract, its Grad-CAM layer and token reshape; no heads); dfdemo's
settings for it come from its sidecar (``dfdemo.sidecar``), and ``Detector.origin`` says what it is.
The settings of the weights (crop margin, threshold, uncertain band, Grad-CAM layer, the heads)
are ``config.json`` → ``dfdemo``, typed in ``dfdemo.config``. Loading sets no process-wide state
(threads, env): that is the entry point's job (``dfdemo.runtime``).
No mediapipe here: the detector takes RGB uint8 crops of shape (N, S, S, 3).
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .config import DetectorConfig, SynthesisConfig, load_config  # noqa: F401 (DetectorConfig, load_config: part of the API)
from .errors import WeightsError
from .heads import HeadLogit, pool
from .model import Outputs, activations, build_model, default_target_layer, fold_batchnorm, forward_all, tap_features, tap_indices, twin
from .temporal import TemporalHead, load_temporal
from .weights import Layout, detect_layout, load_weights, resolve_weights, save_detector, source_label  # noqa: F401 (resolve_weights, save_detector: part of the API)

# Crops per forward pass. On 2 cores 4 crops a pass score as fast as 32 or faster (activations
# stay in cache), and the peak memory of scoring is ~60 MB instead of ~400 MB at 32.
BATCH_SIZE = 4
MOUTH_BATCH = 16  # mouth crops (112 px) a pass: a quarter of a face crop's pixels, fastest in larger batches (measured)


def normalise(crops: torch.Tensor, mean, std) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB crops → the network's input: NCHW float, scaled to [0, 1], then
    (x − mean) / std per channel, channels_last. The one preprocessing of scoring, training
    and the training run's dev-eval curve."""
    x = crops.permute(0, 3, 1, 2).float().div_(255)
    m, s = torch.as_tensor(mean).view(1, 3, 1, 1), torch.as_tensor(std).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def mask_probabilities(mask_logits: torch.Tensor, size: int) -> torch.Tensor:
    """The mask head's (N, 1, h, w) logits → (N, size, size) maps in [0, 1] over the crop."""
    return torch.sigmoid(torch.nn.functional.interpolate(mask_logits.float(), size=(size, size), mode="bilinear",
                                                         align_corners=False))[:, 0]


def load_detector(source: str | os.PathLike | None = None, fake_label: str | None = None) -> Detector:
    """Load a detector from a folder or Hub id (see ``weights.resolve_weights``). Safetensors only,
    strict. dfdemo's own weights, or any timm / transformers image classifier (``dfdemo.foreign``;
    ``fake_label``: which of its classes are fake, when its labels do not say it clearly)."""
    layout = detect_layout(resolve_weights(source))
    if layout.family != "dfdemo":
        return _load_foreign(layout, source, fake_label)
    folder, config = layout.folder, _with_sidecar(layout)
    if not config.model_id:
        config = replace(config, model_id=source_label(source))
    model = load_weights(build_model(folder, config), layout.weights, config.architecture)
    temporal = load_temporal(folder, config.temporal) if config.temporal else None
    model = model.to(memory_format=torch.channels_last)
    det = Detector(model, config, scorer=fold_batchnorm(model), temporal=temporal)
    _ = det.cam_layers  # a target_layer the model lacks fails here, not at the first heatmap
    for net in (det.model, det.scorer):  # so do the heads' layers, and their probe passes run now, not under load
        tap_indices(net, det.tapped_layers)
    return det


def _with_sidecar(layout: Layout) -> DetectorConfig:
    """dfdemo's config of its own weights; for a Hub snapshot, with what was measured here on
    top (its sidecar: the cache is never written)."""
    from .sidecar import hub_snapshot, read_sidecar

    own = read_sidecar(layout.folder).settings if hub_snapshot(layout.folder) else {}
    if not own:
        return load_config(layout.folder)
    base = layout.config.get("dfdemo", {})
    extra = {**base.get("extra", {}), **own.get("extra", {})}
    return DetectorConfig.from_json_dict({**layout.config, "dfdemo": {**base, **own, "extra": extra}})


def _load_foreign(layout: Layout, source, fake_label: str | None) -> Detector:
    """A timm / transformers classifier as a detector without heads; its scorer shares its weights
    unless BatchNorm is folded (a ViT-B is not held twice)."""
    from .foreign import has_batchnorm, load_foreign

    f = load_foreign(layout, source_label(source), fake_label)
    model = f.model.to(memory_format=torch.channels_last)
    scorer = fold_batchnorm(model) if has_batchnorm(model) else twin(model)
    det = Detector(model, f.config, scorer=scorer, origin=Origin(layout.family, f.classes.fake_names, f.classes.how,
                                                                 f.sidecar.path, f.notes))
    _ = det.cam_layers, det.cam_reshape  # a layer the model lacks, or tokens without a grid, fail here
    return det


@dataclass(frozen=True)
class Origin:
    """What kind of detector this is and how its output is read (dfdemo's own: the default)."""

    family: str = "dfdemo"  # "dfdemo", "timm", "transformers"
    fake_classes: list[str] = field(default_factory=list)  # a classifier's classes read as fake
    fake_by: str = ""  # how they were chosen: "labels", "fake_label=…", "single logit"
    sidecar: Path | None = None  # where dfdemo's settings for it are kept (not dfdemo's own weights)
    notes: tuple[str, ...] = ()  # what an analysis should say of it (accuracy not measured here…)


class Detector:
    """A loaded detector: ``model`` in eval mode + its ``config``. Load once, reuse.

    ``scorer`` (default: ``model``) computes the scores; ``load_detector`` passes a copy with
    BatchNorm folded (``fold_batchnorm``), so ``model`` must not change after loading. The
    scoring methods run ``dfdemo.model.forward_all`` once per batch and read what they need of it.
    """

    def __init__(self, model: torch.nn.Module, config: DetectorConfig, scorer: torch.nn.Module | None = None,
                 temporal: TemporalHead | None = None, origin: Origin | None = None):
        self.model = model.eval()
        self.scorer = model if scorer is None else scorer.eval()
        self.config = config
        self.temporal = temporal  # the temporal head (temporal.py), when the weights have one
        self.temporal_config = config.temporal if temporal is not None else None
        # Grad-CAM and the mask-feature capture change ``model``'s state (hooks, requires_grad,
        # eval mode): whoever explains with the shared model holds this lock (scoring uses ``scorer``)
        self.model_lock = threading.RLock()
        self._head_models: dict[str, torch.nn.Module] = {}
        self.origin = origin or Origin()
        self._grids: dict[tuple[str, ...], object] = {}
        self._mean = torch.tensor(config.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(config.std).view(1, 3, 1, 1)

    @property
    def cam_layer_names(self) -> list[str]:
        """The Grad-CAM layer names of ``config.target_layer`` (comma-separated), or the family's default."""
        names = [n.strip() for n in self.config.target_layer.split(",") if n.strip()]
        return names or [default_target_layer(self.config.architecture, self.model)]

    @property
    def cam_layers(self) -> list[torch.nn.Module]:
        """The modules Grad-CAM reads (``cam_layer_names``); a name the model lacks raises WeightsError."""
        try:
            return [self.model.get_submodule(name) for name in self.cam_layer_names]
        except AttributeError as e:
            raise WeightsError(f"target_layer {self.config.target_layer!r} of config.json is not a layer of "
                               f"{self.config.architecture}: {e}") from e

    @property
    def cam_method(self) -> str:
        """The CAM method of these weights (``explain.CAM_METHODS``); "" in config.json = Grad-CAM."""
        return self.config.cam or "gradcam"

    @property
    def cam_reshape(self):
        """Grad-CAM's reshape transform for the CAM layers (``foreign.TokenGrid`` for a token
        model's (N, T, D) output: class token dropped, tokens to a grid), None for maps (N, C, h, w).
        Found by one probe pass per set of layers (under ``model_lock``)."""
        from .foreign import cam_grid

        names = tuple(self.cam_layer_names)
        if names not in self._grids:
            with self.model_lock:
                self._grids[names] = cam_grid(self.model, list(names), self.config.input_size)
        return self._grids[names]

    @property
    def notes(self) -> tuple[str, ...]:
        """What an analysis with this detector should say of it (a Hub classifier: not measured here…)."""
        return self.origin.notes

    @property
    def target_layer(self) -> torch.nn.Module:
        """The first Grad-CAM layer (weights with one layer: the only one)."""
        return self.cam_layers[0]

    def preprocess(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) RGB uint8 crops (S = config.input_size) → normalised NCHW float tensor."""
        crops = np.asarray(crops)
        s = self.config.input_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3) or crops.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops of shape (N, {s}, {s}, 3), got {crops.dtype} {crops.shape}")
        return self._normalise(crops)

    def _normalise(self, crops: np.ndarray) -> torch.Tensor:
        """Uint8 RGB crops of any square size → the network's input (no size check: the mouth pass)."""
        return normalise(torch.from_numpy(np.ascontiguousarray(crops)), self._mean, self._std)

    def _passes(self, crops: np.ndarray, batch_size: int, net: torch.nn.Module | None = None, prep=None,
                each=lambda o: o, **want) -> list:
        """``each(forward_all(...))`` of ``net`` (default: ``scorer``) per batch of ``crops``, without
        gradients (``each`` reads a batch's outputs before the next pass, so the activations of one
        batch only are held); ``want``: what the pass should give besides the logits."""
        net, prep = self.scorer if net is None else net, prep or self.preprocess
        with torch.inference_mode():
            return [each(forward_all(net, prep(crops[i : i + batch_size]), **want)) for i in range(0, len(crops), batch_size)]

    @property
    def tapped_layers(self) -> tuple[str, ...]:
        """Every layer a head of these weights reads (the mask head's, the learned checks')."""
        names = [*(self.config.mask_head.layers if self.has_mask_head else ())]
        names += [layer for n in self.learned_heads for layer in self.config.learned()[n].layers]
        return tuple(dict.fromkeys(names))

    @property
    def has_mask_head(self) -> bool:
        return bool(self.config.mask_head) and hasattr(self.model, "mask_head")

    def predict_masks(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray | None:
        """Learned manipulation maps (N, S, S) in [0, 1], or None when the weights have no head."""
        if not self.has_mask_head:
            return None
        maps = self._passes(crops, batch_size, self.model, each=lambda o: self._mask_probabilities(o.mask_logits),
                            mask_head=self.config.mask_head)
        return torch.cat(maps).numpy()

    @contextlib.contextmanager
    def capturing_mask_features(self):
        """Within this block, forward passes of ``model`` (e.g. Grad-CAM's) keep the features the
        mask head reads; ``masks_from_captured()`` then gives the learned maps of those crops
        without a second forward pass. Yields a callable; None when the weights have no head.

        The one place a forward hook taps features: the pass is Grad-CAM's, not ours, so
        ``forward_all`` cannot be asked. Hold ``model_lock`` (as for Grad-CAM itself): the hooks
        would see any other thread's pass of ``model``."""
        if not self.has_mask_head:
            yield None
            return
        layers = self.config.mask_head.layers
        feats: dict[str, torch.Tensor] = {}
        hooks = [self.model.get_submodule(name).register_forward_hook(
            lambda m, i, o, name=name: feats.__setitem__(name, o.detach())) for name in layers]

        def masks_from_captured() -> np.ndarray:
            with torch.inference_mode():
                return self._mask_probabilities(self.model.mask_head(*[feats[name] for name in layers])).numpy()

        try:
            yield masks_from_captured
        finally:
            for h in hooks:
                h.remove()

    def _mask_probabilities(self, mask_logits: torch.Tensor) -> torch.Tensor:
        return mask_probabilities(mask_logits, self.config.input_size)

    def logits(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        out = self._passes(crops, batch_size, each=lambda o: o.logits.float())
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    def embed(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """(fake probabilities (N,), pooled backbone features (N, D)) from one pass per crop."""
        outs = self._passes(crops, batch_size, each=lambda o: (torch.sigmoid(o.logits.float()), o.pooled.float()), pooled=True)
        if not outs:
            return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        return torch.cat([p for p, _ in outs]).numpy(), torch.cat([f for _, f in outs]).numpy()

    def predict(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Fake probability in [0, 1] for each crop (batched, no gradients)."""
        return 1.0 / (1.0 + np.exp(-self.logits(crops, batch_size)))

    @property
    def has_synthesis_head(self) -> bool:
        return "synthesis" in self.learned_heads

    @property
    def learned_heads(self) -> list[str]:
        """The learned checks these weights have (``config.LEARNED_CHECKS``: "synthesis",
        "animation"), each a head ``<name>_head`` on the scoring pass's pooled activations."""
        return [n for n in self.config.learned() if hasattr(self.scorer, f"{n}_head")]

    def judging(self, kind: str) -> dict[str, SynthesisConfig]:
        """The learned heads that judge ``kind`` of media ("video" or "image"), by name, in
        ``learned_heads``' order."""
        heads = self.config.learned()
        return {n: heads[n] for n in self.learned_heads if heads[n].judges(kind)}

    def head_model(self, name: str) -> torch.nn.Module:
        """``model`` seen through one learned head: a module whose one logit is that check's
        score, for Grad-CAM of the check (its layers are ``model``'s own, so ``cam_layers`` apply)."""
        if name not in self._head_models:
            cfg = self.config.learned()[name]
            self._head_models[name] = HeadLogit(self.model, name, cfg.layers, cfg.spread, tap_features(self.model))
        return self._head_models[name]

    @property
    def synthesis_model(self) -> torch.nn.Module:
        return self.head_model("synthesis")

    def scores(self, crops: np.ndarray, mouths: Sequence[np.ndarray | None] | None = None, heads: list[str] | None = None,
               batch_size: int = BATCH_SIZE, motion: np.ndarray | None = None) -> Scores:
        """Every check's evidence from one forward pass per batch: the blending P(fake); each
        crop-level learned head's P(fake) of the pooled activations it reads; and, for each
        track-level head (``unit == "track"``), every crop's features (the face's pooled
        activations, then the mouth's: a second pass over ``mouths``, one per crop, (m, m, 3) uint8
        cut by ``faces.mouth_crop`` at the head's ``mouth_px``, or None where the mouth was not read
        on that frame (its features NaN: the track head leaves them out); then, for a head that reads it, the
        mouth's change to the next frame: ``motion``, (N, ``faces.MOTION_DIMS``), NaN where a
        crop has no next frame), which ``track_probability`` judges per face track. ``heads``:
        the learned checks to compute (default: all the weights have)."""
        names = [n for n in self.learned_heads if heads is None or n in heads]
        if not names:
            return Scores(self.predict(crops, batch_size))
        cfgs = self.config.learned()
        layers = tuple(dict.fromkeys(layer for n in names for layer in cfgs[n].layers))
        batches = self._passes(crops, batch_size, each=lambda o: self._read_heads(o, names), layers=layers)
        if not batches:
            return Scores(np.zeros(0, np.float32))
        per_crop = {n: torch.cat([b[n] for _, b in batches]) for n in names}
        learned = {n: per_crop[n].numpy() for n in names if cfgs[n].unit != "track"}
        features = {n: self._track_features(n, per_crop[n], mouths, motion, len(crops)) for n in names if cfgs[n].unit == "track"}
        return Scores(np.concatenate([p for p, _ in batches]), learned, features)

    def _read_heads(self, out: Outputs, names: list[str]) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        """One batch's blending P(fake), and per learned head ``names`` its P(fake) (a crop-level
        head) or the face's pooled activations (a track-level head)."""
        heads, pooled_by = {}, {}  # heads reading the same layers share one pooling (the spread is not free)
        for n in names:
            c = self.config.learned()[n]
            key = (tuple(c.layers), tuple(c.spread))
            if key not in pooled_by:
                pooled_by[key] = pool([out.taps[layer] for layer in c.layers], c.layers, c.spread)
            pooled = pooled_by[key]
            heads[n] = pooled if c.unit == "track" else torch.sigmoid(getattr(self.scorer, f"{n}_head")(pooled).float())
        return torch.sigmoid(out.logits.float()).numpy(), heads

    def _track_features(self, name: str, face: torch.Tensor, mouths: Sequence[np.ndarray | None] | None, motion: np.ndarray | None,
                        n: int) -> np.ndarray:
        """A track-level head's per-crop features: the face's pooled activations, then the
        mouth's, then the mouth's change to the next frame."""
        c = self.config.learned()[name]
        if c.mouth_px and (mouths is None or len(mouths) != n):
            raise ValueError(f"the {name} head reads the mouth too: pass one mouth crop per face crop")
        if c.motion and (motion is None or len(motion) != n):
            raise ValueError(f"the {name} head reads the mouth's motion too: pass one row per face crop")
        moved = [torch.from_numpy(np.asarray(motion, np.float32))] if c.motion else []
        width = c.dims - face.shape[1] - sum(m.shape[1] for m in moved)  # the mouth's part of a crop's features
        return torch.cat([face, *([self._mouth_features(mouths, c, width)] if c.mouth_px else []), *moved], 1).numpy()

    def _mouth_features(self, mouths: Sequence[np.ndarray | None], c: SynthesisConfig, width: int) -> torch.Tensor:
        """The mouth pass over the mouths read (``c.mouth_taps``), ``width`` numbers a mouth;
        NaN rows where none was (no pass at all when no mouth was read)."""
        read = [i for i, m in enumerate(mouths) if m is not None]
        out = torch.full((len(mouths), width), float("nan"))
        if read:
            out[read] = self.pooled_activations(np.stack([mouths[i] for i in read]), *c.mouth_taps)
        return out

    def pooled_activations(self, crops: np.ndarray, layers: tuple[str, ...], spread: tuple[str, ...],
                           batch_size: int = MOUTH_BATCH) -> torch.Tensor:
        """The pooled activations (``heads.pool``) of ``layers`` for uint8 RGB crops of any square
        size (N, m, m, 3), from a pass that stops after the last of them (``model.activations``):
        the mouth pass, and the lab's features of it."""
        layers = tuple(layers)
        with torch.inference_mode():
            return torch.cat([pool(activations(self.scorer, self._normalise(crops[i:i + batch_size]), layers), layers, spread)
                              for i in range(0, len(crops), batch_size)])

    def track_probability(self, name: str, features: np.ndarray) -> float:
        """A track-level head's P(fake) of one face track from its crops' features (T, dims)
        (``Scores.features``)."""
        head = getattr(self.scorer, f"{name}_head")
        with torch.inference_mode():
            return float(torch.sigmoid(head(head.summary(torch.from_numpy(features))[None]))[0])


@dataclass(frozen=True)
class Scores:
    """Per crop: the blending check's P(fake), each crop-level learned check's by name, and
    each track-level check's per-crop features (judged per track by ``track_probability``)."""

    blending: np.ndarray
    learned: dict[str, np.ndarray] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def synthesis(self) -> np.ndarray | None:
        """The generator-traces check's P(fake) (None: no such head)."""
        return self.learned.get("synthesis")


