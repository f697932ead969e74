"""Small numpy metrics shared by training and evaluation."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); nan with one class only."""
    scores, labels = np.asarray(scores, float), np.asarray(labels).astype(bool)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.r_[pos, neg])  # average ranks for ties
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def bootstrap_auc(scores: np.ndarray, labels: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the AUC (resampling items with replacement)."""
    rng = np.random.default_rng(seed)
    scores, labels = np.asarray(scores, float), np.asarray(labels).astype(bool)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(scores), len(scores))
        if labels[i].all() or not labels[i].any():
            continue
        vals.append(roc_auc(scores[i], labels[i]))
    if not vals:
        return float("nan"), float("nan")
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def binary(mask: np.ndarray) -> np.ndarray:
    return mask > 0.5 * max(float(mask.max()), 1e-6)


def mask_iou(pred_map: np.ndarray, mask: np.ndarray) -> float:
    """Overlap of a learned map (above 0.5) with a blend mask (above its half maximum)."""
    pred, tgt = pred_map > 0.5, binary(mask)
    return float((pred & tgt).sum() / max(1, (pred | tgt).sum()))


# What the learned map is trained to draw (``train --mask-target``):
# - "blend": the blend mask as applied, M × the blend ratio (0.25–1): the v1–v3 head's target;
# - "region": where pixels were replaced, M / max(M), whatever the blend ratio;
# - "boundary": the blend boundary of Face X-ray (Li et al., CVPR 2020), 4·N·(1−N) of the
#   normalised mask N taken at the map's own grid (stride 16: 14×14 at 224 px): 0 inside and
#   outside the region, 1 where half the pixels of a cell were replaced.
MASK_TARGETS = ("blend", "region", "boundary")
MAP_GRID = 14  # the learned map's logits are at 1/16 of the 224 px input


def boundary_target(normalised):
    """Face X-ray's blend boundary 4·N·(1−N) of a mask N in [0, 1] (numpy or torch): 0 where N
    is 0 or 1, peaks at 1 where N = 0.5."""
    return 4 * normalised * (1 - normalised)


def _normalised(mask):
    """Each mask (last two axes) divided by its maximum (numpy or torch)."""
    try:
        import torch
        if isinstance(mask, torch.Tensor):
            return mask / mask.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    except ImportError:  # pragma: no cover
        pass
    mask = np.asarray(mask, np.float32)
    return mask / np.maximum(mask.max(axis=(-2, -1), keepdims=True), 1e-6)


def mask_target(masks, target: str, grid: tuple[int, int] | int):
    """The learned map's training target of blend masks ``masks`` (torch (N, H, W)) on the
    map's ``grid`` (area-averaged): see ``MASK_TARGETS``."""
    import torch.nn.functional as F

    if target not in MASK_TARGETS:
        raise ValueError(f"unknown mask target {target!r}; use one of {', '.join(MASK_TARGETS)}")
    grid = (grid, grid) if isinstance(grid, int) else tuple(grid)
    m = masks.float() if target == "blend" else _normalised(masks.float())
    m = F.interpolate(m.unsqueeze(1), size=grid, mode="area")[:, 0]
    return boundary_target(m) if target == "boundary" else m


def boundary_band(mask: np.ndarray, grid: int = MAP_GRID) -> np.ndarray:
    """The blend boundary of one mask (H, W) as a stride-16 map sees it: ``mask_target``
    "boundary" on the ``grid``, bilinearly resized back to (H, W). ``binary`` of it is the band
    the boundary measures (IoU, heat in band) compare a map with."""
    import cv2
    import torch

    b = mask_target(torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None], "boundary", grid)[0].numpy()
    return cv2.resize(b, mask.shape[::-1], interpolation=cv2.INTER_LINEAR)
