"""Temporal stage: how consecutive frames of one face connect (Sabir et al., CVPR-W 2019).

A window is T consecutive frames of one face track. Each frame's crop goes through the frame
detector's backbone once (``Detector.embed``: the pooled features and the frame score from the
same pass); a small bidirectional GRU reads the T embeddings and their frame-to-frame
differences and gives one P(fake) per window: a blend that flickers, a boundary that jitters or
colour that drifts shows as changes between embeddings that a single frame cannot show.

The head is optional and lives beside the detector: ``temporal.safetensors`` in the same
weights folder, described by ``config.json`` → ``dfdemo.temporal`` (``TemporalConfig``). A
face's combined score is ``frame_weight * frame + (1 - frame_weight) * temporal`` with the
weight chosen on held-out validation windows by the training command, and its own calibrated
threshold.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .config import TemporalConfig  # noqa: F401 (the head's settings, typed with the weights' config)
from .errors import WeightsError

TEMPORAL_FILE = "temporal.safetensors"




class TemporalHead(torch.nn.Module):
    """(N, T, D) frame embeddings → (N,) window logits.

    Each embedding is normalised and projected to ``hidden`` (with dropout while training: a few
    hundred training windows are easily memorised); its difference to the previous
    frame's projection is appended (zero for the first frame), or with ``differences_only`` used
    alone, so that the head sees nothing but change over time; a bidirectional GRU reads the
    sequence; the mean of its outputs goes to one logit.
    """

    def __init__(self, embed_dim: int = 1280, hidden: int = 32, dropout: float = 0.3, differences_only: bool = False):
        super().__init__()
        self.differences_only = differences_only
        self.proj = torch.nn.Sequential(torch.nn.LayerNorm(embed_dim), torch.nn.Dropout(dropout), torch.nn.Linear(embed_dim, hidden))
        self.gru = torch.nn.GRU(hidden if differences_only else 2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, 1)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        z = self.proj(emb)
        dz = torch.diff(z, dim=1, prepend=z[:, :1])
        h, _ = self.gru(dz if self.differences_only else torch.cat([z, dz], dim=-1))
        return self.out(h.mean(dim=1)).squeeze(-1)


def combine(frame_p: float, temporal_p: float, frame_weight: float) -> float:
    """A face's combined fake probability from its frame and temporal scores."""
    return float(frame_weight * frame_p + (1.0 - frame_weight) * temporal_p)


def load_temporal(folder: str | Path, cfg: TemporalConfig) -> TemporalHead:
    """The temporal head of a weights folder (safetensors only, strict)."""
    from safetensors.torch import load_file

    path = Path(folder) / TEMPORAL_FILE
    if not path.is_file():
        raise WeightsError(f"config.json describes a temporal head but {path} is missing")
    head = TemporalHead(cfg.embed_dim, cfg.hidden, differences_only=cfg.differences_only)
    try:
        head.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()}, strict=True)
    except Exception as e:
        raise WeightsError(f"{path} does not load into the temporal head: {e}") from e
    return head.eval()


def save_temporal(head: TemporalHead, folder: str | Path) -> Path:
    """Write ``temporal.safetensors`` (fp16) into ``folder``; the config entry is the caller's."""
    from safetensors.torch import save_file

    path = Path(folder) / TEMPORAL_FILE
    save_file({k: v.half().contiguous() for k, v in head.state_dict().items()}, str(path), metadata={"format": "pt"})
    return path


def window_probabilities(head: TemporalHead, embeddings: np.ndarray) -> np.ndarray:
    """(W, T, D) embeddings → (W,) P(fake) per window."""
    if len(embeddings) == 0:
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        return torch.sigmoid(head(torch.from_numpy(np.asarray(embeddings, np.float32)))).numpy()
