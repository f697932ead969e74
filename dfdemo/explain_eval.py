"""``python -m dfdemo explain-eval``: how faithful are the heatmaps? Measured, not claimed.

On a fixed, seeded set of held-out self-blended fakes (validation clips and LFW people, never
trained on), each with its exact blend mask:
- heat-in-mask ratio: share of heat inside the mask / share of the crop the mask covers (1 = chance);
- pointing game: how often the hottest pixel lies inside the mask;
- deletion: drop of the fake probability when the hottest 10 % / 20 % of pixels are removed
  (grad-cam's ROAD "most relevant first", noisy linear imputation), against removing the same
  share of pixels at random smooth blobs;
- sanity check (Adebayo et al. 2018): Spearman correlation between the trained model's maps
  and those of the same model with its head and last blocks re-initialised (low = the map
  depends on what the model learned);
- region words: how often the region the app names (most heat) is the region where most of
  the mask's boundary lies.
On the real deepfakes of the dev-eval index (no masks): region shares and the deletion test.
"""
from __future__ import annotations

import argparse
import copy
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr

from .detector import Detector, load_detector
from .explain import REGIONS, gradcam, region_shares, top_region


def binary(mask: np.ndarray) -> np.ndarray:
    return mask > 0.5 * max(float(mask.max()), 1e-6)


def heat_in_mask_ratio(heat: np.ndarray, mask: np.ndarray) -> float:
    """(share of heat inside the mask) / (share of area inside it); nan for an all-zero map."""
    m = binary(mask)
    total = float(heat.sum())
    if total <= 0 or not m.any():
        return float("nan")
    return float(heat[m].sum() / total) / float(m.mean())


def pointing_hit(heat: np.ndarray, mask: np.ndarray) -> bool:
    if heat.max() <= 0:
        return False
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(binary(mask)[y, x])


def mask_iou(pred_map: np.ndarray, mask: np.ndarray) -> float:
    """Overlap of a learned map (above 0.5) with a blend mask (above its half maximum)."""
    pred, tgt = pred_map > 0.5, binary(mask)
    return float((pred & tgt).sum() / max(1, (pred | tgt).sum()))


def map_measures(res: dict, prefix: str, maps, maps_rand, masks, keypoints) -> None:
    """Append to ``res`` (keys ``prefix`` + ratio/pointing/words/sanity_rho) the measures of one
    kind of map against the blend masks: heat in mask, pointing, region words, and the rank
    correlation with the same kind of map from the re-initialised model (when both vary)."""
    for h, hr, m, kps in zip(maps, maps_rand, masks, keypoints):
        res[prefix + "ratio"].append(heat_in_mask_ratio(h, m))
        res[prefix + "pointing"].append(pointing_hit(h, m))
        res[prefix + "words"].append(top_region(region_shares(h, kps)) == boundary_region(m, kps))
        if h.std() > 0 and hr.std() > 0:
            res[prefix + "sanity_rho"].append(float(spearmanr(h.ravel(), hr.ravel())[0]))


def map_summary(r: dict, prefix: str, out_prefix: str) -> dict:
    rho = r.get(prefix + "sanity_rho", np.zeros(0))
    return {out_prefix + "heat_in_mask_ratio": float(np.nanmean(r[prefix + "ratio"])),
            out_prefix + "pointing_game": float(r[prefix + "pointing"].mean()),
            out_prefix + "sanity_spearman": float(np.mean(rho)) if len(rho) else float("nan"),
            out_prefix + "region_words_agree": float(r[prefix + "words"].mean())}


def boundary_region(mask: np.ndarray, keypoints: np.ndarray) -> str:
    """The named region holding most of the mask's boundary."""
    m = binary(mask).astype(np.uint8)
    edge = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)).astype(np.float64)
    return top_region(region_shares(edge, keypoints))


def smooth_random_maps(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random maps made of smooth blobs (the same kind of shapes as Grad-CAM's, at random places)."""
    low = rng.random((n, 7, 7)).astype(np.float32)
    return np.stack([cv2.resize(x, (size, size), interpolation=cv2.INTER_CUBIC) for x in low])


def deletion(det: Detector, x: torch.Tensor, maps: np.ndarray, percent: int) -> np.ndarray:
    """Change of P(fake) when the top ``percent`` % of each map is removed (ROAD, grad-cam)."""
    from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst

    metric = ROADMostRelevantFirst(percentile=100 - percent)
    targets = [lambda out: torch.sigmoid(out.float()).squeeze() for _ in range(len(x))]
    return np.asarray(metric(x.float(), maps, targets, det.model), np.float64).reshape(-1)


def randomised_copy(det: Detector, last_blocks: int = 2, seed: int = 0) -> Detector:
    """The same architecture with its classifier and last ``last_blocks`` stages re-initialised."""
    torch.manual_seed(seed)
    model = copy.deepcopy(det.model)
    names = ["classifier", "conv_head", "bn2"] + [f"blocks.{i}" for i in range(len(model.blocks) - last_blocks, len(model.blocks))]
    for name in names:
        for m in model.get_submodule(name).modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return Detector(model, det.config)


def keypoints_to_crop(kps: np.ndarray, cache_size: int, from_margin: float, to_margin: float, size: int) -> np.ndarray:
    side = cache_size * (1 + to_margin) / (1 + from_margin)
    return (np.asarray(kps, np.float64) - cache_size / 2) * (size / side) + size / 2


def sbi_eval(det: Detector, cache: Path, n: int, deletion_n: int, seed: int = 7, bs: int = 16) -> dict:
    from .train.cache import CACHE_MARGIN, CACHE_SIZE
    from .train.train import CropSet, make_pair

    crops = CropSet.load(cache, "val")
    index = np.load(cache / "index.npz")
    kp_all = index["keypoints"][index["split"] == "val"]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(crops.names), min(n, len(crops.names)), replace=False)
    size, margin = det.config.input_size, det.config.crop_margin
    rand_det = randomised_copy(det)
    res = defaultdict(list)
    for start in range(0, len(pick), bs):
        ids = pick[start:start + bs]
        pairs = [make_pair(crops, int(i), rng, size, margin, train=False) for i in ids]
        fakes = np.stack([p[1] for p in pairs])
        masks = [p[2] for p in pairs]
        x = det.preprocess(fakes)
        maps = gradcam(det.model, det.target_layer, x)
        maps_rand = gradcam(rand_det.model, rand_det.target_layer, x)
        res["p_fake"] += list(det.predict(fakes))
        kps = [keypoints_to_crop(kp_all[i], CACHE_SIZE, CACHE_MARGIN, margin, size) for i in ids]
        map_measures(res, "", maps, maps_rand, masks, kps)
        res["zero_map"] += [bool(h.max() <= 0) for h in maps]
        learned = det.predict_masks(fakes)
        if learned is not None:  # the same measures for the learned map, plus its overlap and its real-face activation
            map_measures(res, "learned_", learned, rand_det.predict_masks(fakes), masks, kps)
            res["learned_iou"] += [mask_iou(lm, m) for lm, m in zip(learned, masks)]
            res["learned_real_mean"] += list(det.predict_masks(np.stack([p[0] for p in pairs])).mean((1, 2)))
        if start < deletion_n:
            rand_maps = smooth_random_maps(len(ids), size, rng)
            for pct in (10, 20):
                res[f"del{pct}"] += list(deletion(det, x, maps, pct))
                res[f"del{pct}_random"] += list(deletion(det, x, rand_maps, pct))
        print(f"[explain-eval] {min(start + bs, len(pick))}/{len(pick)} held-out SBI fakes", flush=True)
    r = {k: np.asarray(v, np.float64) for k, v in res.items()}
    out = {"n": int(len(pick)), "mean_p_fake": float(r["p_fake"].mean()), **map_summary(r, "", ""),
           "zero_maps": float(r["zero_map"].mean()), "deletion_n": int(len(r.get("del10", [])))}
    if "learned_iou" in r:
        out.update(learned_map_iou=float(r["learned_iou"].mean()), learned_map_real_mean=float(r["learned_real_mean"].mean()),
                   **map_summary(r, "learned_", "learned_map_"))
    for pct in (10, 20) if "del10" in r else ():
        drop, drop_r = -r[f"del{pct}"].mean(), -r[f"del{pct}_random"].mean()
        out[f"deletion_drop_{pct}"] = float(drop)
        out[f"deletion_drop_{pct}_random"] = float(drop_r)
        out[f"deletion_{pct}_vs_random"] = float(drop / drop_r) if drop_r > 0 else float("inf") if drop > 0 else float("nan")
    return out


def deveval_eval(det: Detector, index: Path, frames: int) -> dict:
    """Region shares and deletion on the most suspicious face crops of the dev-eval fakes, per slice."""
    from .analyzer import Analyzer, Settings
    from .evaluate import read_index

    rows = [r for r in read_index(index) if r["label"] == "fake"]
    per = defaultdict(lambda: defaultdict(list))
    rng = np.random.default_rng(0)
    from .faces import FaceDetector

    with Analyzer(det, FaceDetector()) as analyzer:
        for r in rows:
            an = analyzer.analyze(r["abs"], Settings(frames=frames, heatmaps=4))
            for hm in an.report.heatmaps:
                for k, v in hm.region_shares.items():
                    per[r["slice"]][k].append(v)
                for k, v in (hm.learned_map_shares or {}).items():
                    per[r["slice"]]["learned_" + k].append(v)
                if hm.learned_map_mean is not None:
                    per[r["slice"]]["learned_mean"].append(hm.learned_map_mean)
            if an.face_thumbnails:
                thumbs = np.stack(list(an.face_thumbnails.values()))
                x = det.preprocess(thumbs)
                maps = gradcam(det.model, det.target_layer, x)
                per[r["slice"]]["del20"] += list(deletion(det, x, maps, 20))
                per[r["slice"]]["del20_random"] += list(deletion(det, x, smooth_random_maps(len(x), x.shape[-1], rng), 20))
                learned = det.predict_masks(thumbs)
                if learned is not None:
                    per[r["slice"]]["learned_del20"] += list(deletion(det, x, learned, 20))
    return {s: {k: float(np.mean(v)) for k, v in d.items()} for s, d in per.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dfdemo explain-eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"), help="crop cache (held-out split is used)")
    ap.add_argument("--n", type=int, default=512, help="held-out SBI fakes")
    ap.add_argument("--deletion-n", type=int, default=128, help="how many of them get the (slow) deletion test")
    ap.add_argument("--index", type=Path, default=Path("../shared/data/dev-eval/index.csv"))
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--record", action="store_true",
                    help="also store the SBI numbers in the weights' config.json (the app's How it works tab shows them)")
    a = ap.parse_args(argv)
    det = load_detector(a.weights)
    out = {"model": det.config.model_id, "sbi": sbi_eval(det, a.cache, a.n, a.deletion_n)}
    if a.index.is_file():
        out["dev_eval"] = deveval_eval(det, a.index, a.frames)
    s = out["sbi"]
    print(f"\nGrad-CAM faithfulness on {s['n']} held-out SBI fakes (model {out['model']}):")
    for k, target in (("heat_in_mask_ratio", ">= 2.0"), ("pointing_game", ">= 0.6"), ("deletion_20_vs_random", ">= 2"),
                      ("sanity_spearman", "< 0.2"), ("region_words_agree", ""), ("deletion_drop_10", ""),
                      ("deletion_drop_10_random", ""), ("deletion_drop_20", ""), ("deletion_drop_20_random", ""), ("zero_maps", "")):
        if k in s:
            print(f"  {k:<26} {s[k]:8.3f}  {('target ' + target) if target else ''}")
    if "learned_map_iou" in s:
        print("Learned manipulation map (same fakes; deletion not run for it):")
        for k, target in (("iou", ">= 0.5"), ("real_mean", "<= 0.05"), ("heat_in_mask_ratio", ""), ("pointing_game", ""),
                          ("sanity_spearman", "< 0.2"), ("region_words_agree", "")):
            print(f"  {'learned_map_' + k:<32} {s['learned_map_' + k]:8.3f}  {('target ' + target) if target else ''}")
    for sl, d in out.get("dev_eval", {}).items():
        for prefix, name in (("", "Grad-CAM"), ("learned_", "learned map")):
            shares = ", ".join(f"{k} {d[prefix + k]:.2f}" for k in REGIONS if prefix + k in d)
            if shares:
                extra = f", mean {d['learned_mean']:.2f}" if prefix and "learned_mean" in d else ""
                print(f"  dev-eval {sl:<16} {name:<12} {shares}{extra}; deletion20 drop "
                      f"{-d.get(prefix + 'del20', float('nan')):.3f} vs random {-d.get('del20_random', float('nan')):.3f}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    if a.record:
        from .detector import resolve_weights

        cfg_path = resolve_weights(a.weights) / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["dfdemo"].setdefault("extra", {})["faithfulness"] = {k: round(float(v), 4) for k, v in s.items() if np.isfinite(v)}
        cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return 0
