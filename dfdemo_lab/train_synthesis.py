"""``python -m dfdemo_lab train-synthesis``: train the synthesis head on real faces only.

The backbone stays frozen (the blending score, its calibration and its heatmaps do not move);
only ``dfdemo.heads.SynthesisHead`` is fitted. Each training face appears twice: as it is
(real) and as one simulated generator trace of it (fake), then both sides get the same framing
and independent video degradations (resampling, JPEG; ``--degrade varied`` adds the
picture-quality looks of ``sbi.quality_domain`` to both, which transferred worse), so that
compression or size alone cannot tell the classes apart. The defaults are the bundled head's
recipe (the ``upsample`` trace, 4,000 faces). The traces (``TRACES``):

- ``ae``: the whole crop redrawn by the generator simulator (``gensim``), a random decoder;
- ``ae2x``: the same at twice the scale (upscaled, redrawn, downscaled), the traces of a
  generator working at a higher resolution than the face is seen at;
- ``paste``: the redrawn face pasted back into the real crop inside a face-hull mask (what a
  talking-head animator does to the face region);
- ``upsample``: a decoder's upsampling alone: half resolution, nearest-neighbour upsampling
  and a random smoothing kernel (nearest + conv);
- ``upsample2x``: the same at twice the scale (upscaled, traced, downscaled back);
- ``transposed``: the same with zero insertion and a random 4x4 kernel (a transposed
  convolution's checkerboard);
- ``smooth``: generator-like smoothing of skin and hair texture (edge-preserving) at several
  strengths.

Features (the head's pooled input) are cached per trace in ``--out``, so a new ``--traces``
mixture refits in seconds. Output: a weights folder = the input weights + the head and its
``synthesis`` config block (thresholds are set by ``calibrate``).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from dfdemo.config import SynthesisConfig, load_config
from dfdemo.detector import load_detector
from dfdemo.heads import SynthesisHead
from dfdemo.weights import resolve_weights, save_detector

from . import gensim
from .cache import CACHE_MARGIN
from .errors import LabError, require_cache
from .metrics import roc_auc
from .sbi import blend_mask, reframe, resample, video_degrade
from .data import CropSet

# what the head reads: every stage's mean activation over the face, and the early stages'
# spread (a texture statistic); one forward pass, the blending score's own
LAYERS = ("blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "bn2")
SPREAD = ("blocks.1", "blocks.2", "blocks.3", "blocks.4")
TRACES = ("ae", "ae2x", "paste", "upsample", "upsample2x", "transposed", "smooth")


def upsample_trace(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A decoder's last upsampling: the face at half resolution, nearest-neighbour upsampled,
    then a random 3x3 kernel near a binomial smoothing (nearest + conv)."""
    up = resample(img, 0.5, cv2.INTER_NEAREST).astype(np.float32)
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 4 + rng.normal(0, 0.3, (3, 3)).astype(np.float32)
    return np.clip(cv2.filter2D(up, -1, k / k.sum()), 0, 255).astype(np.uint8)


def transposed_trace(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stride-2 transposed convolution's checkerboard: zero insertion, then a random 4x4 kernel."""
    h, w = img.shape[:2]
    up = np.zeros((h, w, 3), np.float32)
    up[::2, ::2] = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    k = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float32) * (1 + rng.normal(0, 0.25, (4, 4)).astype(np.float32))
    return np.clip(cv2.filter2D(up, -1, k / k.sum() * 4), 0, 255).astype(np.uint8)


def smooth_trace(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    d = int(rng.integers(5, 12))
    return cv2.bilateralFilter(img, d, rng.uniform(20, 80), rng.uniform(3, 12))


class TraceMaker:
    """Simulated generator traces of a real cache crop (uint8 RGB, side divisible by 4)."""

    def __init__(self, sim: gensim.Simulator | None):
        self.sim = sim

    def __call__(self, img: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
        if kind in ("ae", "ae2x", "paste"):
            if self.sim is None:
                raise ValueError(f"trace {kind!r} needs the generator simulator (--sim)")
            dec = self.sim.cfg.decoders[int(rng.integers(len(self.sim.cfg.decoders)))]
            if kind == "ae2x":
                h, w = img.shape[:2]
                big = cv2.resize(img, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
                return cv2.resize(gensim.redraw(self.sim, big[None], dec)[0], (w, h), interpolation=cv2.INTER_AREA)
            out = gensim.redraw(self.sim, img[None], dec)[0]
            if kind == "paste":
                m = blend_mask(landmarks, img.shape[:2], rng)[..., None]
                out = np.clip(out * m + img * (1 - m) + 0.5, 0, 255).astype(np.uint8)
            return out
        if kind == "upsample":
            return upsample_trace(img, rng)
        if kind == "upsample2x":  # the same at twice the scale: a finer trace, as a generator working above the face's size leaves
            h, w = img.shape[:2]
            big = upsample_trace(cv2.resize(img, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC), rng)
            return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
        if kind == "transposed":
            return transposed_trace(img, rng)
        if kind == "smooth":
            return smooth_trace(img, rng)
        raise ValueError(f"unknown trace {kind!r} (known: {', '.join(TRACES)})")


class FeatureReader:
    """The head's pooled input from the detector's scoring pass (frozen, folded batch norm)."""

    def __init__(self, det, layers: tuple[str, ...], spread: tuple[str, ...]):
        self.det, self.layers, self.spread = det, layers, spread

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray, bs: int = 16) -> np.ndarray:
        return self.det.pooled_activations(crops, self.layers, self.spread, bs).numpy() if len(crops) else np.zeros((0, 0), np.float32)


def framed(img: np.ndarray, rng: np.random.Generator, margin: float, size: int, degrade: str) -> np.ndarray:
    return video_degrade(reframe(np.ascontiguousarray(img), CACHE_MARGIN, margin, size), rng, degrade)


def features_for(crops: CropSet, idx: np.ndarray, kind: str, traces: TraceMaker, reader: FeatureReader, seed: int,
                 margin: float, size: int, degrade: str, cache: Path) -> np.ndarray:
    """Pooled features of ``idx`` crops as real (``kind="real"``) or with trace ``kind``; cached."""
    path = cache / f"{kind}.npy"
    if path.is_file():
        f = np.load(path)
        if len(f) == len(idx):
            return f
    rng = np.random.default_rng([seed, len(kind), sum(map(ord, kind))])
    t0, last, out = time.time(), time.time(), []
    for k in range(0, len(idx), 64):
        batch = []
        for i in idx[k:k + 64]:
            img = crops.image(int(i))
            if rng.random() < 0.5:
                img, lm = np.ascontiguousarray(img[:, ::-1]), crops.landmarks[i].copy()
                lm[:, 0] = img.shape[1] - 1 - lm[:, 0]
            else:
                lm = crops.landmarks[i]
            if kind != "real":
                img = traces(img, lm, kind, rng)
            batch.append(framed(img, rng, margin, size, degrade))
        out.append(reader(np.stack(batch)))
        if time.time() - last > 30 or k + 64 >= len(idx):
            print(f"  {cache.name}/{kind}: {min(k + 64, len(idx))}/{len(idx)} faces ({time.time() - t0:.0f} s)", flush=True)
            last = time.time()
    f = np.concatenate(out)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, f)
    return f


def fit_head(x: np.ndarray, y: np.ndarray, weight_decay: float, steps: int = 300) -> SynthesisHead:
    """Logistic regression on standardised features (full batch, L-BFGS, L2 penalty)."""
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).float()
    head = SynthesisHead(x.shape[1])
    head.mean.copy_(xt.mean(0))
    head.std.copy_(xt.std(0).clamp_min(1e-4))
    opt = torch.optim.LBFGS(head.linear.parameters(), lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(xt), yt) + weight_decay * head.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head.eval()


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in filter(None, text.split(",")):
        name, _, w = part.partition(":")
        if name not in TRACES:
            raise LabError(f"--traces: unknown trace {name!r} (known: {', '.join(TRACES)})")
        mix[name] = float(w or 1)
    if not mix:
        raise LabError("--traces: name at least one trace")
    return mix


def mixed(parts: dict[str, np.ndarray], mix: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` fake rows drawn from the per-trace feature sets in the mixture's proportions
    (row i of each set is the same face, so each face is used once)."""
    names = list(mix)
    w = np.asarray([mix[k] for k in names], float)
    pick = rng.choice(len(names), size=n, p=w / w.sum())
    return np.stack([parts[names[p]][i] for i, p in enumerate(pick)])


def dev_report(reader: FeatureReader, head: SynthesisHead, path: Path) -> dict:
    """AUC of the head on the dev-eval crops, per slice (measurement only, never trained on)."""
    from .evaluate import DevCrops

    dev = DevCrops.load(path)
    with torch.inference_mode():
        s = torch.sigmoid(head(torch.from_numpy(reader(dev.crops)))).numpy()
    files = dev.file_scores(s)
    out = {}
    for name in sorted(set(dev.slices)):
        m = dev.slices == name
        if len(set(dev.labels[m])) == 2:
            out[name] = roc_auc(files[m], dev.labels[m])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab train-synthesis", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="weights/detector", help="detector whose backbone the head reads (frozen)")
    ap.add_argument("--sim", type=Path, default=Path("runs/gensim"), help="generator simulator (python -m dfdemo_lab gensim)")
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"))
    ap.add_argument("--out", type=Path, default=Path("runs/synthesis"))
    ap.add_argument("--faces", type=int, default=4000, help="training faces (each seen real and with each trace)")
    ap.add_argument("--val-faces", type=int, default=300)
    ap.add_argument("--traces", default="upsample:1")
    ap.add_argument("--degrade", default="plain", choices=["plain", "strong", "varied"])
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dev-crops", type=Path, help="also print the dev-eval AUC per slice (measurement only)")
    ap.add_argument("--save", type=Path, help="write the input weights + this head here (a new weights folder)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    mix = parse_mix(a.traces)
    require_cache(a.cache)
    if any(k in mix for k in ("ae", "ae2x", "paste")) and not (a.sim / "gensim.json").is_file():
        raise LabError(f"no generator simulator at {a.sim}: train one first with python -m dfdemo_lab gensim --out {a.sim}")
    det = load_detector(a.weights)
    reader = FeatureReader(det, LAYERS, SPREAD)
    sim = gensim.load(a.sim)[0] if any(k in mix for k in ("ae", "ae2x", "paste")) else None
    traces = TraceMaker(sim)
    degrade = {"plain": False, "strong": True, "varied": "varied"}[a.degrade]
    size, margin = det.config.input_size, det.config.crop_margin
    sets = {}
    for split, n in (("train", a.faces), ("val", a.val_faces)):
        crops = CropSet.load(a.cache, split)
        idx = np.sort(np.random.default_rng(a.seed).choice(len(crops.names), min(n, len(crops.names)), replace=False))
        feats = {k: features_for(crops, idx, k, traces, reader, a.seed + (split == "val"), margin, size, degrade,
                                 a.out / f"features-{a.degrade}-{split}")
                 for k in ("real", *mix)}
        sets[split] = feats
    rng = np.random.default_rng(a.seed)
    tr = sets["train"]
    x = np.concatenate([tr["real"], mixed(tr, mix, len(tr["real"]), rng)])
    y = np.r_[np.zeros(len(tr["real"])), np.ones(len(tr["real"]))]
    head = fit_head(x, y, a.weight_decay)
    va = sets["val"]
    with torch.inference_mode():
        score = {k: torch.sigmoid(head(torch.from_numpy(v))).numpy() for k, v in va.items()}
    val = {k: roc_auc(np.r_[score["real"], score[k]], np.r_[np.zeros(len(score["real"])), np.ones(len(score[k]))]) for k in mix}
    print("held-out simulated traces, AUC vs the same real faces: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()), flush=True)
    record = {"traces": mix, "faces": len(tr["real"]), "val_auc": val, "degrade": a.degrade, "weight_decay": a.weight_decay}
    if a.dev_crops:
        record["dev_auc"] = dev_report(reader, head, a.dev_crops)
        print("dev-eval AUC per slice (measurement only): " + ", ".join(f"{k} {v:.3f}" for k, v in record["dev_auc"].items()), flush=True)
    (a.out / "head.json").write_text(json.dumps(record, indent=2) + "\n")
    if a.save:
        base = load_config(resolve_weights(a.weights))
        det.model.synthesis_head = head
        synthesis = SynthesisConfig(LAYERS, SPREAD, int(x.shape[1]), extra={"training": record})
        save_detector(det.model, a.save, replace(base, synthesis=synthesis))
        print(f"saved {a.save}: the input weights + the synthesis head (calibrate it: python -m dfdemo_lab calibrate --weights {a.save})")


if __name__ == "__main__":
    main()
