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
