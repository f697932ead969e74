"""``python -m dfdemo calibrate``: set the decision threshold on real videos held out from training.

Runs the full pipeline (same as ``scan``) on the held-out real clips (the clips the crop cache
marks as validation, never trained on), and writes into the weights' ``config.json`` the
threshold at which at most ``--target-fpr`` of those clips would be called fake, and an
"uncertain" band around it. Also prints a 2-fold cross-check: the threshold set on one half
of the clips, applied to the other half, so the printed false-positive rate is not by
construction.

Weights with a temporal head get the same treatment for the combined score (frame + temporal,
``dfdemo.temporal.threshold``) and for the temporal head alone, from the same analyses.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .analyzer import Analyzer, Settings
from .detector import DetectorConfig, load_config, resolve_weights
from .evaluate import own_scores
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
    scores: dict[str, list] = {}
    with Analyzer.load(a.weights) as analyzer:
        temporal = analyzer.detector.temporal_config is not None
        for p in clips:
            rep = analyzer.analyze(p, Settings(frames=a.frames, heatmaps=0, temporal=temporal or None)).report
            for name, sc in own_scores(rep, temporal).items():
                scores.setdefault(name, []).append(sc)
            print(f"[calibrate] {p.parent.name}/{p.name}: " + ", ".join(
                f"{n} {v[-1].file_score or 0.0:.3f}" for n, v in scores.items()), flush=True)
    folder = resolve_weights(a.weights)
    cfg = load_config(folder)
    frame_key = "frame-only" if temporal else "dfdemo"
    t, calib = calibration(scores[frame_key], a.target_fpr, a.floor)
    cfg = DetectorConfig(**{**asdict(cfg), "threshold": round(t, 4), "uncertain_band": band_for(t),
                            "extra": {**cfg.extra, "calibration": calib}})
    say(frame_key, t, calib)
    if temporal:
        tc, tcal = calibration(scores["combined"], a.target_fpr, a.floor)
        to, ocal = calibration(scores["temporal-only"], a.target_fpr, a.floor)
        tcal["temporal_only_threshold"], tcal["temporal_only"] = round(to, 4), ocal
        extra = {**cfg.temporal.get("extra", {}), "calibration": tcal}
        cfg = replace(cfg, temporal={**cfg.temporal, "threshold": round(tc, 4), "uncertain_band": band_for(tc), "extra": extra})
        say("combined", tc, tcal)
        say("temporal-only", to, ocal)
    (folder / "config.json").write_text(json.dumps(cfg.to_json_dict(), indent=2, sort_keys=True) + "\n")
    return 0


def calibration(scored: list, target_fpr: float, floor: float) -> tuple[float, dict]:
    """The threshold for one score over the held-out clips, and what it does there."""
    cs = np.array([s.file_score if s.file_score is not None else 0.0 for s in scored])
    fs = np.array([v for s in scored for v in s.frame_scores])
    t = threshold_for(cs, target_fpr, floor)
    halves = [np.arange(len(cs)) % 2 == 0, np.arange(len(cs)) % 2 == 1]
    cross = [float((cs[~h] >= threshold_for(cs[h], target_fpr, floor)).mean()) for h in halves]
    return t, {"clips": len(cs), "frames": int(len(fs)), "target_fpr": target_fpr,
               "clip_fpr": float((cs >= t).mean()), "frame_fpr": float((fs >= t).mean()) if len(fs) else 0.0,
               "cross_fold_clip_fpr": float(np.mean(cross)), "clip_score_median": float(np.median(cs)),
               "clip_score_max": float(cs.max())}


def say(name: str, t: float, calib: dict) -> None:
    print(f"[calibrate] {name}: threshold {t:.3f}, uncertain band {band_for(t)}; held-out real clips called fake: "
          f"{calib['clip_fpr']:.1%} (cross-fold {calib['cross_fold_clip_fpr']:.1%}), real frames above: {calib['frame_fpr']:.1%}")
