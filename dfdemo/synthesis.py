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
