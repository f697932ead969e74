"""Detectors that are not dfdemo's: any timm or transformers image classifier, seen as dfdemo's
single-logit network so that scoring, the cuts and Grad-CAM run unchanged.

- Which output is fake: ``dfdemo.labels`` reads the classifier's labels (or ``fake_label``);
  ``FakeLogit`` maps the class logits to one fake logit, log P(fake) − log P(real) of the softmax,
  so its sigmoid is the model's own probability of the fake classes. A single-logit timm model
  needs no mapping (it is used as it is, like dfdemo's).
- ``Classifier`` wraps a classifier with more outputs: it adopts the classifier's modules as its
  own children (so the layer names, e.g. ``vit.layers.11.layernorm_before``, are the model's own)
  and gives what ``dfdemo.model.forward_all`` and Grad-CAM call: ``forward`` (the fake logit),
  ``forward_features``, ``forward_head(pre_logits=)``, ``get_classifier``. For a transformers
  model the "features" are its class logits (the backbone's pooling differs by family).
- The input contract is the model's: timm's ``resolve_model_data_config``, the transformers
  image processor (size, mean, std, rescale); the face crop framing stays dfdemo's.
- Grad-CAM's layer: named in the sidecar (``target_layer``), else found by one probe pass
  (``find_cam_layer``): a CNN's last stage, a token model's (ViT, DeiT, Swin…) last block's first
  norm, as pytorch-grad-cam documents; ``TokenGrid`` is the reshape of its tokens to a grid.
- dfdemo's settings for such a detector (cuts, accuracy) come from its sidecar (``dfdemo.sidecar``);
  without one the model's own 0.5 decides and the detector says it was not measured here.
"""
from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass

import torch

from .config import DetectorConfig
from .errors import WeightsError
from .labels import FakeClasses, fake_classes
from .sidecar import Sidecar, read_sidecar
from .weights import Layout, load_weights

NOT_MEASURED = "accuracy of this detector not measured here"
NOT_CALIBRATED = "this detector's cut was not calibrated here: its own decision is used (fake at P(fake) ≥ 0.5, its argmax)"
TOKEN_NORM = re.compile(r"(^|\.)(norm1|layernorm_before)$")  # a transformer block's first norm (timm, transformers)


class FakeLogit(torch.nn.Module):
    """(N, K) class logits → (N, 1) fake logit: logsumexp over the fake classes − over the real ones."""

    def __init__(self, fake: tuple[int, ...], real: tuple[int, ...]):
        super().__init__()
        self.fake, self.real = list(fake), list(real)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (torch.logsumexp(z[:, self.fake], 1) - torch.logsumexp(z[:, self.real], 1)).unsqueeze(1)

    def extra_repr(self) -> str:
        return f"fake={self.fake}, real={self.real}"


class Classifier(torch.nn.Module):
    """A timm or transformers classifier as a single-logit network (module docstring). Other
    attributes (``pretrained_cfg``, ``config``, ``feature_info``…) are read from the classifier."""

    def __init__(self, inner: torch.nn.Module, classes: FakeClasses, family: str):
        super().__init__()
        for name, child in inner.named_children():
            self.add_module(name, child)
        self.fake_logit = FakeLogit(classes.fake, classes.real)
        self._inner, self.family = [inner], family  # a list: not registered twice as a child

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_inner")
            if not inner:
                raise
            return getattr(inner[0], name)

    @property
    def inner(self) -> torch.nn.Module:
        return self._inner[0]

    def train(self, mode: bool = True):
        super().train(mode)
        self.inner.training = mode
        return self

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) if self.family == "timm" else self.inner(pixel_values=x).logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fake_logit(self.class_logits(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.forward_features(x) if self.family == "timm" else self.class_logits(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.family != "timm":
            return x if pre_logits else self.fake_logit(x)
        return self.inner.forward_head(x, pre_logits=True) if pre_logits else self.fake_logit(self.inner.forward_head(x))

    def get_classifier(self) -> torch.nn.Module:
        if self.family != "timm":
            return self.fake_logit
        return torch.nn.Sequential(self.inner.get_classifier(), self.fake_logit)


@dataclass(frozen=True)
class TokenGrid:
    """pytorch-grad-cam's reshape transform for token models: (N, T, D) tokens → (N, D, side, side),
    the ``prefix`` tokens (class token, distillation token, registers) dropped."""

    prefix: int
    side: int

    @classmethod
    def of(cls, tokens: int, layer: str) -> "TokenGrid":
        side = math.isqrt(tokens)
        if side < 2 or tokens - side * side > 8:
            raise WeightsError(f"the {tokens} tokens of layer {layer} make no square grid: Grad-CAM cannot map them")
        return cls(tokens - side * side, side)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return t[:, self.prefix:].reshape(t.shape[0], self.side, self.side, t.shape[2]).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class Foreign:
    """A loaded timm / transformers classifier: the network, dfdemo's config of it, and how it is read."""

    model: torch.nn.Module
    config: DetectorConfig
    classes: FakeClasses
    sidecar: Sidecar
    notes: tuple[str, ...]  # what the analysis should say of this detector (not measured, not calibrated)


def load_foreign(layout: Layout, label: str, fake_label: str | None = None) -> Foreign:
    """Build the classifier of a timm / transformers folder with dfdemo's config of it: the input
    contract from the model, the settings from its sidecar (``label``: the source, the model id)."""
    sidecar = read_sidecar(layout.folder)
    own = sidecar.settings
    build = _timm if layout.family == "timm" else _transformers
    model, classes, (architecture, size, mean, std) = build(layout, fake_label or own.get("fake_label"))
    layer = own.get("target_layer") or find_cam_layer(model, size, architecture)
    block = {"threshold": 0.5, "uncertain_band": [0.5, 0.5], "model_id": label, **own, "target_layer": layer}
    config = DetectorConfig.from_json_dict({"architecture": architecture, "dfdemo": block, "pretrained_cfg": {
        "input_size": [3, size, size], "mean": list(mean), "std": list(std)}})
    notes = [sidecar.stale] if sidecar.stale else []
    notes += [] if "threshold" in own else [NOT_CALIBRATED]
    notes += [] if (own.get("extra") or {}).get("accuracy") else [NOT_MEASURED]
    return Foreign(model.eval(), config, classes, sidecar, tuple(notes))


def _timm(layout: Layout, fake_label: str | None):
    """A timm classifier from its folder (timm's ``local-dir:`` route), strictly loaded."""
    import timm
    from timm.data import resolve_model_data_config

    raw, arch = layout.config, str(layout.config["architecture"])
    n = int(raw.get("num_classes") or (raw.get("pretrained_cfg") or {}).get("num_classes") or 1000)
    name = f"local-dir:{layout.folder}" if "pretrained_cfg" in raw else arch
    try:
        inner = timm.create_model(name, pretrained=False, num_classes=n)
    except RuntimeError as e:
        raise WeightsError(f"unknown timm architecture {arch!r}: {e}") from e
    load_weights(inner, layout.weights, arch)
    classes = fake_classes(_timm_labels(raw, n), n, fake_label)
    data = resolve_model_data_config(inner)
    side = _square(tuple(data["input_size"][1:]), arch)
    model = inner if classes.single_logit else Classifier(inner, classes, "timm")
    return model, classes, (arch, side, tuple(data["mean"]), tuple(data["std"]))


def _timm_labels(raw: dict, n: int) -> list[str]:
    names = raw.get("label_names") or (raw.get("pretrained_cfg") or {}).get("label_names") or []
    if isinstance(names, dict):
        names = [names.get(str(i), names.get(i, "")) for i in range(n)]
    return [str(x) for x in names]


def _transformers(layout: Layout, fake_label: str | None):
    """A transformers image classifier (``AutoModelForImageClassification``, safetensors only,
    no remote code), strictly loaded in float32, with its image processor's input contract."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    folder = str(layout.folder)
    try:
        with _quiet_transformers():
            inner, info = AutoModelForImageClassification.from_pretrained(
                folder, use_safetensors=True, dtype=torch.float32, trust_remote_code=False, output_loading_info=True)
            processor = AutoImageProcessor.from_pretrained(folder)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise WeightsError(f"{folder} does not load as a transformers image classifier: {_first_line(e)}") from None
    wrong = [*info.get("missing_keys", ()), *info.get("mismatched_keys", ())]
    if wrong:
        raise WeightsError(f"{folder}: model.safetensors does not fill {type(inner).__name__} ({len(wrong)} tensors "
                           f"missing or of another shape, e.g. {sorted(map(str, wrong))[0]})")
    n = int(inner.config.num_labels)
    labels = [str(inner.config.id2label.get(i, "")) for i in range(n)]
    classes = fake_classes(labels, n, fake_label)
    return Classifier(inner, classes, "transformers"), classes, (f"transformers:{type(inner).__name__}", *_processor_input(processor))


def _processor_input(p) -> tuple[int, tuple, tuple]:
    """(input side, mean, std) of a transformers image processor, as dfdemo's ``normalise`` uses
    them on pixels scaled to [0, 1]: the centre crop's size where it crops, else the resize's."""
    crop = getattr(p, "crop_size", None) if getattr(p, "do_center_crop", False) else None
    side = _side(crop) or _side(getattr(p, "size", None))
    if not side:
        raise WeightsError(f"{type(p).__name__}: no input size dfdemo can read ({getattr(p, 'size', None)})")
    mean = tuple(p.image_mean) if getattr(p, "do_normalize", True) else (0.0, 0.0, 0.0)
    std = tuple(p.image_std) if getattr(p, "do_normalize", True) else (1.0, 1.0, 1.0)
    scale = 255.0 * float(p.rescale_factor) if getattr(p, "do_rescale", True) else 255.0  # model sees pixel × rescale
    return side, tuple(float(m) / scale for m in mean), tuple(float(s) / scale for s in std)


def _side(size) -> int:
    if size is None:
        return 0
    if isinstance(size, int):
        return size
    get = size.get if isinstance(size, dict) else lambda k: getattr(size, k, None)
    h, w, short = get("height"), get("width"), get("shortest_edge")
    if h and w:
        return _square((int(h), int(w)), "the image processor")
    return int(short or 0)


def _square(hw: tuple[int, int], what: str) -> int:
    if hw[0] != hw[1]:
        raise WeightsError(f"{what} takes {hw[0]}x{hw[1]} inputs; dfdemo's face crops are square")
    return int(hw[0])


def find_cam_layer(model: torch.nn.Module, size: int, architecture: str = "") -> str:
    """Grad-CAM's default layer, from one probe pass recording each module's output: if the last
    spatial output is a (N, C, h, w) map, a CNN's last stage (timm's family default, else the
    last module giving one); if it is (N, T, D) tokens, the last block's first norm (``TOKEN_NORM``)."""
    from .model import default_target_layer

    shapes = probe_shapes(model, size)
    spatial = [(n, s) for n, s in shapes if (len(s) == 3 and s[1] > 1) or (len(s) == 4 and s[2] * s[3] > 1)]
    if not spatial:
        raise WeightsError(f"{architecture}: no layer gives a spatial map or tokens for Grad-CAM")
    name, shape = spatial[-1]
    if len(shape) == 4:
        timm_cnn = hasattr(model, "feature_info") and not architecture.startswith("transformers:")
        return default_target_layer(architecture, getattr(model, "inner", model)) if timm_cnn else name
    norms = [n for n, s in spatial if len(s) == 3 and TOKEN_NORM.search(n)]
    return norms[-1] if norms else name


def probe_shapes(model: torch.nn.Module, size: int, names: list[str] | None = None) -> list[tuple[str, tuple]]:
    """(module name, output shape) of each named module (or of ``names``) in the order they run,
    from one pass over a zero image; the model's train/eval modes are kept."""
    seen: list[tuple[str, tuple]] = []
    wanted = names if names is not None else [n for n, _ in model.named_modules() if n]
    hooks = [model.get_submodule(n).register_forward_hook(
        lambda m, i, o, n=n: seen.append((n, tuple(o.shape))) if isinstance(o, torch.Tensor) else None) for n in wanted]
    was = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return seen


def cam_grid(model: torch.nn.Module, layers: list[str], size: int) -> TokenGrid | None:
    """The reshape Grad-CAM needs for ``layers``: a ``TokenGrid`` when the first gives tokens, else None."""
    shapes = dict(probe_shapes(model, size, layers[:1]))
    shape = shapes.get(layers[0], ())
    return TokenGrid.of(shape[1], layers[0]) if len(shape) == 3 else None


@contextlib.contextmanager
def _quiet_transformers():
    """transformers' loading progress bar off while loading, as it was afterwards."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def has_batchnorm(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
