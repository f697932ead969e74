"""``python -m dfdemo calibrate``: set the decision threshold on real videos held out from training.

Runs the full pipeline (same as ``scan``) on the held-out real clips (the clips the crop cache
marks as validation, never trained on), and writes into the weights' ``config.json`` the
threshold at which at most ``--target-fpr`` of those clips would be called fake, and an
"uncertain" band around it. Also prints a 2-fold cross-check: the threshold set on one half
of the clips, applied to the other half, so the printed false-positive rate is not by
construction.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .analyzer import Analyzer, Settings
from .detector import DetectorConfig, load_config, resolve_weights
from .train.cache import split_of


def held_out_clips(shared: Path) -> list[Path]:
    vids = sorted((shared / "data" / "real-videos").glob("*/*.mp4"))
    return [p for p in vids if split_of(f"{p.parent.name}/{p.stem}") == "val"]


def threshold_for(scores: np.ndarray, target_fpr: float, floor: float = 0.5) -> float:
    """Smallest threshold (≥ ``floor``) with at most ``target_fpr`` of ``scores`` at or above it."""
    s = np.sort(np.asarray(scores))[::-1]
    k = int(math.floor(target_fpr * len(s)))  # clips allowed above the threshold
    t = float(s[k]) + 1e-3 if k < len(s) else 0.0
    return float(min(max(t, floor), 0.999))


def band_for(t: float) -> tuple[float, float]:
    d = min(0.1, t / 2, (1 - t) / 2)
    return round(t - d, 4), round(t + d, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dfdemo calibrate", description=__doc__)
    ap.add_argument("--weights", required=True, help="weights folder to calibrate (config.json is rewritten)")
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--floor", type=float, default=0.5, help="never set the threshold below this")
    a = ap.parse_args(argv)
    clips = held_out_clips(a.shared)
    clip_scores, frame_scores = [], []
    with Analyzer.load(a.weights) as analyzer:
        for p in clips:
            rep = analyzer.analyze(p, Settings(frames=a.frames, heatmaps=0)).report
            clip_scores.append(rep.fake_probability if rep.fake_probability is not None else 0.0)
            frame_scores += [fr.fake_probability for f in rep.faces for fr in f.frames]
            print(f"[calibrate] {p.parent.name}/{p.name}: {clip_scores[-1]:.3f}", flush=True)
    cs, fs = np.array(clip_scores), np.array(frame_scores)
    t = threshold_for(cs, a.target_fpr, a.floor)
    halves = [np.arange(len(cs)) % 2 == 0, np.arange(len(cs)) % 2 == 1]
    cross = [float((cs[~h] >= threshold_for(cs[h], a.target_fpr, a.floor)).mean()) for h in halves]
    folder = resolve_weights(a.weights)
    cfg_path = folder / "config.json"
    cfg = load_config(folder)
    calib = {"clips": len(cs), "frames": int(len(fs)), "target_fpr": a.target_fpr,
             "clip_fpr": float((cs >= t).mean()), "frame_fpr": float((fs >= t).mean()),
             "cross_fold_clip_fpr": float(np.mean(cross)), "clip_score_median": float(np.median(cs)),
             "clip_score_max": float(cs.max())}
    cfg = DetectorConfig(**{**asdict(cfg), "threshold": round(t, 4), "uncertain_band": band_for(t),
                            "extra": {**cfg.extra, "calibration": calib}})
    cfg_path.write_text(json.dumps(cfg.to_json_dict(), indent=2, sort_keys=True) + "\n")
    print(f"[calibrate] threshold {t:.3f}, uncertain band {band_for(t)}; held-out real clips called fake: "
          f"{calib['clip_fpr']:.1%} (cross-fold {calib['cross_fold_clip_fpr']:.1%}), real frames above: {calib['frame_fpr']:.1%}")
    return 0
