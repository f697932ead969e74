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
threshold (``decide.combine``). ``temporal_check`` is the stage the analyzer runs: whether the check
runs (``decide.temporal_state``), then ``window_scores``: read the windows, follow each face
through them, score each window.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import TemporalConfig  # noqa: F401 (the head's settings, typed with the weights' config)
from .decide import temporal_state
from .errors import WeightsError
from .faces import follow, square_crop
from .media import MediaInfo, read_windows, window_starts
from .report import WindowScore

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



def window_scores(path, info: MediaInfo, tracks: dict[int, list[tuple[float, tuple]]], n: int, detector, detect,
                  max_faces: int) -> dict[int, list[WindowScore]]:
    """Read ``n`` windows of consecutive frames, follow each face through them and score each
    window. ``tracks``: per track, its sampled (time_s, box); ``detector`` a ``Detector`` with a
    temporal head; ``detect(rgb)`` the face detector's detections, clearest first."""
    tcfg, cfg = detector.temporal_config, detector.config
    crops, spans = [], []  # spans: (track_id, frames) per followed window, crops in order
    for frames in read_windows(path, window_starts(info.frame_count, n, tcfg.window), tcfg.window, info):
        if len(frames) < tcfg.window:
            continue
        per_frame = [detect(fr.rgb)[:max_faces] for fr in frames]
        for tid, seen in tracks.items():
            ref = min(seen, key=lambda ts: abs(ts[0] - frames[0].time_s))
            dets = follow(ref[1], per_frame)
            if dets is None:
                continue
            crops += [square_crop(fr.rgb, d.box, cfg.crop_margin, cfg.input_size)[0] for fr, d in zip(frames, dets)]
            spans.append((tid, frames))
    out: dict[int, list[WindowScore]] = {tid: [] for tid in tracks}
    if not spans:
        return out
    frame_p, emb = detector.embed(np.stack(crops))
    t = tcfg.window
    probs = window_probabilities(detector.temporal, emb.reshape(len(spans), t, -1))
    for k, ((tid, frames), p) in enumerate(zip(spans, probs)):
        out[tid].append(WindowScore(frames[0].index, frames[-1].index, round(frames[0].time_s, 3),
                                    round(frames[-1].time_s, 3), float(p), float(frame_p[k * t:(k + 1) * t].mean())))
    return out


@dataclass(frozen=True)
class TemporalCheck:
    """Whether the temporal check ran (``Report.temporal``), its windows per track, and the note."""

    state: str  # "off", "used", "unavailable" or "not_applicable"
    windows: dict[int, list[WindowScore]]
    note: str | None = None


def temporal_check(path, info: MediaInfo, tracks: dict[int, list[tuple[float, tuple]]], wanted: bool | None,
                   windows: int | None, detector, detect, max_faces: int, clock, say) -> TemporalCheck:
    """The temporal check of a file: ``wanted`` (None: the weights' default) and possible here,
    ``windows`` windows (None: the weights' default) scored by ``window_scores``; timed as
    "temporal" on ``clock`` (``stopwatch.Stopwatch``), its progress said through ``say``."""
    tcfg = detector.temporal_config
    wanted = wanted if wanted is not None else bool(tcfg and tcfg.default_on)
    state, note = temporal_state(wanted, tcfg, info.kind, info.frame_count)
    if state != "used":
        return TemporalCheck(state, {}, note)
    with clock("temporal"):
        say(0.8, "temporal check: reading windows of consecutive frames")
        scored = window_scores(path, info, tracks, windows if windows is not None else tcfg.windows, detector, detect, max_faces)
    if not any(scored.values()):
        return TemporalCheck("not_applicable", scored,
                             "no face was seen through a whole window of consecutive frames: frame score only")
    return TemporalCheck("used", scored)
