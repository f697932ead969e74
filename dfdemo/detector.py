"""Detector stage: load/save weights, preprocess face crops, batched fake probabilities.

A weights folder holds ``config.json`` + ``model.safetensors`` (the ``save_pretrained`` layout
of huggingface_hub / timm): the architecture and its input contract travel with the weights,
plus dfdemo's own settings (crop margin, threshold, uncertain band, Grad-CAM layer) under the
``"dfdemo"`` key, typed in ``dfdemo.config``. Loading sets no process-wide state (threads, env):
that is the entry point's job (``dfdemo.runtime``). Only safetensors are ever loaded; pickled checkpoints are refused.
No mediapipe here: the detector takes RGB uint8 crops of shape (N, S, S, 3).
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .config import DetectorConfig, MaskHeadConfig, load_config, save_config  # noqa: F401 (load_config: part of the API)
from .errors import WeightsError
from .synthesis import SynthesisHead, TrackHead, pool
from .temporal import TemporalHead, load_temporal

BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "detector"
ENV_WEIGHTS = "DFDEMO_WEIGHTS"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Crops per forward pass. On 2 cores 4 crops a pass score as fast as 32 or faster (activations
# stay in cache), and the peak memory of scoring is ~60 MB instead of ~400 MB at 32.
BATCH_SIZE = 4
MOUTH_BATCH = 16  # mouth crops (112 px) a pass: a quarter of a face crop's pixels, fastest in larger batches (measured)
# Grad-CAM layer per family: the last activation before global pooling.
TARGET_LAYERS = {"tf_efficientnet": "bn2", "efficientnet": "bn2", "legacy_xception": "act4", "xception": "act4"}




def create_model(architecture: str, pretrained_path: str | os.PathLike | None = None) -> torch.nn.Module:
    """Build a single-logit timm classifier; optionally start from an ImageNet state dict file.

    Supported families include ``tf_efficientnet_lite0`` (default), ``efficientnet_b4`` and
    ``xception`` / ``legacy_xception`` / ``xception41``. The ImageNet file is read with
    ``weights_only=True`` (no code execution); its classifier is dropped.
    """
    import timm

    try:
        model = timm.create_model(architecture, pretrained=False, num_classes=1)
    except RuntimeError as e:
        raise WeightsError(f"unknown architecture {architecture!r}: {e}") from e
    if pretrained_path is not None:
        sd = torch.load(pretrained_path, map_location="cpu", weights_only=True)
        head = model.default_cfg.get("classifier", "classifier")
        sd = {k: v for k, v in sd.items() if not k.startswith(head + ".")}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if unexpected or any(not k.startswith(head + ".") for k in missing):
            raise WeightsError(f"{pretrained_path} does not match {architecture}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


def normalise(crops: torch.Tensor, mean, std) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB crops → the network's input: NCHW float, scaled to [0, 1], then
    (x − mean) / std per channel, channels_last. The one preprocessing of scoring, training
    and the training run's dev-eval curve."""
    x = crops.permute(0, 3, 1, 2).float().div_(255)
    m, s = torch.as_tensor(mean).view(1, 3, 1, 1), torch.as_tensor(std).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


class MaskHead(torch.nn.Module):
    """Learned manipulation map (Face X-ray-style): predicts the self-blend mask from the
    backbone's stride-16 features, optionally joined by its last (stride-32) features, the ones
    the fake score is computed from, projected to ``hidden`` channels and upsampled.
    3x3 conv → ReLU → 1x1 conv; logits at 1/16 of the input."""

    def __init__(self, channels: int, hidden: int = 64, deep_channels: int = 0):
        super().__init__()
        self.deep = torch.nn.Conv2d(deep_channels, hidden, 1) if deep_channels else None
        self.net = torch.nn.Sequential(torch.nn.Conv2d(channels + (hidden if deep_channels else 0), hidden, 3, padding=1),
                                       torch.nn.ReLU(inplace=True), torch.nn.Conv2d(hidden, 1, 1))

    def forward(self, features: torch.Tensor, deep: torch.Tensor | None = None) -> torch.Tensor:
        if self.deep is not None:
            d = torch.nn.functional.interpolate(self.deep(deep), size=features.shape[-2:], mode="bilinear", align_corners=False)
            features = torch.cat([features, d], dim=1)
        return self.net(features)


def _layer_outputs(model: torch.nn.Module, layers: list[str], x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(model(x), the outputs of ``layers``) from one forward pass."""
    feats: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: feats.__setitem__(name, o))
             for name in layers]
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, [feats[name] for name in layers]


def add_mask_head(model: torch.nn.Module, layer: str = "blocks.4", deep_layer: str | None = None) -> MaskHeadConfig:
    """Attach a ``MaskHead`` as ``model.mask_head`` reading ``layer`` (and ``deep_layer``);
    returns its config block."""
    layers = [layer] + ([deep_layer] if deep_layer else [])
    with torch.no_grad():
        _, feats = _layer_outputs(model.eval(), layers, torch.zeros(1, 3, 64, 64))
    head = MaskHeadConfig(layer, int(feats[0].shape[1]), deep_layer, int(feats[1].shape[1]) if deep_layer else 0)
    model.mask_head = MaskHead(head.channels, deep_channels=head.deep_channels)
    return head


def forward_with_mask(model: torch.nn.Module, head: MaskHeadConfig, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass giving (fake logits (N,), mask logits (N, 1, h, w)) for a model with a
    head; ``head`` is its config block (``add_mask_head``)."""
    logits, feats = _layer_outputs(model, head.layers, x)
    return logits.view(-1), model.mask_head(*feats)


def mask_probabilities(mask_logits: torch.Tensor, size: int) -> torch.Tensor:
    """The mask head's (N, 1, h, w) logits → (N, size, size) maps in [0, 1] over the crop."""
    return torch.sigmoid(torch.nn.functional.interpolate(mask_logits.float(), size=(size, size), mode="bilinear",
                                                         align_corners=False))[:, 0]


def default_target_layer(architecture: str, model: torch.nn.Module) -> str:
    for prefix, layer in TARGET_LAYERS.items():
        if architecture.startswith(prefix):
            return layer
    return model.feature_info[-1]["module"]


def resolve_weights(source: str | os.PathLike | None = None) -> Path:
    """Turn a weights source into a local folder.

    Order: ``source`` → ``$DFDEMO_WEIGHTS`` → the bundled ``weights/detector/``. A source is a
    local folder, or a Hub repo id ``owner/name`` with an optional ``@revision``, fetched with
    huggingface_hub into its cache (works offline from a filled cache with HF_HUB_OFFLINE=1).
    """
    source = source or os.environ.get(ENV_WEIGHTS) or BUNDLED_WEIGHTS
    p = Path(source).expanduser()
    if p.is_dir():
        return p
    text = str(source)
    if p.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise WeightsError(f"weights not found: {text} is neither a folder nor a Hub repo id (owner/name[@revision])")
    return _download(text)


def _hub_timeouts() -> None:
    """Put a timeout on every request of huggingface_hub's shared HTTP client. Its file requests
    carry their own (``HF_HUB_ETAG_TIMEOUT``, ``HF_HUB_DOWNLOAD_TIMEOUT``: 10 s by default), but
    the metadata calls of ``snapshot_download`` (``repo_info``, ``list_repo_tree``) pass
    ``timeout=None``: against a Hub that accepts the connection and never answers they waited
    forever. A request hook replaces each missing limit (connect, read, write, pool) by
    ``HF_HUB_ETAG_TIMEOUT``; limits a request sets itself are kept."""
    from huggingface_hub.utils import get_session

    session = get_session()
    hooks = session.event_hooks
    if _bound_timeouts not in hooks.get("request", []):
        session.event_hooks = {**hooks, "request": [*hooks.get("request", []), _bound_timeouts]}


def _bound_timeouts(request) -> None:
    from huggingface_hub import constants

    limit = float(constants.HF_HUB_ETAG_TIMEOUT)
    given = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {k: limit if given.get(k) is None else given[k] for k in ("connect", "read", "write", "pool")}


def _download(spec: str) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo_id, _, revision = spec.partition("@")
    _hub_timeouts()
    try:
        folder = snapshot_download(repo_id, revision=revision or None, allow_patterns=["config.json", "*.safetensors", "README.md", "*.bin", "*.pt", "*.pth"])
    except RepositoryNotFoundError as e:
        raise WeightsError(f"Hub repo {repo_id} does not exist or is private") from e
    except LocalEntryNotFoundError as e:
        why = "offline" if constants.is_offline_mode() else f"no answer within {constants.HF_HUB_ETAG_TIMEOUT} s"
        raise WeightsError(f"Hub repo {repo_id} is not in the local cache and the Hub cannot be reached ({why})") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise WeightsError(f"cannot fetch Hub repo {repo_id}: {_first_line(e)}") from e
    except Exception as e:  # a timeout or a dropped connection surfaces as the HTTP library's own error
        if type(e).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore", "httpcore2"):
            raise
        raise WeightsError(f"cannot fetch Hub repo {repo_id}: the Hub did not answer in time ({type(e).__name__}); "
                           "try again later or use the bundled weights") from None
    return Path(folder)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """An inference-only copy of ``model`` with each BatchNorm folded into the conv before it.

    Same logits (to float rounding), one memory pass fewer per conv. Only a conv directly
    followed by a BatchNorm in the same parent (timm's ``conv_*``/``bn*`` pairs) is folded; a
    ``BatchNormAct2d`` keeps its activation. Grad-CAM and training use the original model.
    """
    import copy

    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        for parent in list(model.modules()):
            names = list(parent._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = parent._modules[a], parent._modules[b]
                if not (isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d) and bn.track_running_stats):
                    continue
                scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
                shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) - bn.running_mean * scale
                if conv.bias is not None:
                    shift = shift + conv.bias * scale
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias = torch.nn.Parameter(shift)
                parent._modules[b] = torch.nn.Sequential(getattr(bn, "drop", torch.nn.Identity()), getattr(bn, "act", torch.nn.Identity()))
    return model.requires_grad_(False)


class Detector:
    """A loaded detector: ``model`` in eval mode + its ``config``. Load once, reuse.

    ``scorer`` (default: ``model``) computes the scores; ``load_detector`` passes a copy with
    BatchNorm folded (``fold_batchnorm``), so ``model`` must not change after loading.
    """

    def __init__(self, model: torch.nn.Module, config: DetectorConfig, scorer: torch.nn.Module | None = None,
                 temporal: TemporalHead | None = None):
        self.model = model.eval()
        self.scorer = model if scorer is None else scorer.eval()
        self.config = config
        self.temporal = temporal  # the temporal head (temporal.py), when the weights have one
        self.temporal_config = config.temporal if temporal is not None else None
        # Grad-CAM and the mask-feature capture change ``model``'s state (hooks, requires_grad,
        # eval mode): whoever explains with the shared model holds this lock (scoring uses ``scorer``)
        self.model_lock = threading.RLock()
        self._head_models: dict[str, torch.nn.Module] = {}
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
    def target_layer(self) -> torch.nn.Module:
        """The first Grad-CAM layer (weights with one layer: the only one)."""
        return self.cam_layers[0]

    def preprocess(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) RGB uint8 crops (S = config.input_size) → normalised NCHW float tensor."""
        crops = np.asarray(crops)
        s = self.config.input_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3) or crops.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops of shape (N, {s}, {s}, 3), got {crops.dtype} {crops.shape}")
        return normalise(torch.from_numpy(np.ascontiguousarray(crops)), self._mean, self._std)

    @property
    def has_mask_head(self) -> bool:
        return bool(self.config.mask_head) and hasattr(self.model, "mask_head")

    def predict_masks(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray | None:
        """Learned manipulation maps (N, S, S) in [0, 1], or None when the weights have no head."""
        if not self.has_mask_head:
            return None
        out = []
        with torch.inference_mode():
            for i in range(0, len(crops), batch_size):
                _, m = forward_with_mask(self.model, self.config.mask_head, self.preprocess(crops[i : i + batch_size]))
                out.append(self._mask_probabilities(m))
        return torch.cat(out).numpy()

    @contextlib.contextmanager
    def capturing_mask_features(self):
        """Within this block, forward passes of ``model`` (e.g. Grad-CAM's) keep the features the
        mask head reads; ``masks_from_captured()`` then gives the learned maps of those crops
        without a second forward pass. Yields a callable; None when the weights have no head."""
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
        out = []
        with torch.inference_mode():
            for i in range(0, len(crops), batch_size):
                out.append(self.scorer(self.preprocess(crops[i : i + batch_size])).float().view(-1))
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    def embed(self, crops: np.ndarray, batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """(fake probabilities (N,), pooled backbone features (N, D)) from one pass per crop."""
        probs, feats = [], []
        with torch.inference_mode():
            for i in range(0, len(crops), batch_size):
                f = self.scorer.forward_head(self.scorer.forward_features(self.preprocess(crops[i : i + batch_size])), pre_logits=True)
                feats.append(f.float())
                probs.append(torch.sigmoid(self.scorer.get_classifier()(f).float().view(-1)))
        if not feats:
            return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        return torch.cat(probs).numpy(), torch.cat(feats).numpy()

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

    def head_model(self, name: str) -> torch.nn.Module:
        """``model`` seen through one learned head: a module whose one logit is that check's
        score, for Grad-CAM of the check (its layers are ``model``'s own, so ``cam_layers`` apply)."""
        if name not in self._head_models:
            self._head_models[name] = HeadLogit(self.model, self.config.learned()[name], name)
        return self._head_models[name]

    @property
    def synthesis_model(self) -> torch.nn.Module:
        return self.head_model("synthesis")

    def scores(self, crops: np.ndarray, mouths: np.ndarray | None = None, heads: list[str] | None = None,
               batch_size: int = BATCH_SIZE) -> Scores:
        """Every check's evidence from one forward pass per batch: the blending P(fake); each
        crop-level learned head's P(fake) of the pooled activations it reads; and, for each
        track-level head (``unit == "track"``), every crop's features (the face's pooled
        activations, then the mouth's: a second pass over ``mouths``, (N, m, m, 3) uint8 cut by
        ``faces.mouth_crop`` at the head's ``mouth_px``), which ``track_probability`` judges
        per face track. ``heads``: the learned checks to compute (default: all the weights have)."""
        names = [n for n in self.learned_heads if heads is None or n in heads]
        if not names:
            return Scores(self.predict(crops, batch_size))
        cfgs = self.config.learned()
        layers = tuple(dict.fromkeys(layer for n in names for layer in cfgs[n].layers))
        blend: list[torch.Tensor] = []
        per_crop: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        with torch.inference_mode():
            for i in range(0, len(crops), batch_size):
                logits, taps = forward_with_taps(self.scorer, self.preprocess(crops[i : i + batch_size]), layers)
                blend.append(torch.sigmoid(logits.float().view(-1)))
                tapped = dict(zip(layers, taps))
                for n in names:
                    c = cfgs[n]
                    pooled = pool([tapped[layer] for layer in c.layers], c.layers, c.spread)
                    per_crop[n].append(pooled if c.unit == "track" else
                                       torch.sigmoid(getattr(self.scorer, f"{n}_head")(pooled).float()))
            for n in names:
                if cfgs[n].mouth_px and per_crop[n]:
                    if mouths is None or len(mouths) != len(crops):
                        raise ValueError(f"the {n} head reads the mouth too: pass one mouth crop per face crop")
                    per_crop[n] = [torch.cat([torch.cat(per_crop[n]), self.pooled_activations(mouths, cfgs[n].layers, cfgs[n].spread)], 1)]
        if not blend:
            return Scores(np.zeros(0, np.float32))
        learned = {n: torch.cat(v).numpy() for n, v in per_crop.items() if cfgs[n].unit != "track"}
        features = {n: torch.cat(v).numpy() for n, v in per_crop.items() if cfgs[n].unit == "track"}
        return Scores(torch.cat(blend).numpy(), learned, features)

    def pooled_activations(self, crops: np.ndarray, layers: tuple[str, ...], spread: tuple[str, ...],
                           batch_size: int = MOUTH_BATCH) -> torch.Tensor:
        """The scoring pass's pooled activations (``synthesis.pool``) of uint8 RGB crops of any
        square size (N, m, m, 3): the mouth pass, and the lab's features of it."""
        out = []
        with torch.inference_mode():
            for i in range(0, len(crops), batch_size):
                x = normalise(torch.from_numpy(np.ascontiguousarray(crops[i : i + batch_size])), self._mean, self._std)
                out.append(pool(forward_with_taps(self.scorer, x, layers)[1], layers, spread))
        return torch.cat(out)

    def track_probability(self, name: str, features: np.ndarray) -> float:
        """A track-level head's P(fake) of one face track from its crops' features (T, dims)
        (``Scores.features``)."""
        head = getattr(self.scorer, f"{name}_head")
        with torch.inference_mode():
            return float(torch.sigmoid(head(head.summary(torch.from_numpy(features))[None]))[0])


class HeadLogit(torch.nn.Module):
    """``model``'s ``<name>_head`` logit as the module's output (N, 1); for a track-level head
    the face part of a crop's contribution (``TrackHead.crop_logit``)."""

    def __init__(self, model: torch.nn.Module, cfg, name: str):
        super().__init__()
        self.model, self.layers, self.spread, self.name = model, tuple(cfg.layers), tuple(cfg.spread), name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, taps = forward_with_taps(self.model, x, self.layers)
        head, pooled = getattr(self.model, f"{self.name}_head"), pool(taps, self.layers, self.spread)
        return (head.crop_logit(pooled) if isinstance(head, TrackHead) else head(pooled)).view(-1, 1)


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


def forward_with_taps(model: torch.nn.Module, x: torch.Tensor, layers: tuple[str, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(logits, the outputs of ``layers``) from one pass, without hooks (so threads sharing the
    model do not see each other's taps): timm EfficientNets are walked stage by stage, other
    families go through ``_layer_outputs``' hooks."""
    if not all(hasattr(model, n) for n in ("conv_stem", "bn1", "blocks", "conv_head", "bn2")):
        return _layer_outputs(model, list(layers), x)
    got: dict[str, torch.Tensor] = {}
    x = model.bn1(model.conv_stem(x))
    for k, block in enumerate(model.blocks):
        x = got[f"blocks.{k}"] = block(x)
    x = got["bn2"] = model.bn2(model.conv_head(x))
    return model.forward_head(x), [got[n] for n in layers]




def load_detector(source: str | os.PathLike | None = None) -> Detector:
    """Load a detector from a folder or Hub id (see ``resolve_weights``). Safetensors only, strict."""
    from safetensors.torch import load_file

    folder = resolve_weights(source)
    cfg_path, st_path = folder / "config.json", folder / "model.safetensors"
    if not st_path.is_file():
        pickled = [f.name for f in folder.iterdir() if f.suffix in PICKLE_SUFFIXES]
        if pickled:
            raise WeightsError(f"{folder} holds only pickled weights ({', '.join(pickled)}); dfdemo loads model.safetensors only")
        raise WeightsError(f"{folder} has no model.safetensors")
    if not cfg_path.is_file():
        raise WeightsError(f"{folder} has no config.json")
    config = load_config(folder)
    if not config.model_id:
        config = replace(config, model_id=str(source or os.environ.get(ENV_WEIGHTS) or "bundled:weights/detector"))
    model = create_model(config.architecture)
    if config.mask_head:
        add_mask_head(model, config.mask_head.layer, config.mask_head.deep_layer)
    for name, head in config.learned().items():
        setattr(model, f"{name}_head", TrackHead(head.dims) if head.unit == "track" else SynthesisHead(head.dims))
    try:
        state = load_file(str(st_path))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except Exception as e:  # wrong architecture, truncated file, …
        raise WeightsError(f"{st_path} does not load into {config.architecture}: {e}") from e
    temporal = load_temporal(folder, config.temporal) if config.temporal else None
    model = model.to(memory_format=torch.channels_last)
    det = Detector(model, config, scorer=fold_batchnorm(model), temporal=temporal)
    _ = det.cam_layers  # a target_layer the model lacks fails here, not at the first heatmap
    return det


def save_detector(model: torch.nn.Module, folder: str | os.PathLike, config: DetectorConfig) -> Path:
    """Write ``model.safetensors`` (fp16) and ``config.json`` into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    save_config(folder, config)
    return folder
