"""The detector's heads: the ``nn.Module``s that read the backbone's activations, nothing else.

Each is stored in the weights' safetensors under its attribute name on the timm model
(``mask_head.``, ``synthesis_head.``, ``animation_head.``) and described by its block of
``config.json`` → ``dfdemo`` (``config.MaskHeadConfig``, ``config.SynthesisConfig``).
``dfdemo.model`` builds the model with its heads and runs the one forward pass that feeds them.

- ``MaskHead``: the learned manipulation map (Face X-ray-style).
- ``SynthesisHead``: a crop-level learned check (generator traces). The blending score looks for
  the seam of a pasted face; a face a generator drew whole (a GAN still, a talking-head
  animator's frames) has no seam. This head reads the same forward pass of the same backbone:
  the activations of a few blocks, average-pooled (and, for the early ones, their spread over
  the face, a texture statistic; ``pool``), standardised and weighed by a linear layer into one
  logit: a few hundred multiply-adds per face on top of the blending score. Trained on real
  faces only, against the lab's simulated generator traces (``python -m dfdemo_lab train-synthesis``).
- ``TrackHead``: a track-level learned check (lip-sync / face animation) over a face track's crops.
- ``HeadLogit``: the model seen through one learned head, for Grad-CAM of that check.
"""
from __future__ import annotations

from typing import Callable

import torch


def pool(features: list[torch.Tensor], layers: tuple[str, ...], spread: tuple[str, ...]) -> torch.Tensor:
    """The head's input: per layer the mean over the face, and for ``spread`` layers also the
    standard deviation, concatenated → (N, dims) float."""
    out = []
    for name, f in zip(layers, features):
        f = f.float()
        out.append(f.mean((2, 3)))
        if name in spread:
            out.append(f.std((2, 3)))
    return torch.cat(out, 1)


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


class SynthesisHead(torch.nn.Module):
    """Standardise the pooled activations (statistics of the training set, stored as buffers)
    and weigh them into one logit."""

    def __init__(self, dims: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dims))
        self.register_buffer("std", torch.ones(dims))
        self.linear = torch.nn.Linear(dims, 1)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear((pooled - self.mean) / self.std).view(-1)


class TrackHead(torch.nn.Module):
    """A head that judges a whole face track: the mean and the spread over the track's crops
    of each crop's pooled activations (how a face changes from frame to frame is part of the
    evidence: a lip-sync tool redraws the mouth in every frame), standardised and weighed into
    one logit. ``dims`` is the size of one crop's features (face, then mouth, then the mouth's
    motion). A feature not measured on a crop (NaN: the mouth's motion where a frame has no next
    frame) is left out of its mean and spread; one measured on none of them weighs nothing."""

    def __init__(self, dims: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(2 * dims))
        self.register_buffer("std", torch.ones(2 * dims))
        self.linear = torch.nn.Linear(2 * dims, 1)

    @staticmethod
    def summary(crops: torch.Tensor) -> torch.Tensor:
        """(T, dims) per-crop features → (2 * dims,): their mean and standard deviation (over
        the crops where each is measured: NaN rows left out)."""
        crops = crops.float()
        mean = crops.nanmean(0)
        return torch.cat([mean, (crops - mean).pow(2).nanmean(0).sqrt()])

    def forward(self, summaries: torch.Tensor) -> torch.Tensor:
        """(N, 2 * dims) track summaries → (N,) logits (a summary still NaN weighs nothing)."""
        return self.linear(torch.nan_to_num((summaries - self.mean) / self.std, nan=0.0)).view(-1)

    def crop_logit(self, face: torch.Tensor) -> torch.Tensor:
        """The face part of a crop's contribution through the mean's weights, (N, face dims) →
        (N,): what Grad-CAM explains for this check (the spread and the mouth are not in it)."""
        d = face.shape[1]
        return ((face - self.mean[:d]) / self.std[:d]) @ self.linear.weight[0, :d] + self.linear.bias[0]


class HeadLogit(torch.nn.Module):
    """``model``'s ``<name>_head`` logit as the module's output (N, 1), for Grad-CAM of that
    check (its layers are ``model``'s own, so the detector's CAM layers apply); for a
    track-level head the face part of a crop's contribution (``TrackHead.crop_logit``).

    ``taps(x, layers)`` is the one forward pass that gives ``layers``' activations of ``model``
    (``dfdemo.model.tap``, passed in so that the heads depend on no backbone code)."""

    def __init__(self, model: torch.nn.Module, name: str, layers: tuple[str, ...], spread: tuple[str, ...],
                 taps: Callable[[torch.Tensor, tuple[str, ...]], list[torch.Tensor]]):
        super().__init__()
        self.model, self.name, self.layers, self.spread, self.taps = model, name, tuple(layers), tuple(spread), taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head, pooled = getattr(self.model, f"{self.name}_head"), pool(self.taps(x, self.layers), self.layers, self.spread)
        return (head.crop_logit(pooled) if isinstance(head, TrackHead) else head(pooled)).view(-1, 1)
