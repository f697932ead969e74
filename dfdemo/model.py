"""The network: a timm single-logit classifier with dfdemo's heads attached, and its one forward pass.

- Building: ``create_model`` (a timm family by name: the lab's start), ``build_model`` (from a
  weights folder through timm's ``local-dir:`` route: the architecture and its ``pretrained_cfg``
  come from the folder's ``config.json``), ``add_mask_head`` / ``attach_heads`` (the heads of
  ``dfdemo.heads`` as attributes of the timm model, so the state dict keys are ``mask_head.…``,
  ``synthesis_head.…``), ``fold_batchnorm`` (the inference copy).
- Running: ``forward_all`` gives every output of one pass (the fake logit, the pre-logit pooled
  features, the tapped activations the learned heads read, the mask head's logits).

The tap: activations of named layers (the names of ``config.json``: ``blocks.4``, ``bn2``…) come
from timm's ``forward_intermediates``, never from forward hooks during scoring (a hook on a model
that several threads share would see the other threads' passes) nor from the family's attribute
names. Which intermediate a name is gets found once per model (``tap_indices``): one probe pass
with a hook on each named module, matching the module's output to the intermediates by identity.
Any timm model that has ``forward_intermediates`` can thus be tapped by module name; a name that
is no intermediate (nor the final features) is a ``WeightsError`` naming it.
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import DetectorConfig, MaskHeadConfig
from .errors import WeightsError
from .heads import MaskHead, SynthesisHead, TrackHead

# Grad-CAM layer per family: the last activation before global pooling.
TARGET_LAYERS = {"tf_efficientnet": "bn2", "efficientnet": "bn2", "legacy_xception": "act4", "xception": "act4"}
FINAL = -1  # tap_indices' index of the final features (the classifier's input before pooling)


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


def build_model(folder: Path, config: DetectorConfig) -> torch.nn.Module:
    """The untrained network of a weights folder with the heads its config names: timm builds the
    classifier from ``config.json`` (``timm.create_model("local-dir:…")``: architecture and
    ``pretrained_cfg``, so ``timm.data.resolve_model_data_config`` knows the input contract).
    A config.json without a ``pretrained_cfg`` block (hand-written, older) is timm's legacy
    single-dict format, which cannot carry the ``dfdemo`` block: its architecture is built by name."""
    import timm

    name = f"local-dir:{folder}" if "pretrained_cfg" in _raw_config(folder) else config.architecture
    try:
        model = timm.create_model(name, pretrained=False, num_classes=1)
    except RuntimeError as e:
        raise WeightsError(f"unknown architecture {config.architecture!r}: {e}") from e
    return attach_heads(model, config)


def _raw_config(folder: Path) -> dict:
    import json

    return json.loads((folder / "config.json").read_text())


def attach_heads(model: torch.nn.Module, config: DetectorConfig) -> torch.nn.Module:
    """``model`` with the (untrained) heads of ``config``: the mask head and each learned check's."""
    if config.mask_head:
        add_mask_head(model, config.mask_head.layer, config.mask_head.deep_layer)
    for name, head in config.learned().items():
        setattr(model, f"{name}_head", TrackHead(head.dims) if head.unit == "track" else SynthesisHead(head.dims))
    return model


def add_mask_head(model: torch.nn.Module, layer: str = "blocks.4", deep_layer: str | None = None) -> MaskHeadConfig:
    """Attach a ``MaskHead`` as ``model.mask_head`` reading ``layer`` (and ``deep_layer``);
    returns its config block. Leaves ``model`` in eval mode."""
    width = channels(model.eval(), (layer,) + ((deep_layer,) if deep_layer else ()))
    head = MaskHeadConfig(layer, width[layer], deep_layer, width[deep_layer] if deep_layer else 0)
    model.mask_head = MaskHead(head.channels, deep_channels=head.deep_channels)
    return head


def channels(model: torch.nn.Module, layers: tuple[str, ...]) -> dict[str, int]:
    """Each of ``layers``' channel count, from one probe pass of ``model`` over a tiny input."""
    with torch.no_grad():
        _, feats = tap(model, torch.zeros(1, 3, 64, 64), layers)
    return {n: int(f.shape[1]) for n, f in zip(layers, feats)}


def default_target_layer(architecture: str, model: torch.nn.Module) -> str:
    for prefix, layer in TARGET_LAYERS.items():
        if architecture.startswith(prefix):
            return layer
    return model.feature_info[-1]["module"]


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """An inference-only copy of ``model`` with each BatchNorm folded into the conv before it.

    Same logits (to float rounding), one memory pass fewer per conv. Only a conv directly
    followed by a BatchNorm in the same parent (timm's ``conv_*``/``bn*`` pairs) is folded; a
    ``BatchNormAct2d`` keeps its activation. Grad-CAM and training use the original model.
    """
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


def twin(model: torch.nn.Module) -> torch.nn.Module:
    """A second set of module objects over the same parameters and buffers (no memory for the
    weights): the scorer of a network without BatchNorm to fold, so that Grad-CAM's hooks and
    mode changes on ``model`` are never seen by the scoring passes of other threads."""
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo=shared).eval()


@dataclass(frozen=True)
class Outputs:
    """Everything one forward pass gives, per crop."""

    logits: torch.Tensor  # (N,) the fake logit
    taps: dict[str, torch.Tensor] = field(default_factory=dict)  # the requested layers' activations (N, C, h, w)
    mask_logits: torch.Tensor | None = None  # (N, 1, h, w) the mask head's, when asked for
    pooled: torch.Tensor | None = None  # (N, D) the classifier's input (pre-logits), when asked for


def forward_all(model: torch.nn.Module, x: torch.Tensor, layers: tuple[str, ...] = (),
                mask_head: MaskHeadConfig | None = None, pooled: bool = False) -> Outputs:
    """The one forward pass of the network over a normalised batch ``x``: the fake logits, the
    activations of ``layers`` (what the learned heads pool), the mask head's logits when
    ``mask_head`` (its config block) is given, the pre-logit features when ``pooled``."""
    wanted = tuple(dict.fromkeys([*layers, *(mask_head.layers if mask_head else ())]))
    final, feats = tap(model, x, wanted)
    got = dict(zip(wanted, feats))
    if pooled:
        pre = model.forward_head(final, pre_logits=True)
        logits = model.get_classifier()(pre)
    else:
        pre, logits = None, model.forward_head(final)
    masks = model.mask_head(*[got[n] for n in mask_head.layers]) if mask_head else None
    return Outputs(logits.view(-1), {n: got[n] for n in layers}, masks, pre)


def forward_with_mask(model: torch.nn.Module, head: MaskHeadConfig, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fake logits (N,), mask logits (N, 1, h, w)) of ``forward_all``: the training loop's view."""
    out = forward_all(model, x, mask_head=head)
    return out.logits, out.mask_logits


def tap(model: torch.nn.Module, x: torch.Tensor, layers: tuple[str, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(the final features (before pooling), the activations of ``layers``) from one pass
    through timm's ``forward_intermediates``; no layers: ``forward_features``."""
    if not layers:
        return model.forward_features(x), []
    where = tap_indices(model, layers)
    indices = sorted({i for i in where.values() if i != FINAL})
    if not indices:
        final = model.forward_features(x)
        return final, [final for _ in layers]
    final, inter = model.forward_intermediates(x, indices=indices, **_every_block(model))
    got = dict(zip(indices, inter))
    return final, [final if where[n] == FINAL else got[where[n]] for n in layers]


def activations(model: torch.nn.Module, x: torch.Tensor, layers: tuple[str, ...]) -> list[torch.Tensor]:
    """The activations of ``layers`` only, from a pass that stops after the last of them (no
    later blocks, no logits: the mouth pass reads early blocks); the same tensors as ``tap``'s.
    A layer at the final features needs the whole pass (``tap``)."""
    where = tap_indices(model, layers)
    if not layers or FINAL in where.values():
        return tap(model, x, layers)[1]
    indices = sorted(set(where.values()))
    inter = model.forward_intermediates(x, indices=indices, stop_early=True, intermediates_only=True, **_every_block(model))
    got = dict(zip(indices, inter))
    return [got[where[n]] for n in layers]


def tap_features(model: torch.nn.Module):
    """``tap`` bound to ``model``, giving only the activations: what ``heads.HeadLogit`` calls."""
    return lambda x, layers: tap(model, x, layers)[1]


_TAPS: "weakref.WeakKeyDictionary[torch.nn.Module, dict[str, int]]" = weakref.WeakKeyDictionary()
_RESOLVING = threading.Lock()


def tap_indices(model: torch.nn.Module, layers: tuple[str, ...]) -> dict[str, int]:
    """Layer name → its index among ``model.forward_intermediates``' outputs (``FINAL``: the
    final features), found once per model by a probe pass (module docstring)."""
    known = _TAPS.get(model, {})
    if any(n not in known for n in layers):
        with _RESOLVING:
            known = {**_TAPS.get(model, {}), **_resolve(model, [n for n in layers if n not in known])}
            _TAPS[model] = known
    return {n: known[n] for n in layers}


def _every_block(model: torch.nn.Module) -> dict:
    """EfficientNets count only stage ends as intermediates unless asked for every block."""
    return {"extra_blocks": True} if _takes_extra_blocks(type(model)) else {}


@functools.lru_cache(maxsize=None)
def _takes_extra_blocks(cls: type) -> bool:
    return "extra_blocks" in inspect.signature(cls.forward_intermediates).parameters


def _resolve(model: torch.nn.Module, names: list[str]) -> dict[str, int]:
    if not hasattr(model, "forward_intermediates"):
        raise WeightsError(f"{type(model).__name__} has no forward_intermediates: its layers {names} cannot be tapped")
    seen: dict[str, torch.Tensor] = {}
    me = threading.get_ident()  # a pass of another thread sharing the model is not this probe's

    def keep(name):
        return lambda m, i, o: seen.setdefault(name, o) if threading.get_ident() == me else None

    try:
        hooks = [model.get_submodule(n).register_forward_hook(keep(n)) for n in names]
    except AttributeError as e:
        raise WeightsError(f"layers {names}: not all are layers of {type(model).__name__}: {e}") from e
    modes = [(m, m.training) for m in model.modules()]
    size = tuple((getattr(model, "pretrained_cfg", None) or {}).get("input_size") or (3, 224, 224))
    try:
        with torch.no_grad():
            final, inter = model.eval().forward_intermediates(torch.zeros(1, *size), **_every_block(model))
    finally:
        for h in hooks:
            h.remove()
        for m, training in modes:
            m.training = training
    index = {id(t): k for k, t in enumerate(inter)}
    index[id(final)] = FINAL
    out = {n: index.get(id(seen.get(n))) for n in names}
    if None in out.values():
        bad = [n for n, i in out.items() if i is None]
        raise WeightsError(f"layers {bad} of {type(model).__name__} are not among the outputs of its forward_intermediates")
    return out
