"""``python -m dfdemo_lab train``: train the detector on real faces only with Self-Blended Images.

Recipe: cache → split (by clip / by person) → seeded SBI pairs → timm classifier from
ImageNet → AdamW + cosine schedule → validation AUC on fixed held-out SBI pairs → fp16
safetensors in the ``save_detector`` layout, loadable by ``scan`` unchanged. Resumable: the
last checkpoint in ``--run-dir`` is picked up again.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from dfdemo.detector import DetectorConfig, load_detector, mask_probabilities, normalise, save_detector
from dfdemo.model import add_mask_head, create_model, default_target_layer, forward_with_mask
from .evaluate import DevCrops
from .cache import CACHE_MARGIN
from .errors import LabError, require_cache
from .metrics import MASK_TARGETS, boundary_band, mask_iou, mask_target, roc_auc
from .sbi import BLEND_KINDS, align_to, reframe, self_blend, video_degrade


@dataclass(frozen=True)
class CropSet:
    """The cache index restricted to one split; images are read lazily from ``folder``."""

    folder: Path
    names: np.ndarray
    landmarks: np.ndarray
    is_video: np.ndarray
    groups: np.ndarray  # clip or LFW person of each crop

    @classmethod
    def load(cls, cache: Path, split: str) -> "CropSet":
        d = np.load(require_cache(cache))
        keep = d["split"] == split
        return cls(cache / "crops", d["name"][keep], d["landmarks"][keep], d["kind"][keep] == "video", d["group"][keep])

    def neighbours(self, i: int, within: int = 3) -> np.ndarray:
        """Other crops of the same clip at most ``within`` cache frames away (names sort by frame)."""
        same = np.flatnonzero(self.groups == self.groups[i])
        pos = int(np.searchsorted(same, i))
        near = same[max(0, pos - within): pos + within + 1]
        return near[near != i]

    def image(self, i: int) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(self.folder / self.names[i])), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class BlendMix:
    """Which self-blends training draws: a probability per region (``BLEND_KINDS``) and the
    share of video pairs whose source is another, landmark-aligned frame of the same clip."""

    kinds: tuple[tuple[str, float], ...] = (("face", 1.0),)
    cross_frame: float = 0.0

    @classmethod
    def parse(cls, kinds: str, cross_frame: float) -> "BlendMix":
        """``"face:0.5,lower:0.2,eyes:0.15,inner:0.15"`` → BlendMix (weights normalised)."""
        pairs = []
        for part in filter(None, kinds.split(",")):
            name, _, w = part.partition(":")
            if name not in BLEND_KINDS:
                raise LabError(f"--blend-kinds: unknown kind {name!r} (known: {', '.join(BLEND_KINDS)})")
            pairs.append((name, float(w or 1)))
        total = sum(w for _, w in pairs)
        return cls(tuple((n, w / total) for n, w in pairs), cross_frame)

    def draw(self, rng: np.random.Generator) -> str:
        names, weights = zip(*self.kinds)
        return names[int(rng.choice(len(names), p=np.asarray(weights)))]


def make_pair(crops: CropSet, i: int, rng: np.random.Generator, size: int, margin: float,
              train: bool, strong_degrade: bool | str = False, mix: BlendMix = BlendMix(),
              kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real, fake, mask) at the inference framing: both sides get the same framing, flip and
    independent video degradations, so the only systematic difference is the blend.
    ``kind`` fixes the blended region; otherwise it is drawn from ``mix``."""
    img = crops.image(i)
    kind = kind or mix.draw(rng)
    source = None
    if mix.cross_frame and crops.is_video[i] and rng.random() < mix.cross_frame:
        near = crops.neighbours(i)
        if len(near):
            j = int(rng.choice(near))
            source = align_to(crops.image(j), crops.landmarks[j], crops.landmarks[i])
    fake, mask = self_blend(img, crops.landmarks[i], rng, kind, source)
    if train and rng.random() < 0.5:
        img, fake, mask = img[:, ::-1], fake[:, ::-1], mask[:, ::-1]
    state = rng.bit_generator.state
    real = reframe(np.ascontiguousarray(img), CACHE_MARGIN, margin, size, rng if train else None)
    rng.bit_generator.state = state  # the same jitter for the fake and its mask
    fake = reframe(np.ascontiguousarray(fake), CACHE_MARGIN, margin, size, rng if train else None)
    rng.bit_generator.state = state
    mask = reframe(np.ascontiguousarray(mask), CACHE_MARGIN, margin, size, rng if train else None)
    return video_degrade(real, rng, strong_degrade), video_degrade(fake, rng, strong_degrade), mask


class PairStream(IterableDataset):
    """Endless stream of (real, fake) pairs; ``video_share`` of them from video frames."""

    def __init__(self, crops: CropSet, size: int, margin: float, seed: int, video_share: float, strong_degrade: bool | str = False,
                 mix: BlendMix = BlendMix(), weights: np.ndarray | None = None):
        self.crops, self.size, self.margin, self.seed, self.video_share = crops, size, margin, seed, video_share
        self.strong_degrade, self.mix, self.weights = strong_degrade, mix, weights

    def __iter__(self):
        wi = get_worker_info()
        rng = np.random.default_rng([self.seed, wi.id if wi else 0])
        vid = np.flatnonzero(self.crops.is_video)
        pho = np.flatnonzero(~self.crops.is_video)
        while True:
            pool = vid if (len(pho) == 0 or (len(vid) and rng.random() < self.video_share)) else pho
            p = None if self.weights is None else self.weights[pool] / self.weights[pool].sum()
            i = int(rng.choice(pool, p=p))
            yield make_pair(self.crops, i, rng, self.size, self.margin, train=True, strong_degrade=self.strong_degrade, mix=self.mix)


@torch.inference_mode()
def real_scores(model: torch.nn.Module, crops: CropSet, size: int, margin: float, mean, std, bf16: bool, bs: int = 64) -> np.ndarray:
    """P(fake) of every (untouched) crop at the inference framing: which real faces the model
    finds suspicious."""
    model.eval()
    out = []
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(crops.names), bs):
            imgs = np.stack([reframe(crops.image(j), CACHE_MARGIN, margin, size) for j in range(i, min(i + bs, len(crops.names)))])
            x, _ = to_batch(torch.from_numpy(imgs), torch.from_numpy(imgs[:0]), mean, std)
            out.append(torch.sigmoid(model(x).float().view(-1)).numpy())
    return np.concatenate(out)


def to_batch(reals: torch.Tensor, fakes: torch.Tensor, mean, std) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.cat([torch.zeros(len(reals)), torch.ones(len(fakes))])
    return normalise(torch.cat([reals, fakes]), mean, std), y


def validation_set(crops: CropSet, n: int, size: int, margin: float, seed: int = 1234, kind: str = "face",
                   cross_frame: bool = False):
    """Fixed held-out pairs of one blend kind (``cross_frame``: sources from other frames of the
    clip, video crops only); the default (whole face, seed 1234) is the v1/v2 validation set."""
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(crops.is_video) if cross_frame else np.arange(len(crops.names))
    idx = rng.choice(pool, min(n, len(pool)), replace=False)
    mix = BlendMix(((kind, 1.0),), 1.0 if cross_frame else 0.0)
    pairs = [make_pair(crops, int(i), rng, size, margin, train=False, mix=mix, kind=kind) for i in idx]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), crops.is_video[idx], np.stack([p[2] for p in pairs])


def mask_targets(masks: torch.Tensor, n_real: int, size: tuple[int, int], target: str = "blend") -> torch.Tensor:
    """Targets of the mask head on its grid ``size``: zeros for the reals, each fake's
    ``metrics.mask_target`` (the blend mask, the replaced region or its boundary)."""
    fake = mask_target(masks, target, size).unsqueeze(1)
    return torch.cat([torch.zeros((n_real, 1) + tuple(size)), fake])


def soft_dice_loss(mask_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the maps of 1 − soft Dice (2·Σpt + 1) / (Σp + Σt + 1): the overlap with the
    target, whatever its size (a mouth is a few cells of the grid, BCE mostly sees background)."""
    p = torch.sigmoid(mask_logits.float()).flatten(1)
    t = target.flatten(1)
    return (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()


def target_map(mask: np.ndarray, target: str) -> np.ndarray:
    """What a map trained on ``target`` is compared with at full resolution: the blend mask
    (``binary`` takes its half maximum: the replaced region) or its boundary band."""
    return boundary_band(mask) if target == "boundary" else mask


@torch.inference_mode()
def evaluate(model, reals, fakes, is_video, masks, mean, std, mask_head: dict | None = None, bs: int = 64,
             bf16: bool = False, mask_target: str = "blend") -> dict:
    """Scores of held-out pairs; with ``mask_head`` also the map's IoU with what it is trained
    to draw (``target_map`` of ``mask_target``) and its mean on the real faces."""
    model.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return _evaluate(model, reals, fakes, is_video, masks, mean, std, mask_head, bs, mask_target)


def _evaluate(model, reals, fakes, is_video, masks, mean, std, mask_head, bs, mask_target="blend") -> dict:
    scores, ious, real_act = [], [], []
    for i in range(0, len(reals), bs):
        x, _ = to_batch(torch.from_numpy(reals[i:i + bs]), torch.from_numpy(fakes[i:i + bs]), mean, std)
        if mask_head:
            logits, mlog = forward_with_mask(model, mask_head, x)
            pm = mask_probabilities(mlog, x.shape[-1])
            n = len(pm) // 2
            real_act += pm[:n].mean((1, 2)).tolist()
            ious += [mask_iou(p, target_map(m, mask_target)) for p, m in zip(pm[n:].float().numpy(), masks[i:i + bs])]
        else:
            logits = model(x)
        scores.append(torch.sigmoid(logits.float().view(-1)).view(2, -1))
    s = torch.cat(scores, 1).numpy()
    r, f = s[0], s[1]
    out = {"sbi_auc": roc_auc(np.r_[r, f], np.r_[np.zeros(len(r)), np.ones(len(f))]),
           "real_fpr@0.5": float((r >= 0.5).mean()), "fake_tpr@0.5": float((f >= 0.5).mean())}
    if is_video.any():
        out["video_real_fpr@0.5"] = float((r[is_video] >= 0.5).mean())
        out["video_sbi_auc"] = roc_auc(np.r_[r[is_video], f[is_video]], np.r_[np.zeros(is_video.sum()), np.ones(is_video.sum())])
    if ious:
        out["mask_iou"] = float(np.mean(ious))
        out["mask_real_mean_activation"] = float(np.mean(real_act))
    return out


def set_train_mode(model: torch.nn.Module, head_only: bool) -> None:
    """Training mode; with ``head_only`` the frozen detector stays in eval mode (BatchNorm
    statistics unchanged), only the mask head trains."""
    if head_only:
        model.eval()
        model.mask_head.train()
    else:
        model.train()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab train", description=__doc__)
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"), help="crop cache from python -m dfdemo_lab cache")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/sbi"), help="checkpoints and log (resumes from here)")
    ap.add_argument("--out", type=Path, default=Path("weights/detector"), help="where the final weights are saved")
    ap.add_argument("--arch", default="tf_efficientnet_lite0")
    ap.add_argument("--pretrained", type=Path, default=Path("../shared/pretrained/timm_tf_efficientnet_lite0_imagenet.pth"))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--margin", type=float, default=0.3, help="crop margin around the face box (same as inference)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16, help="pairs per step (2x images)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--video-share", type=float, default=0.6, help="share of pairs drawn from video frames")
    ap.add_argument("--minutes", type=float, default=0, help="stop (and save) after this many minutes; 0 = no limit")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--val-pairs", type=int, default=400)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degrade", choices=("standard", "strong", "varied"), default="standard",
                    help="video degradations of both classes; strong adds heavy whole-face blur half of the time, "
                         "varied adds upscaling, beauty smoothing, over-sharpening or studio contrast half of the time")
    ap.add_argument("--init", default=None, help="start from this weights folder instead of ImageNet (fine-tuning)")
    ap.add_argument("--mask-weight", type=float, default=0.0,
                    help="> 0 adds the learned manipulation map head, trained on the SBI blend masks with this loss weight")
    ap.add_argument("--mask-deep-layer", default=None,
                    help="the mask head also reads this (stride-32) layer, e.g. bn2: the features the fake score is made of")
    ap.add_argument("--head-only", action="store_true",
                    help="with --init and --mask-weight: train the mask head alone on the frozen detector "
                         "(the classifier, hence its scores and threshold, stay exactly as they were)")
    ap.add_argument("--mask-target", choices=MASK_TARGETS, default="blend",
                    help="what the learned map is trained to draw on the fakes (reals: all zero): blend = the blend mask "
                         "times the blend ratio (v1-v3), region = the replaced region whatever the ratio, boundary = "
                         "Face X-ray's 4*N*(1-N) of the normalised mask at the map's grid")
    ap.add_argument("--mask-dice", type=float, default=0.0,
                    help="weight of a soft-Dice loss on the fakes' maps, added to the mask BCE (0 = BCE only)")
    ap.add_argument("--mask-real-weight", type=float, default=1.0,
                    help="weight of the real faces' (all-zero) maps in the mask BCE; > 1 asks for quieter maps on real faces")
    ap.add_argument("--new-mask-head", action="store_true",
                    help="with --init: replace the weights' learned-map head by a freshly initialised one (same layers)")
    ap.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                    help="bf16: torch.autocast to bfloat16 on the CPU (AVX-512 BF16 / AMX); fp32: plain float32")
    ap.add_argument("--blend-kinds", default="face:1",
                    help="self-blend regions and their weights, e.g. face:0.5,lower:0.2,eyes:0.15,inner:0.15 "
                         f"(kinds: {', '.join(BLEND_KINDS)})")
    ap.add_argument("--cross-frame", type=float, default=0.0,
                    help="share of video pairs blended from another, landmark-aligned frame of the same clip")
    ap.add_argument("--val-kinds", default="face",
                    help="held-out SBI pairs are also scored per kind (comma list; 'cross' = cross-frame whole face)")
    ap.add_argument("--hard-reals", type=float, default=0.0,
                    help="oversample real crops the starting model scores high: a crop is drawn with weight 1 + this x P(fake) "
                         "(scores cached in --run-dir); 0 = uniform")
    ap.add_argument("--model-id", default="", help="the name reports show for these weights (default: the folder they are loaded from)")
    ap.add_argument("--eval-only", action="store_true",
                    help="score the starting model (--init) on the held-out SBI pairs (and --dev-crops), print, and stop")
    ap.add_argument("--dev-crops", type=Path, default=None,
                    help="face crops of the dev-eval (python -m dfdemo_lab eval --save-crops): its AUC is printed at every "
                         "evaluation (measurement only: never trained on, never used to pick the weights)")
    a = ap.parse_args(argv)
    require_cache(a.cache)

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    a.run_dir.mkdir(parents=True, exist_ok=True)
    train_set, val_set = CropSet.load(a.cache, "train"), CropSet.load(a.cache, "val")
    print(f"[train] {len(train_set.names)} train crops ({train_set.is_video.sum()} video frames), "
          f"{len(val_set.names)} validation crops", flush=True)
    if a.init:
        start = load_detector(a.init)
        if a.head_only:  # the classifier is kept as it is: so are its calibration and history
            model, config = start.model, replace(start.config, model_id=a.model_id, extra={**start.config.extra, "mask_head_init": str(a.init)})
        else:
            # the backbone will change: a temporal head (trained on its embeddings) and the calibration no longer apply
            model, config = start.model, replace(start.config, model_id=a.model_id, threshold=0.5, uncertain_band=(0.4, 0.6),
                                                 photo_threshold=None, photo_uncertain_band=None, temporal=None,
                                                 extra={"init": str(a.init)})
        a.arch, a.size, a.margin = config.architecture, config.input_size, config.crop_margin
    else:
        model = create_model(a.arch, a.pretrained if a.pretrained and a.pretrained.is_file() else None)
        cfg = model.pretrained_cfg
        config = DetectorConfig(architecture=a.arch, input_size=a.size, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                                crop_margin=a.margin, target_layer=default_target_layer(a.arch, model), model_id=a.model_id)
    had_head = bool(config.mask_head)
    if a.mask_weight > 0 and (a.new_mask_head or not config.mask_head):
        old = config.mask_head
        layer, deep = (old.layer, old.deep_layer) if old and not a.mask_deep_layer else ("blocks.4", a.mask_deep_layer)
        config = replace(config, mask_head=add_mask_head(model, layer, deep_layer=deep))
    if a.mask_weight > 0:
        extra = {k: v for k, v in config.extra.items() if not (a.head_only and k == "faithfulness")}  # a new map: measure it again
        config = replace(config, extra={**extra, "mask_head_target": a.mask_target, "mask_head_dice": a.mask_dice,
                                        "mask_head_real_weight": a.mask_real_weight,
                                        "mask_head_start": "new" if a.new_mask_head or not had_head else "the --init head"})
    mask_head = config.mask_head if a.mask_weight > 0 else None
    if a.head_only and not (a.init and mask_head):
        raise LabError("--head-only needs --init (the detector to keep) and --mask-weight > 0")
    model = model.to(memory_format=torch.channels_last)
    set_train_mode(model, a.head_only)
    if a.head_only:
        model.requires_grad_(False)
        model.mask_head.requires_grad_(True)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, weight_decay=1e-4)
    warm = max(1, min(200, a.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps))))
    step, history, ckpt = 0, [], a.run_dir / "last.pt"
    steps_key, history_key = ("mask_head_steps", "mask_head_history") if a.head_only else ("steps", "history")
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, history = int(state["step"]), json.loads(state["history"])
        print(f"[train] resumed at step {step}", flush=True)
    state_seen = step * 2 * a.batch

    bf16 = a.precision == "bf16"
    mix = BlendMix.parse(a.blend_kinds, a.cross_frame)
    print(f"[train] blends {dict(mix.kinds)}, cross-frame {mix.cross_frame:.2f}, precision {a.precision}", flush=True)
    val = validation_set(val_set, a.val_pairs, a.size, a.margin)
    extra_val = {k: validation_set(val_set, a.val_pairs // 2, a.size, a.margin, seed=4321, kind="face" if k == "cross" else k,
                                   cross_frame=k == "cross")
                 for k in filter(None, a.val_kinds.split(",")) if k != "face"}
    dev = None  # loaded at the first evaluation where the file exists (it may still be being written)
    if a.eval_only:
        m = evaluate(model, *val, config.mean, config.std, mask_head, bf16=bf16, mask_target=a.mask_target)
        m.update({f"sbi_auc_{k}": evaluate(model, *v, config.mean, config.std, None, bf16=bf16)["sbi_auc"] for k, v in extra_val.items()})
        if a.dev_crops:
            m.update(DevCrops.load(a.dev_crops).evaluate(model, config, bf16))
        print("[val] " + json.dumps(m), flush=True)
        return
    weights = None
    if a.hard_reals > 0:
        cached = a.run_dir / "real_scores.npy"
        if not cached.is_file():
            tq = time.time()
            np.save(cached, real_scores(model, train_set, a.size, a.margin, config.mean, config.std, bf16))
            print(f"[train] scored {len(train_set.names)} real training crops with the starting model in {time.time() - tq:.0f} s", flush=True)
        rs = np.load(cached)
        weights = 1.0 + a.hard_reals * rs
        print(f"[train] hard reals: {(rs >= 0.5).mean():.1%} of real crops score >= 0.5; drawn with weight 1 + {a.hard_reals} x P(fake)", flush=True)
        set_train_mode(model, a.head_only)
    loader = DataLoader(PairStream(train_set, a.size, a.margin, a.seed + step, a.video_share,
                                   a.degrade if a.degrade != "standard" else False, mix, weights),
                        batch_size=a.batch, num_workers=a.workers, persistent_workers=a.workers > 0)
    lossf = torch.nn.BCEWithLogitsLoss()
    t0, seen, run_loss, waited = time.time(), 0, [], 0.0
    t_wait = time.time()

    def save_checkpoint():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "step": step, "history": json.dumps(history)}, a.run_dir / "tmp.pt")
        (a.run_dir / "tmp.pt").replace(ckpt)

    for reals, fakes, masks in loader:
        waited += time.time() - t_wait
        x, y = to_batch(reals, fakes, config.mean, config.std)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if mask_head:
                logits, mlog = forward_with_mask(model, mask_head, x)
                tgt = mask_targets(masks, len(reals), mlog.shape[-2:], a.mask_target)
                w = torch.ones(len(tgt), 1, 1, 1)
                w[:len(reals)] = a.mask_real_weight  # the reals' all-zero maps
                loss = lossf(logits.float(), y) + a.mask_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                    mlog.float(), tgt, weight=w.expand_as(tgt))
                if a.mask_dice:
                    loss = loss + a.mask_dice * soft_dice_loss(mlog[len(reals):], tgt[len(reals):])
            else:
                loss = lossf(model(x).float().view(-1), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        seen += len(y)
        run_loss.append(loss.item())
        out_of_time = a.minutes and (time.time() - t0) > a.minutes * 60
        if step % 25 == 0:
            el = time.time() - t0
            print(f"[train] step {step}/{a.steps} loss {np.mean(run_loss[-25:]):.4f} lr {sched.get_last_lr()[0]:.2e} "
                  f"{seen / el:.1f} img/s (waiting for data {waited / el:.0%}) elapsed {el / 60:.1f} min", flush=True)
        if step % a.eval_every == 0 or step >= a.steps or out_of_time:
            m = evaluate(model, *val, config.mean, config.std, mask_head, bf16=bf16, mask_target=a.mask_target)
            for k, v in extra_val.items():
                m[f"sbi_auc_{k}"] = evaluate(model, *v, config.mean, config.std, None, bf16=bf16)["sbi_auc"]
            if dev is None and a.dev_crops and a.dev_crops.is_file():
                dev = DevCrops.load(a.dev_crops)
            if dev is not None:
                m.update(dev.evaluate(model, config, bf16))
            set_train_mode(model, a.head_only)
            m.update(step=step, minutes=round((time.time() - t0) / 60, 2), loss=float(np.mean(run_loss[-a.eval_every:])),
                     images_per_s=round(seen / (time.time() - t0), 2), images_seen=int(state_seen + seen))
            history.append(m)
            print("[val] " + json.dumps(m), flush=True)
            save_checkpoint()
            save_detector(model, a.run_dir / "export", replace(config, extra={**config.extra, steps_key: step, history_key: history}))
        if step >= a.steps or out_of_time:
            break
        t_wait = time.time()
    save_detector(model, a.out, replace(config, extra={**config.extra, steps_key: step, history_key: history}))
    (a.run_dir / "history.json").write_text(json.dumps(history, indent=2))
    print(f"[train] saved {a.out} after {step} steps", flush=True)


if __name__ == "__main__":
    main()
