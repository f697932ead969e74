"""The synthesis check's head: does a face carry the traces a generator leaves?

The blending score looks for the seam of a pasted face; a face a generator drew whole (a GAN
still, a talking-head animator's frames) has no seam. This head reads the same forward pass
of the same backbone: the activations of a few blocks, average-pooled (and, for the early
ones, their spread over the face, a texture statistic), standardised and weighed by a linear
layer into one logit. It costs a few hundred multiply-adds per face on top of the blending
score. Trained on real faces only, against the lab's simulated generator traces
(``python -m dfdemo_lab train-synthesis``); stored in the weights' safetensors under
``synthesis_head.`` and described by ``config.SynthesisConfig`` (``config.json`` →
``dfdemo.synthesis``).
"""
from __future__ import annotations

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
    one logit. ``dims`` is the size of one crop's features (face, then mouth)."""

    def __init__(self, dims: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(2 * dims))
        self.register_buffer("std", torch.ones(2 * dims))
        self.linear = torch.nn.Linear(2 * dims, 1)

    @staticmethod
    def summary(crops: torch.Tensor) -> torch.Tensor:
        """(T, dims) per-crop features → (2 * dims,): their mean and standard deviation."""
        crops = crops.float()
        return torch.cat([crops.mean(0), crops.std(0, unbiased=False)])

    def forward(self, summaries: torch.Tensor) -> torch.Tensor:
        """(N, 2 * dims) track summaries → (N,) logits."""
        return self.linear((summaries - self.mean) / self.std).view(-1)

    def crop_logit(self, face: torch.Tensor) -> torch.Tensor:
        """The face part of a crop's contribution through the mean's weights, (N, face dims) →
        (N,): what Grad-CAM explains for this check (the spread and the mouth are not in it)."""
        d = face.shape[1]
        return ((face - self.mean[:d]) / self.std[:d]) @ self.linear.weight[0, :d] + self.linear.bias[0]
