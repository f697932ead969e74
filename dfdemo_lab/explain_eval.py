"""``python -m dfdemo_lab explain-eval``: how faithful are the heatmaps? Measured, not claimed.

On a fixed, seeded set of held-out self-blended fakes (validation clips and LFW people, never
trained on), each with its exact blend mask, as many of each kind of self-blend
(``BLEND_KINDS``: whole face, lower face, mouth, eyes, inner face):
- heat-in-mask ratio: share of heat inside the mask / share of the crop the mask covers (1 = chance);
- pointing game: how often the hottest pixel lies inside the mask;
- deletion: drop of the fake probability when the hottest 10 % / 20 % of pixels are removed
  (grad-cam's ROAD "most relevant first", noisy linear imputation), against removing the same
  share of pixels at random smooth blobs;
- sanity check (Adebayo et al. 2018): Spearman correlation between the trained model's maps
  and those of the same model with every layer from the earliest one a map reads onwards
  re-initialised (the learned map's block and its head included; low = the map depends on
  what the model learned);
- region words: how often the region the app names (most heat) is the region where most of
  the mask's boundary lies;
- explain time: milliseconds per face of the product's call (Grad-CAM with the learned map
  from the same forward pass, 4 crops at once, on this machine's CPU).
Each is given over all kinds, per kind, and over the region blends (mouth and eyes).
On the dev-eval index (no masks): the share of the heat on the background (not face) of the
most suspicious face crops of each fake AND each real file, per slice.
``--layer`` / ``--cam`` measure another Grad-CAM setting than the weights' own;
``--record`` stores the numbers, and that setting, in the weights' config.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr

from dfdemo.detector import Detector, load_detector
from dfdemo.explain import CAM_METHODS, REGIONS, gradcam, region_shares, top_region
from .errors import ENV_SHARED, LabError, require_cache
from .metrics import binary, boundary_band, mask_iou  # noqa: F401 (mask_iou: part of these measures)

REGION_KINDS = ("mouth", "eyes")  # the blends of one small region: the "region blends"


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


def sanity_rho(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps of one crop; nan when either is constant."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def map_measures(res: dict, prefix: str, maps, maps_rand, masks, keypoints) -> None:
    """Append to ``res`` (keys ``prefix`` + ratio/pointing/words/sanity_rho, one value per map)
    the measures of one kind of map against the blend masks: heat in mask, pointing, region
    words, and the rank correlation with the same kind of map from the re-initialised model."""
    for h, hr, m, kps in zip(maps, maps_rand, masks, keypoints):
        res[prefix + "ratio"].append(heat_in_mask_ratio(h, m))
        res[prefix + "pointing"].append(pointing_hit(h, m))
        res[prefix + "words"].append(top_region(region_shares(h, kps)) == boundary_region(m, kps))
        res[prefix + "sanity_rho"].append(sanity_rho(h, hr))


def _nanmean(v: np.ndarray) -> float:
    v = np.asarray(v, np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def kind_summary(r: dict[str, np.ndarray], kinds: np.ndarray, prefix: str, out_prefix: str) -> dict[str, float]:
    """The measures of one kind of map (keys ``prefix`` + ratio/pointing/words/sanity_rho[/iou]
    of ``r``, one value per fake, ``kinds`` its blend kind) over all fakes (the keys without a
    suffix), per blend kind (suffix ``_mouth`` …) and over the region blends (suffix ``_region``)."""
    kinds = np.asarray(kinds)
    groups = {"": np.ones(len(kinds), bool), **{"_" + k: kinds == k for k in dict.fromkeys(kinds.tolist())}}
    region = np.isin(kinds, REGION_KINDS)
    if region.any():
        groups["_region"] = region
    out = {}
    for suffix, sel in groups.items():
        out[out_prefix + "heat_in_mask_ratio" + suffix] = _nanmean(r[prefix + "ratio"][sel])
        out[out_prefix + "pointing_game" + suffix] = float(np.mean(r[prefix + "pointing"][sel]))
        if prefix + "iou" in r:
            out[out_prefix + "iou" + suffix] = float(np.mean(r[prefix + "iou"][sel]))
    out[out_prefix + "sanity_spearman"] = _nanmean(r[prefix + "sanity_rho"])
    out[out_prefix + "region_words_agree"] = float(np.mean(r[prefix + "words"]))
    return out


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


def with_cam(det: Detector, layer: str | None = None, cam: str | None = None) -> Detector:
    """The same loaded detector (shared model) explained with another Grad-CAM setting."""
    if layer is None and cam is None:
        return det
    if cam is not None and cam not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {cam!r}; use one of {', '.join(CAM_METHODS)}")
    cfg = replace(det.config, target_layer=det.config.target_layer if layer is None else layer,
                  cam=det.config.cam if cam is None else cam)
    out = Detector(det.model, cfg, scorer=det.scorer, temporal=det.temporal, origin=det.origin)
    _ = out.cam_layers  # a layer the model lacks fails now
    return out


def cam_setting(det: Detector) -> str:
    """``method@layer[,layer]``, e.g. ``gradcam@bn2``."""
    return f"{det.cam_method}@{','.join(det.cam_layer_names)}"


def _block_index(name: str, n_blocks: int) -> int:
    """Stage of a layer name: ``blocks.4…`` → 4, layers after the blocks (conv_head, bn2) → n_blocks."""
    parts = name.split(".")
    if parts[0] == "blocks" and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return 0 if parts[0] in ("conv_stem", "bn1") else n_blocks


def reinit_from(det: Detector, last_blocks: int = 2) -> int:
    """The first stage the sanity check re-initialises: the earliest one that Grad-CAM's layers
    or the learned map's head read, and never later than the last ``last_blocks`` stages."""
    n = len(det.model.blocks)
    names = list(det.cam_layer_names)
    if det.has_mask_head:
        names += det.config.mask_head.layers
    return min([n - last_blocks] + [_block_index(name, n) for name in names])


def randomised_copy(det: Detector, from_block: int | None = None, seed: int = 0) -> Detector:
    """The same architecture with every stage from ``from_block`` on (default ``reinit_from``),
    the last conv, the classifier and the learned map's head re-initialised (Adebayo et al.:
    cascading randomisation from the top down to the layers the maps read)."""
    torch.manual_seed(seed)
    start = reinit_from(det) if from_block is None else from_block
    model = copy.deepcopy(det.model)
    names = ["classifier", "conv_head", "bn2"] + [f"blocks.{i}" for i in range(start, len(model.blocks))]
    names += ["mask_head"] if hasattr(model, "mask_head") else []
    for name in names:
        for m in model.get_submodule(name).modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return Detector(model, det.config)


def explain_crops(det: Detector, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """(Grad-CAM maps, learned maps or None) as the product computes them: one forward pass
    for both, with the weights' Grad-CAM setting."""
    with det.capturing_mask_features() as learned:
        maps = gradcam(det.model, det.cam_layers, x, det.cam_method)
    return maps, (learned() if learned else None)


def explain_ms_per_face(det: Detector, crops: np.ndarray, repeats: int = 3) -> float:
    """Milliseconds per face of ``explain_crops`` on ``crops`` (the fastest of ``repeats``)."""
    x = det.preprocess(crops)
    explain_crops(det, x)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        explain_crops(det, x)
        best = min(best, time.perf_counter() - t)
    return 1000 * best / len(crops)


def keypoints_to_crop(kps: np.ndarray, cache_size: int, from_margin: float, to_margin: float, size: int) -> np.ndarray:
    side = cache_size * (1 + to_margin) / (1 + from_margin)
    return (np.asarray(kps, np.float64) - cache_size / 2) * (size / side) + size / 2


def sbi_eval(det: Detector, cache: Path, n: int, deletion_n: int, seed: int = 7, bs: int = 16,
             kinds: tuple[str, ...] | None = None) -> dict:
    """The measures on ``n`` held-out self-blended fakes, the blend kinds in turn (``kinds``,
    default all of ``BLEND_KINDS``). Every fake's crop, blend and mask depend on ``seed`` only,
    so two Grad-CAM settings of the same weights are measured on the very same fakes."""
    from .cache import CACHE_MARGIN, CACHE_SIZE
    from .sbi import BLEND_KINDS
    from .data import CropSet, make_pair

    kinds = tuple(kinds or BLEND_KINDS)
    crops = CropSet.load(cache, "val")
    index = np.load(cache / "index.npz")
    kp_all = index["keypoints"][index["split"] == "val"]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(crops.names), min(n, len(crops.names)), replace=False)
    size, margin = det.config.input_size, det.config.crop_margin
    start_block = reinit_from(det)
    rand_det = randomised_copy(det, start_block)
    res = defaultdict(list)
    del_rng = np.random.default_rng(seed + 1)
    for start in range(0, len(pick), bs):
        ids = pick[start:start + bs]
        batch_kinds = [kinds[(start + j) % len(kinds)] for j in range(len(ids))]
        # one generator per fake: its blend does not depend on what was measured before it
        pairs = [make_pair(crops, int(i), np.random.default_rng([seed, int(i)]), size, margin, train=False, kind=k)
                 for i, k in zip(ids, batch_kinds)]
        fakes = np.stack([p[1] for p in pairs])
        masks = [p[2] for p in pairs]
        x = det.preprocess(fakes)
        maps, learned = explain_crops(det, x)
        maps_rand, learned_rand = explain_crops(rand_det, x)
        res["kind"] += batch_kinds
        res["p_fake"] += list(det.predict(fakes))
        kps = [keypoints_to_crop(kp_all[i], CACHE_SIZE, CACHE_MARGIN, margin, size) for i in ids]
        map_measures(res, "", maps, maps_rand, masks, kps)
        res["zero_map"] += [bool(h.max() <= 0) for h in maps]
        if learned is not None:
            learned_map_measures(res, det, learned, learned_rand, masks, kps, np.stack([p[0] for p in pairs]))
        if start < deletion_n:
            rand_maps = smooth_random_maps(len(ids), size, del_rng)
            for pct in (10, 20):
                res[f"del{pct}"] += list(deletion(det, x, maps, pct))
                res[f"del{pct}_random"] += list(deletion(det, x, rand_maps, pct))
        print(f"[explain-eval] {min(start + bs, len(pick))}/{len(pick)} held-out SBI fakes", flush=True)
    return sbi_summary(res, kinds, start_block, explain_ms_per_face(det, np.stack([p[1] for p in pairs])[:4]))


def learned_map_measures(res: dict, det: Detector, learned, learned_rand, masks: list, kps: list, reals: np.ndarray) -> None:
    """The map measures for the learned map against the blend mask and against its boundary
    band (what a boundary-trained map draws), its overlap with each, and its activation on
    the real faces (also as the app shows it: scaled by the face's P(fake))."""
    map_measures(res, "learned_", learned, learned_rand, masks, kps)
    res["learned_iou"] += [mask_iou(lm, m) for lm, m in zip(learned, masks)]
    bands = [boundary_band(m) for m in masks]
    map_measures(res, "learnedband_", learned, learned_rand, bands, kps)
    res["learnedband_iou"] += [mask_iou(lm, b) for lm, b in zip(learned, bands)]
    real_maps = det.predict_masks(reals)
    res["learned_real_mean"] += list(real_maps.mean((1, 2)))
    res["learned_real_mean_shown"] += list((real_maps * det.predict(reals)[:, None, None]).mean((1, 2)))


def sbi_summary(res: dict, kinds: tuple[str, ...], start_block: int, explain_ms: float) -> dict:
    """``sbi_eval``'s numbers from the per-fake lists: each kind's map measures, the learned
    map's, the deletion drops against smooth random maps."""
    kind_arr = np.asarray(res.pop("kind"))
    r = {k: np.asarray(v, np.float64) for k, v in res.items()}
    out = {"n": int(len(kind_arr)), "mean_p_fake": float(r["p_fake"].mean()), **kind_summary(r, kind_arr, "", ""),
           "zero_maps": float(r["zero_map"].mean()), "deletion_n": int(len(r.get("del10", []))),
           "sanity_reinit_from_block": int(start_block),
           "explain_ms_per_face": explain_ms}
    out.update({f"n_{k}": int((kind_arr == k).sum()) for k in kinds})
    if "learned_iou" in r:
        band = kind_summary(r, kind_arr, "learnedband_", "learned_map_band_")
        band.pop("learned_map_band_sanity_spearman")  # the same maps: the same as learned_map_sanity_spearman
        out.update(learned_map_real_mean=float(r["learned_real_mean"].mean()),
                   learned_map_real_mean_shown=float(r["learned_real_mean_shown"].mean()),
                   **kind_summary(r, kind_arr, "learned_", "learned_map_"), **band)
    for pct in (10, 20) if "del10" in r else ():
        drop, drop_r = -r[f"del{pct}"].mean(), -r[f"del{pct}_random"].mean()
        out[f"deletion_drop_{pct}"] = float(drop)
        out[f"deletion_drop_{pct}_random"] = float(drop_r)
        out[f"deletion_{pct}_vs_random"] = float(drop / drop_r) if drop_r > 0 else float("inf") if drop > 0 else float("nan")
    return out


def dev_rows(index: Path, limit: int | None) -> list[dict]:
    """The dev-eval rows, at most ``limit`` files per (slice, label), in index order."""
    from .evaluate import read_index

    rows, seen = [], defaultdict(int)
    for r in read_index(index):
        key = (r["slice"], r["label"])
        if limit is None or seen[key] < limit:
            seen[key] += 1
            rows.append(r)
    return rows


def dev_faces(rows: list[dict], frames: int, margin: float, size: int) -> dict[str, np.ndarray]:
    """The largest face of each of ``frames`` sampled frames of every file, cut as the product
    cuts it: crops (N, size, size, 3) RGB uint8, BlazeFace keypoints in crop pixels (N, 6, 2),
    and the file (row of ``rows``) of each crop (``file_row``)."""
    from dfdemo.errors import DfdemoError
    from dfdemo.faces import FaceDetector, square_crop
    from dfdemo.media import sample_frames

    crops, kps, file = [], [], []
    with FaceDetector() as fd:
        for i, r in enumerate(rows):
            try:
                for frame in sample_frames(r["abs"], frames):
                    dets = fd.detect(frame.rgb)
                    if dets:
                        d = max(dets, key=lambda d: d.size)
                        crop, k = square_crop(frame.rgb, d.box, margin, size, d.keypoints)
                        crops.append(crop), kps.append(k), file.append(i)
            except DfdemoError as e:
                print(f"[explain-eval] skipped {r['path']}: {e}", flush=True)
            print(f"[explain-eval] dev-eval faces {i + 1}/{len(rows)}", flush=True)
    return {"crops": np.asarray(crops, np.uint8).reshape(-1, size, size, 3), "keypoints": np.asarray(kps, np.float32).reshape(-1, 6, 2),
            "file_row": np.asarray(file, np.int64)}


def load_dev_faces(rows: list[dict], frames: int, margin: float, size: int, cache: Path | None) -> dict[str, np.ndarray]:
    """``dev_faces``, read from ``cache`` (.npz) when it holds the same files, framing and size;
    otherwise computed and written there."""
    paths = np.array([r["path"] for r in rows])
    if cache is not None and cache.is_file():
        d = dict(np.load(cache, allow_pickle=False))
        if (np.array_equal(d["paths"], paths) and int(d["frames"]) == frames and float(d["margin"]) == margin
                and int(d["size"]) == size):
            return d
        print(f"[explain-eval] {cache} holds other dev-eval faces: recomputing", flush=True)
    d = dev_faces(rows, frames, margin, size)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, paths=paths, frames=frames, margin=margin, size=size, **d)
    return d


def deveval_eval(det: Detector, rows: list[dict], faces: dict[str, np.ndarray], per_file: int = 2,
                 deletion_n: int = 0) -> dict:
    """Where the heat is on the ``per_file`` most suspicious face crops of each dev-eval file
    (fakes and reals), per slice and label: mean region shares (``background`` = off the face),
    for Grad-CAM and the learned map, the background's share of the crop's area (what a uniform
    map would give), and on the first ``deletion_n`` fake crops the deletion test."""
    crops, kps, file = faces["crops"], faces["keypoints"], faces["file_row"]
    if not len(crops):
        return {"slices": {}, "summary": {}}
    p = det.predict(crops)
    chosen = [j for i in np.unique(file) for j in np.flatnonzero(file == i)[np.argsort(-p[file == i], kind="stable")][:per_file]]
    per = defaultdict(lambda: defaultdict(list))
    rng = np.random.default_rng(0)
    deleted = 0
    for start in range(0, len(chosen), 4):
        ids = chosen[start:start + 4]
        x = det.preprocess(crops[ids])
        maps, learned = explain_crops(det, x)
        for b, j in enumerate(ids):
            r = rows[file[j]]
            d = per[f"{r['slice']}/{r['label']}"]
            d["p_fake"].append(p[j])
            shares = region_shares(maps[b], kps[j])
            d["zero_map"].append(not shares)
            d["area_background"].append(region_shares(np.ones_like(maps[b]), kps[j])["background"])  # chance level
            for k, v in shares.items():
                d[k].append(v)
            if learned is not None:
                for k, v in region_shares(learned[b], kps[j]).items():
                    d["learned_" + k].append(v)
                d["learned_mean"].append(float(learned[b].mean()))
        fake = [b for b, j in enumerate(ids) if rows[file[j]]["label"] == "fake"]
        if deleted < deletion_n and fake:
            xf = x[fake]
            for prefix, m in (("", maps[fake]), ("learned_", None if learned is None else learned[fake]),
                              ("random_", smooth_random_maps(len(fake), x.shape[-1], rng))):
                if m is not None:
                    for b, v in zip(fake, deletion(det, xf, m, 20)):
                        per[f"{rows[file[ids[b]]]['slice']}/fake"][prefix + "del20"].append(v)
            deleted += len(fake)
    slices = {s: {k: float(np.mean(v)) for k, v in d.items()} | {"crops": len(d["p_fake"])} for s, d in sorted(per.items())}
    summary = {}
    for label in ("fake", "real"):
        for prefix, key in (("", "background_share"), ("learned_", "learned_map_background_share"), ("area_", "background_area")):
            vals = [d[prefix + "background"] for s, d in slices.items() if s.endswith("/" + label) and prefix + "background" in d]
            if vals:  # each slice counts once: a big slice does not hide the others
                summary[f"{key}_dev_{label}"] = float(np.mean(vals))
    return {"slices": slices, "summary": summary}


def print_sbi(s: dict, setting: str, model: str) -> None:
    kinds = [k[2:] for k in s if k.startswith("n_") and k != "n_"]
    print(f"\nHeatmaps on {s['n']} held-out SBI fakes (model {model}), Grad-CAM {setting}; "
          f"sanity re-initialises blocks.{s['sanity_reinit_from_block']} onwards and the heads:")
    cols = [("heat_in_mask_ratio", "heat-in-mask"), ("pointing_game", "pointing")]
    if "learned_map_iou" in s:
        cols += [("learned_map_heat_in_mask_ratio", "learned h-i-m"), ("learned_map_pointing_game", "learned pointing"),
                 ("learned_map_iou", "learned IoU"), ("learned_map_band_heat_in_mask_ratio", "l. h-i-band"),
                 ("learned_map_band_iou", "l. band IoU")]
    print(f"  {'blend kind':<12} {'n':>4} " + " ".join(f"{name:>16}" for _, name in cols))
    for suffix, name, n in ([("", "all", s["n"])] + [("_" + k, k, s[f"n_{k}"]) for k in kinds if s[f"n_{k}"]]
                            + ([("_region", "mouth+eyes", sum(s.get(f"n_{k}", 0) for k in REGION_KINDS))] if "heat_in_mask_ratio_region" in s else [])):
        print(f"  {name:<12} {n:>4} " + " ".join(f"{s.get(key + suffix, float('nan')):>16.3f}" for key, _ in cols))
    for k, target in (("heat_in_mask_ratio", ">= 1.8 (region blends >= 2.5)"), ("pointing_game", ">= 0.7"),
                      ("sanity_spearman", "< 0.2"), ("deletion_20_vs_random", ">= 2"), ("region_words_agree", ""),
                      ("deletion_drop_10", ""), ("deletion_drop_10_random", ""), ("deletion_drop_20", ""),
                      ("deletion_drop_20_random", ""), ("zero_maps", ""), ("explain_ms_per_face", "")):
        if k in s:
            print(f"  {k:<32} {s[k]:8.3f}  {('target ' + target) if target else ''}")
    if "learned_map_iou" in s:
        print("Learned manipulation map (same fakes; deletion not run for it; IoU = map > 0.5 against the blend mask's "
              "half maximum; band = the same against the blend boundary 4N(1-N) at the map's 14x14 grid):")
        for k, target in (("iou_region", ">= 0.5"), ("real_mean", "<= 0.05"), ("sanity_spearman", "< 0.2"),
                          ("region_words_agree", ""), ("band_iou_region", ""), ("band_iou", ""),
                          ("band_heat_in_mask_ratio_region", ""), ("real_mean_shown", "(x P(fake), as drawn)")):
            if "learned_map_" + k in s:
                print(f"  {'learned_map_' + k:<32} {s['learned_map_' + k]:8.3f}  {('target ' + target) if target else ''}")


def print_dev(dev: dict) -> None:
    print("\nDev-eval, the most suspicious face crops of each file: share of the heat per region")
    for sl, d in dev["slices"].items():
        for prefix, name in (("", "Grad-CAM"), ("learned_", "learned map")):
            shares = ", ".join(f"{k} {d[prefix + k]:.2f}" for k in REGIONS if prefix + k in d)
            if shares:
                extra = f", mean {d['learned_mean']:.2f}" if prefix and "learned_mean" in d else ""
                dele = (f"; deletion20 drop {-d[prefix + 'del20']:.3f} vs random {-d['random_del20']:.3f}"
                        if prefix + "del20" in d and "random_del20" in d else "")
                print(f"  {sl:<22} {d['crops']:>3} crops {name:<12} {shares}{extra}{dele}")
    for k, v in dev["summary"].items():
        print(f"  {k:<40} {v:8.3f}" + ("  target <= 0.25" if k == "background_share_dev_fake" else ""))


def record(weights: str | None, s: dict, dev: dict | None, det: Detector) -> Path:
    """Store the numbers (old keys kept, new ones added) and the Grad-CAM setting they were
    measured with in the weights' config.json (a Hub classifier or a Hub repo: its sidecar,
    ``dfdemo.sidecar.update_settings``): the app's How it works shows them, and the product then
    explains with that setting."""
    from dfdemo.sidecar import update_settings
    from dfdemo.weights import resolve_weights

    folder = resolve_weights(weights)
    nums = {**s, **(dev or {}).get("summary", {})}
    faithfulness = {k: round(float(v), 4) for k, v in nums.items() if np.isfinite(v)} | {"cam_setting": cam_setting(det)}
    return update_settings(folder, {"faithfulness": faithfulness}, target_layer=",".join(det.cam_layer_names), cam=det.config.cam)


def dev_index(a: argparse.Namespace) -> Path | None:
    """The dev-eval's index.csv to measure on: ``--index``, else the one under $DFDEMO_SHARED;
    None (the SBI part only, said on stderr) with ``--no-dev`` or neither."""
    shared = os.environ.get(ENV_SHARED)
    index = a.index or (Path(shared) / "data" / "dev-eval" / "index.csv" if shared else None)
    if a.no_dev or index is None:
        print("[explain-eval] no dev-eval part (--no-dev, or no --index and no $DFDEMO_SHARED)", file=sys.stderr)
        return None
    if not index.is_file():
        raise LabError(f"--index {index}: no such file (the dev-eval's index.csv)")
    return index


def main(argv: list[str] | None = None) -> int:
    from .sbi import BLEND_KINDS

    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab explain-eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--layer", default=None,
                    help="Grad-CAM layer(s) to measure instead of the weights' target_layer, e.g. bn2, blocks.4 or blocks.4,bn2")
    ap.add_argument("--cam", default=None, choices=sorted(CAM_METHODS),
                    help="CAM method to measure instead of the weights' own (default of old weights: gradcam)")
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"), help="crop cache (held-out split is used)")
    ap.add_argument("--n", type=int, default=512, help="held-out SBI fakes, the blend kinds in turn")
    ap.add_argument("--kinds", default=",".join(BLEND_KINDS), help="blend kinds to measure (comma-separated)")
    ap.add_argument("--deletion-n", type=int, default=128,
                    help="how many SBI fakes (and dev-eval fake crops) get the (slow) deletion test")
    ap.add_argument("--index", type=Path, default=None,
                    help=f"the dev-eval's index.csv (default: ${ENV_SHARED}/data/dev-eval/index.csv when set; none: SBI part only)")
    ap.add_argument("--dev-limit", type=int, default=None, help="at most this many dev-eval files per slice and label")
    ap.add_argument("--dev-faces", type=Path, default=None,
                    help="cache of the dev-eval face crops (.npz): found once, reused by the next runs")
    ap.add_argument("--no-dev", action="store_true", help="skip the dev-eval part")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--record", action="store_true",
                    help="store the numbers and the measured Grad-CAM setting in the weights' config.json "
                         "(the app explains with that setting and its How it works tab shows the numbers)")
    a = ap.parse_args(argv)
    require_cache(a.cache)  # before the weights load: one line, not a traceback
    index = dev_index(a)
    kinds = tuple(k.strip() for k in a.kinds.split(",") if k.strip())
    if unknown := set(kinds) - set(BLEND_KINDS):
        ap.error(f"unknown blend kind(s) {sorted(unknown)}; use {', '.join(BLEND_KINDS)}")
    det = with_cam(load_detector(a.weights), a.layer, a.cam)
    out = {"model": det.config.model_id, "cam_setting": cam_setting(det),
           "sbi": sbi_eval(det, a.cache, a.n, a.deletion_n, kinds=kinds)}
    print_sbi(out["sbi"], out["cam_setting"], out["model"])
    if index is not None:
        rows = dev_rows(index, a.dev_limit)
        faces = load_dev_faces(rows, a.frames, det.config.crop_margin, det.config.input_size, a.dev_faces)
        out["dev_eval"] = deveval_eval(det, rows, faces, deletion_n=a.deletion_n)
        print_dev(out["dev_eval"])
    if a.json:
        a.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    if a.record:
        path = record(a.weights, out["sbi"], out.get("dev_eval"), det)
        print(f"recorded in {path} (Grad-CAM setting {out['cam_setting']})")
    return 0
