"""``python -m dfdemo_lab train-temporal``: train the temporal head on real videos only.

Three steps, each resumable (what is on disk is reused):

1. **windows** (``--windows-cache``): from every real clip of ``../shared/data/real-videos``,
   ``--per-clip`` windows of ``--window`` consecutive frames at the clip's own rate. The face is
   found by the app's BlazeFace detector, followed through the window by the app's ``follow``
   and cut by the app's ``square_crop`` (cache framing, re-cut to the inference framing later),
   with dlib's 68 landmarks per frame. Split by clip, as the frame detector's cache.
2. **embeddings** (``--run-dir``/``emb_*.npz``): each round turns every window into three
   samples: the untouched window (real), a *constant* self-blend (the same mask deformation,
   colour and quality transform, shift and blend ratio on every frame: a spatial artefact
   only) and a *temporal* self-blend (the same, plus per-frame jitter of the mask boundary, the
   shift, the blend ratio and/or the colour: a temporal artefact). All frames of a sample get
   the same framing jitter and video degradation. The frozen frame detector (``--weights``)
   turns each frame into its pooled features and its frame score.
3. **head**: a ``TemporalHead`` trained on the training clips' embeddings (BCE, AdamW), checked
   on the held-out clips' ones against the frame detector alone (mean frame score of the
   window); the frame weight of the combined score is chosen there. The detector's weights are
   copied to ``--out`` with ``temporal.safetensors`` and ``config.json`` → ``dfdemo.temporal``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from dfdemo.config import load_config, save_config
from dfdemo.detector import load_detector
from dfdemo.faces import FaceDetector, follow
from dfdemo.media import probe, read_windows, window_starts
from dfdemo.temporal import TemporalConfig, TemporalHead, save_temporal
from .errors import LabError, add_shared_option, require_shared
from .cache import CACHE_MARGIN, Landmarker, cache_crop, split_of
from .metrics import roc_auc
from .sbi import (BLEND_RATIOS, affine, blend_mask, color_transform, elastic, quality_transform, reframe,
                  video_degrade)

MODES = ("real", "constant", "temporal")
JITTERS = ("boundary", "shift", "ratio", "colour")


# ---------------------------------------------------------------- 1. windows of real clips

def build_windows(shared: Path, out: Path, per_clip: int, length: int) -> None:
    """Cache ``per_clip`` windows of ``length`` consecutive face crops + landmarks per real clip."""
    crops_dir = out / "crops"
    crops_dir.mkdir(parents=True, exist_ok=True)
    index_path = out / "index.npz"
    rows: dict[str, list] = {"group": [], "split": [], "names": [], "landmarks": []}
    if index_path.exists():
        old = np.load(index_path, allow_pickle=False)
        rows = {k: list(old[k]) for k in rows}
        if rows["names"] and len(rows["names"][0]) != length:
            raise LabError(f"{out} holds windows of {len(rows['names'][0])} frames, not {length}: use another --windows-cache")
    done = set(rows["group"])
    clips = sorted((shared / "data" / "real-videos").glob("*/*.mp4"))
    if not clips:
        raise LabError(f"no real clips found in {shared / 'data' / 'real-videos'} (--shared)")
    lm = Landmarker()
    t0, lost = time.time(), 0
    with FaceDetector(max_faces=2) as fd:
        for i, path in enumerate(clips):
            group = f"{path.parent.name}/{path.stem}"
            if group in done:
                continue
            info = probe(path)
            for frames in read_windows(path, window_starts(info.frame_count, per_clip, length), length, info):
                per_frame = [fd.detect(fr.rgb) for fr in frames]
                dets = follow(per_frame[0][0].box, per_frame) if len(frames) == length and per_frame[0] else None
                if dets is None:
                    lost += 1
                    continue
                names, marks = [], []
                for fr, d in zip(frames, dets):
                    crop, _, landmarks = cache_crop(fr.rgb, d, lm)
                    name = f"{group.replace('/', '__')}__{fr.index:06d}.jpg"
                    cv2.imwrite(str(crops_dir / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
                    names.append(name)
                    marks.append(landmarks)
                for k, v in zip(rows, (group, split_of(group), names, np.stack(marks))):
                    rows[k].append(v)
            _save(index_path, rows)
            print(f"[windows] {i + 1}/{len(clips)} clips, {len(rows['group'])} windows, {lost} lost, {time.time() - t0:.0f}s", flush=True)


def _save(path: Path, rows: dict[str, list]) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v) for k, v in rows.items()})
    os.replace(tmp, path)


# ---------------------------------------------------------------- 2. self-blended windows

def blend_window(frames: list[np.ndarray], landmarks: np.ndarray, rng: np.random.Generator,
                 temporal: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Self-blend every frame of a window; returns (frames, effective blend masks).

    The blend's random choices are drawn once per window and replayed on every frame (the mask
    follows each frame's own landmarks, as a face swap's does). With ``temporal`` one or more of
    the mask boundary, the shift and the blend ratio (so the effective mask), and maybe the
    colour of the pasted face, also change from frame to frame.
    """
    mask_seed, look_seed = (int(v) for v in rng.integers(0, 2**31, 2))
    swap_source = rng.random() < 0.5
    ratio, scale, shift = float(rng.choice(BLEND_RATIOS)), rng.uniform(0.95, 1.05), rng.uniform(-0.03, 0.03, 2)
    jitter = {k: temporal and rng.random() < 0.5 for k in JITTERS}
    if temporal and not any(jitter[k] for k in JITTERS[:3]):  # the mask itself always moves
        jitter[JITTERS[int(rng.integers(3))]] = True
    amount = {"boundary": rng.uniform(0.01, 0.03), "shift": rng.uniform(0.005, 0.015),
              "ratio": rng.uniform(0.1, 0.3), "colour": rng.uniform(3, 10)}
    out, masks = [], []
    for img, marks in zip(frames, landmarks):
        mask = blend_mask(marks, img.shape[:2], np.random.default_rng(mask_seed))
        look_rng = np.random.default_rng(look_seed)
        looked = quality_transform(color_transform(img, look_rng), look_rng)
        r, sh = ratio, shift
        if jitter["boundary"]:
            mask = elastic(mask, rng, strength=amount["boundary"])
        if jitter["shift"]:
            sh = shift + rng.uniform(-1, 1, 2) * amount["shift"]
        if jitter["ratio"]:
            r = float(np.clip(ratio * (1 + rng.uniform(-1, 1) * amount["ratio"]), 0.1, 1.0))
        if jitter["colour"]:
            looked = np.clip(looked.astype(np.float32) + rng.normal(0, amount["colour"], 3), 0, 255).astype(np.uint8)
        source, target = (looked, img) if swap_source else (img, looked)
        source, mask = affine(source, mask, scale, tuple(sh))
        mask = mask * r
        fake = source.astype(np.float32) * mask[..., None] + target.astype(np.float32) * (1 - mask[..., None])
        out.append(np.clip(fake + 0.5, 0, 255).astype(np.uint8))
        masks.append(mask.astype(np.float32))
    return out, masks


def mask_change(masks: list[np.ndarray]) -> float:
    """Mean absolute change of the blend mask between consecutive frames (0 = constant)."""
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])])) if len(masks) > 1 else 0.0


def window_sample(frames: list[np.ndarray], landmarks: np.ndarray, mode: str, rng: np.random.Generator,
                  size: int, margin: float) -> np.ndarray:
    """One training sample: (T, size, size, 3) crops at the inference framing, ``mode`` in MODES.
    Every frame gets the same framing jitter and the same video degradation."""
    if mode != "real":
        frames, _ = blend_window(frames, landmarks, rng, temporal=mode == "temporal")
    flip = rng.random() < 0.5
    frame_state = rng.bit_generator.state
    out = []
    for img in frames:
        rng.bit_generator.state = frame_state
        img = np.ascontiguousarray(img[:, ::-1]) if flip else img
        out.append(video_degrade(reframe(img, CACHE_MARGIN, margin, size, rng), rng))
    return np.stack(out)


def load_frames(folder: Path, names) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.imread(str(folder / n)), cv2.COLOR_BGR2RGB) for n in names]


def embed_round(detector, windows: dict, split: str, round_: int, seed: int) -> dict[str, np.ndarray]:
    """Every window of ``split`` as real, constant and temporal samples → embeddings + frame scores."""
    cfg = detector.config
    keep = np.flatnonzero(windows["split"] == split)
    rng = np.random.default_rng([seed, round_, 0 if split == "train" else 1])
    emb, frame_p, labels, modes, groups = [], [], [], [], []
    t0 = time.time()
    for j, w in enumerate(keep):
        frames = load_frames(windows["folder"], windows["names"][w])
        for m, mode in enumerate(MODES):
            crops = window_sample(frames, windows["landmarks"][w], mode, rng, cfg.input_size, cfg.crop_margin)
            p, e = detector.embed(crops, batch_size=8)
            emb.append(e.astype(np.float16))
            frame_p.append(p)
            labels.append(float(mode != "real"))
            modes.append(m)
            groups.append(windows["group"][w])
        if (j + 1) % 50 == 0:
            print(f"[embed] {split} round {round_}: {j + 1}/{len(keep)} windows, {time.time() - t0:.0f}s", flush=True)
    return {"emb": np.stack(emb), "frame_p": np.stack(frame_p), "label": np.array(labels, np.float32),
            "mode": np.array(modes), "group": np.array(groups)}


def fingerprint(detector) -> str:
    """What the embeddings depend on: the frame detector's own weights (a mask head, which does
    not change them, is left out)."""
    h = hashlib.sha256()
    for k, v in sorted(detector.model.state_dict().items()):
        if not k.startswith("mask_head."):
            h.update(k.encode())
            h.update(v.detach().half().numpy().tobytes())
    return h.hexdigest()[:16]


def embeddings(detector, windows: dict, run_dir: Path, split: str, rounds: int, seed: int) -> dict[str, np.ndarray]:
    """Cached per round in ``run_dir``; a round embedded by other detector weights is redone."""
    parts, fp = [], fingerprint(detector)
    for r in range(rounds):
        path = run_dir / f"emb_{split}_r{r}.npz"
        if path.exists() and str(np.load(path).get("fingerprint", "")) != fp:
            print(f"[embed] {path} was made by other detector weights: embedding again", flush=True)
            path.unlink()
        if not path.exists():
            d = embed_round(detector, windows, split, r, seed)
            np.savez(path.with_suffix(".tmp.npz"), fingerprint=fp, **d)
            os.replace(path.with_suffix(".tmp.npz"), path)
        parts.append({k: v for k, v in np.load(path).items() if k != "fingerprint"})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ---------------------------------------------------------------- 3. the head

def train_head(train: dict, val: dict, cfg: TemporalConfig, epochs: int, seed: int, lr: float = 1e-3) -> tuple[TemporalHead, list]:
    """Train on the training clips' windows; keep the epoch with the best window AUC on the
    held-out clips (the head memorises a few hundred windows within a few epochs)."""
    torch.manual_seed(seed)
    head = TemporalHead(cfg.embed_dim, cfg.hidden, differences_only=cfg.differences_only)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    x, y = torch.from_numpy(train["emb"].astype(np.float32)), torch.from_numpy(train["label"])
    lossf = torch.nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(seed)
    best, history = (-1.0, None), []
    for epoch in range(epochs):
        head.train()
        order, total = torch.randperm(len(x), generator=g), 0.0
        for i in range(0, len(x), 64):
            b = order[i:i + 64]
            xb = x[b]
            if torch.rand(1, generator=g).item() < 0.5:
                xb = xb.flip(1)  # time reversal keeps a window real or fake
            loss = lossf(head(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        auc = roc_auc(window_scores(head.eval(), val), val["label"])
        history.append({"epoch": epoch + 1, "loss": round(total / len(x), 4), "val_temporal_auc": round(auc, 4)})
        print(f"[head] epoch {epoch + 1}/{epochs} loss {total / len(x):.4f} held-out window AUC {auc:.4f}", flush=True)
        if auc > best[0]:
            best = (auc, {k: v.clone() for k, v in head.state_dict().items()})
    head.load_state_dict(best[1])
    return head.eval(), history


def window_scores(head: TemporalHead, data: dict) -> np.ndarray:
    with torch.inference_mode():
        return torch.sigmoid(head(torch.from_numpy(data["emb"].astype(np.float32)))).numpy()


def evaluate_head(head: TemporalHead, val: dict) -> dict:
    """Window-level AUCs on held-out clips: frame detector alone, temporal head, combinations."""
    pt = window_scores(head, val)
    pf = val["frame_p"].mean(1)
    y, mode = val["label"], val["mode"]
    out: dict = {"windows": int(len(y))}
    weights = [round(w, 2) for w in np.linspace(0, 1, 11)]
    combined = {w: roc_auc(w * pf + (1 - w) * pt, y) for w in weights}
    best = max(combined, key=lambda w: (round(combined[w], 4), w))  # ties: more weight on the frame detector
    out.update(frame_auc=roc_auc(pf, y), temporal_auc=roc_auc(pt, y), combined_auc=combined[best], frame_weight=best,
               combined_auc_by_weight={str(w): round(v, 4) for w, v in combined.items()})
    for m, name in enumerate(MODES[1:], start=1):
        sel = (mode == 0) | (mode == m)
        out[f"{name}_vs_real"] = {"frame_auc": roc_auc(pf[sel], y[sel]), "temporal_auc": roc_auc(pt[sel], y[sel]),
                                  "combined_auc": roc_auc(best * pf[sel] + (1 - best) * pt[sel], y[sel])}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab train-temporal", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_option(ap)
    ap.add_argument("--windows-cache", type=Path, default=Path("cache/windows"))
    ap.add_argument("--weights", default=None, help="frame detector to build on (default: the bundled one)")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/temporal"))
    ap.add_argument("--out", type=Path, required=True, help="weights folder to write (detector + temporal head)")
    ap.add_argument("--window", type=int, default=8, help="consecutive frames per window")
    ap.add_argument("--per-clip", type=int, default=12, help="windows cached per real clip")
    ap.add_argument("--rounds", type=int, default=2, help="blend rounds over the training windows")
    ap.add_argument("--val-rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=12, help="epochs over the training windows (the best on held-out clips is kept)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--differences-only", action="store_true", help="the head sees only frame-to-frame changes of the embeddings")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--default-on", action="store_true", help="make the temporal check the default of these weights")
    ap.add_argument("--model-id", default=None, help="model id written into --out (default: the detector's + ' + temporal')")
    a = ap.parse_args(argv)
    t0 = time.time()
    a.run_dir.mkdir(parents=True, exist_ok=True)
    build_windows(require_shared(a.shared), a.windows_cache, a.per_clip, a.window)
    idx = np.load(a.windows_cache / "index.npz")
    windows = {"folder": a.windows_cache / "crops", **{k: idx[k] for k in idx.files}}
    print(f"[windows] {int((windows['split'] == 'train').sum())} train / {int((windows['split'] == 'val').sum())} "
          f"held-out windows of {a.window} frames", flush=True)
    detector = load_detector(a.weights)
    train = embeddings(detector, windows, a.run_dir, "train", a.rounds, a.seed)
    val = embeddings(detector, windows, a.run_dir, "val", a.val_rounds, a.seed)
    cfg = TemporalConfig(window=a.window, embed_dim=int(train["emb"].shape[-1]), hidden=a.hidden, differences_only=a.differences_only)
    head, history = train_head(train, val, cfg, a.epochs, a.seed)
    metrics = evaluate_head(head, val)
    print("[val] " + json.dumps(metrics), flush=True)
    cfg = replace(cfg, frame_weight=metrics["frame_weight"], default_on=a.default_on,
                  extra={"validation": metrics, "epochs": history, "train_samples": int(len(train["label"])), "minutes": round((time.time() - t0) / 60, 1),
                         "command": "python -m dfdemo_lab train-temporal " + " ".join(argv if argv is not None else [])})
    write_weights(a.weights, a.out, head, cfg, a.model_id)
    print(f"[temporal] saved {a.out} (frame detector + temporal head) in {(time.time() - t0) / 60:.1f} min", flush=True)
    return 0


def write_weights(source, out: Path, head: TemporalHead, cfg: TemporalConfig, model_id: str | None = None) -> Path:
    """Copy the frame detector's weights folder to ``out`` and add the temporal head to it."""
    from dfdemo.weights import resolve_weights

    folder = resolve_weights(source)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "README.md"):
        if (folder / name).is_file() and (folder / name).resolve() != (out / name).resolve():
            shutil.copy2(folder / name, out / name)
    config = load_config(folder)
    if model_id is None:
        model_id = config.model_id if config.model_id.endswith("+ temporal") else f"{config.model_id} + temporal".strip()
    save_temporal(head, out)
    save_config(out, replace(config, temporal=cfg, model_id=model_id))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
