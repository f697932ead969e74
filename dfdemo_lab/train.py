"""``python -m dfdemo_lab train``: train the detector on real faces only with Self-Blended Images.

Recipe: cache → split (by clip / by person) → seeded SBI pairs → timm classifier from
ImageNet (``--pretrained FILE``) or from a weights folder (``--init``) → AdamW + cosine
schedule → validation AUC on fixed held-out SBI pairs → fp16 safetensors in the
``save_detector`` layout, loadable by ``scan`` unchanged. Resumable: the last checkpoint in
``--run-dir`` is picked up again.

``main`` parses the options into a ``TrainConfig``; ``train(config)`` is the recipe, one
small step per function (``build_run``, ``held_out``, ``pair_loader``, ``fit`` →
``train_step`` / ``record_evaluation``, ``save_checkpoint`` / ``resume``, ``export``).
The data recipes (crops, pairs, the stream) are in ``dfdemo_lab.data``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from dfdemo.detector import DetectorConfig, load_detector, mask_probabilities, save_detector
from dfdemo.model import add_mask_head, create_model, default_target_layer, forward_with_mask
from .cache import CACHE_MARGIN
from .data import BlendMix, CropSet, PairStream, to_batch, validation_set
from .errors import LabError, require_cache, require_pretrained
from .evaluate import DevCrops
from .metrics import MASK_TARGETS, boundary_band, mask_iou, mask_target, roc_auc
from .sbi import BLEND_KINDS, reframe


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings: the options of ``python -m dfdemo_lab train`` (same names,
    same defaults; ``--help`` says what each does)."""

    cache: Path = Path("cache/faces")
    run_dir: Path = Path("runs/sbi")
    out: Path = Path("weights/detector")
    arch: str = "tf_efficientnet_lite0"
    pretrained: Path | None = None
    size: int = 224
    margin: float = 0.3
    steps: int = 3000
    batch: int = 16
    lr: float = 3e-4
    video_share: float = 0.6
    minutes: float = 0
    eval_every: int = 250
    val_pairs: int = 400
    workers: int = 1
    threads: int = 2
    seed: int = 0
    degrade: str = "standard"
    init: str | None = None
    mask_weight: float = 0.0
    mask_deep_layer: str | None = None
    head_only: bool = False
    mask_target: str = "blend"
    mask_dice: float = 0.0
    mask_real_weight: float = 1.0
    new_mask_head: bool = False
    precision: str = "bf16"
    blend_kinds: str = "face:1"
    cross_frame: float = 0.0
    val_kinds: str = "face"
    hard_reals: float = 0.0
    model_id: str = ""
    eval_only: bool = False
    dev_crops: Path | None = None

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"


@dataclass
class Run:
    """What a run trains and how far it is: the network, the detector config saved with it, the
    learned map's config block when the map is trained, the optimiser and schedule, the steps
    done and one evaluation record per evaluation."""

    model: torch.nn.Module
    config: DetectorConfig
    mask_head: object | None
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    step: int = 0
    history: list[dict] = field(default_factory=list)


@dataclass
class Meter:
    """This session's wall clock, images and losses (a resumed run counts from its restart)."""

    images_before: int
    t0: float = field(default_factory=time.time)
    seen: int = 0
    waited: float = 0.0
    losses: list[float] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.time() - self.t0

    def out_of_time(self, minutes: float) -> bool:
        return bool(minutes) and self.elapsed() > minutes * 60


@dataclass
class HeldOut:
    """What every evaluation scores: the fixed whole-face pairs, the other kinds' pairs and the
    dev-eval crops (read at the first evaluation where the file exists: it may still be being
    written when training starts)."""

    pairs: tuple
    kinds: dict[str, tuple]
    dev_crops: Path | None = None
    dev: DevCrops | None = None

    def measure(self, run: Run, c: TrainConfig) -> dict:
        mean, std = run.config.mean, run.config.std
        m = evaluate(run.model, *self.pairs, mean, std, run.mask_head, bf16=c.bf16, mask_target=c.mask_target)
        for k, v in self.kinds.items():
            m[f"sbi_auc_{k}"] = evaluate(run.model, *v, mean, std, None, bf16=c.bf16)["sbi_auc"]
        if self.dev is None and self.dev_crops and self.dev_crops.is_file():
            self.dev = DevCrops.load(self.dev_crops)
        if self.dev is not None:
            m.update(self.dev.evaluate(run.model, run.config, c.bf16))
        return m


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


def build_model(c: TrainConfig) -> tuple[torch.nn.Module, DetectorConfig]:
    """The starting network and its config: a weights folder (``--init``), or the timm
    architecture from its ImageNet state dict (``--pretrained``)."""
    if not c.init:
        model = create_model(c.arch, require_pretrained(c.pretrained, c.arch))
        cfg = model.pretrained_cfg
        return model, DetectorConfig(architecture=c.arch, input_size=c.size, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                                     crop_margin=c.margin, target_layer=default_target_layer(c.arch, model), model_id=c.model_id)
    start = load_detector(c.init)
    if c.head_only:  # the classifier is kept as it is: so are its calibration and history
        return start.model, replace(start.config, model_id=c.model_id,
                                    extra={**start.config.extra, "mask_head_init": str(c.init)})
    # the backbone will change: a temporal head (trained on its embeddings) and the calibration no longer apply
    return start.model, replace(start.config, model_id=c.model_id, threshold=0.5, uncertain_band=(0.4, 0.6),
                                photo_threshold=None, photo_uncertain_band=None, temporal=None, extra={"init": str(c.init)})


def attach_mask_head(model: torch.nn.Module, config: DetectorConfig, c: TrainConfig):
    """With ``--mask-weight``: the learned map's head (a new one, or the weights' own) and its
    training settings recorded in the config. Returns (config, the head's block or None)."""
    if c.mask_weight <= 0:
        if c.head_only:
            raise LabError("--head-only needs --init (the detector to keep) and --mask-weight > 0")
        return config, None
    had_head = bool(config.mask_head)
    if c.new_mask_head or not config.mask_head:
        old = config.mask_head
        layer, deep = (old.layer, old.deep_layer) if old and not c.mask_deep_layer else ("blocks.4", c.mask_deep_layer)
        config = replace(config, mask_head=add_mask_head(model, layer, deep_layer=deep))
    extra = {k: v for k, v in config.extra.items() if not (c.head_only and k == "faithfulness")}  # a new map: measure it again
    config = replace(config, extra={**extra, "mask_head_target": c.mask_target, "mask_head_dice": c.mask_dice,
                                    "mask_head_real_weight": c.mask_real_weight,
                                    "mask_head_start": "new" if c.new_mask_head or not had_head else "the --init head"})
    if c.head_only and not c.init:
        raise LabError("--head-only needs --init (the detector to keep) and --mask-weight > 0")
    return config, config.mask_head


def make_optimiser(model: torch.nn.Module, c: TrainConfig):
    """AdamW (weight decay 1e-4) on what trains, warm-up over a tenth of the steps (at most
    200), then cosine to 0 at ``--steps``."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=c.lr, weight_decay=1e-4)
    warm = max(1, min(200, c.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / c.steps))))
    return opt, sched


def build_run(c: TrainConfig) -> Run:
    """Model → learned-map head → what trains → optimiser, then the run folder's checkpoint if any."""
    model, config = build_model(c)
    config, mask_head = attach_mask_head(model, config, c)
    model = model.to(memory_format=torch.channels_last)
    set_train_mode(model, c.head_only)
    if c.head_only:
        model.requires_grad_(False)
        model.mask_head.requires_grad_(True)
    run = Run(model, config, mask_head, *make_optimiser(model, c))
    resume(run, c.run_dir)
    return run


def save_checkpoint(run: Run, run_dir: Path) -> None:
    """``run_dir/last.pt``: model, optimiser and schedule states, the step and the history
    (written to ``tmp.pt`` first, then renamed: a stopped run never leaves half a checkpoint)."""
    torch.save({"model": run.model.state_dict(), "opt": run.opt.state_dict(), "sched": run.sched.state_dict(),
                "step": run.step, "history": json.dumps(run.history)}, run_dir / "tmp.pt")
    (run_dir / "tmp.pt").replace(run_dir / "last.pt")


def resume(run: Run, run_dir: Path) -> None:
    """Pick up ``run_dir/last.pt`` (``save_checkpoint``) where there is one."""
    ckpt = run_dir / "last.pt"
    if not ckpt.is_file():
        return
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["opt"])
    run.sched.load_state_dict(state["sched"])
    run.step, run.history = int(state["step"]), json.loads(state["history"])
    print(f"[train] resumed at step {run.step}", flush=True)


def export(run: Run, folder: Path, head_only: bool) -> Path:
    """The weights folder (``save_detector``) with the steps and history in its config (under
    ``mask_head_*`` keys for a head-only run: the classifier's own record stays)."""
    steps_key, history_key = ("mask_head_steps", "mask_head_history") if head_only else ("steps", "history")
    return save_detector(run.model, folder, replace(run.config, extra={**run.config.extra, steps_key: run.step,
                                                                        history_key: run.history}))


def held_out(val_set: CropSet, config: DetectorConfig, c: TrainConfig) -> HeldOut:
    """The fixed validation pairs: whole-face blends (seed 1234) and half as many of each other
    ``--val-kinds`` kind (seed 4321; ``cross`` = cross-frame whole face)."""
    size, margin = config.input_size, config.crop_margin
    kinds = {k: validation_set(val_set, c.val_pairs // 2, size, margin, seed=4321, kind="face" if k == "cross" else k,
                               cross_frame=k == "cross")
             for k in filter(None, c.val_kinds.split(",")) if k != "face"}
    return HeldOut(validation_set(val_set, c.val_pairs, size, margin), kinds, c.dev_crops)


def hard_real_weights(run: Run, train_set: CropSet, c: TrainConfig) -> np.ndarray | None:
    """``--hard-reals``: each crop's draw weight 1 + w × P(fake) by the starting model (scored
    once, cached in the run folder); None = uniform."""
    if c.hard_reals <= 0:
        return None
    cached = c.run_dir / "real_scores.npy"
    if not cached.is_file():
        tq = time.time()
        np.save(cached, real_scores(run.model, train_set, run.config.input_size, run.config.crop_margin, run.config.mean,
                                    run.config.std, c.bf16))
        print(f"[train] scored {len(train_set.names)} real training crops with the starting model in {time.time() - tq:.0f} s", flush=True)
    rs = np.load(cached)
    print(f"[train] hard reals: {(rs >= 0.5).mean():.1%} of real crops score >= 0.5; drawn with weight 1 + {c.hard_reals} x P(fake)", flush=True)
    set_train_mode(run.model, c.head_only)
    return 1.0 + c.hard_reals * rs


def pair_loader(train_set: CropSet, run: Run, c: TrainConfig, mix: BlendMix, weights: np.ndarray | None) -> DataLoader:
    """Batches of ``--batch`` (real, fake, mask) pairs; the stream's seed moves on with the step
    so that a resumed run does not replay the pairs it already saw."""
    stream = PairStream(train_set, run.config.input_size, run.config.crop_margin, c.seed + run.step, c.video_share,
                        c.degrade if c.degrade != "standard" else False, mix, weights)
    return DataLoader(stream, batch_size=c.batch, num_workers=c.workers, persistent_workers=c.workers > 0)


def pair_loss(run: Run, x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor, n_real: int, c: TrainConfig) -> torch.Tensor:
    """BCE of the fake score; with the learned map also ``--mask-weight`` × its BCE against
    ``mask_targets`` (the reals' maps weighted ``--mask-real-weight``) + ``--mask-dice`` × soft Dice."""
    lossf = torch.nn.BCEWithLogitsLoss()
    if not run.mask_head:
        return lossf(run.model(x).float().view(-1), y)
    logits, mlog = forward_with_mask(run.model, run.mask_head, x)
    tgt = mask_targets(masks, n_real, mlog.shape[-2:], c.mask_target)
    w = torch.ones(len(tgt), 1, 1, 1)
    w[:n_real] = c.mask_real_weight  # the reals' all-zero maps
    loss = lossf(logits.float(), y) + c.mask_weight * torch.nn.functional.binary_cross_entropy_with_logits(
        mlog.float(), tgt, weight=w.expand_as(tgt))
    if c.mask_dice:
        loss = loss + c.mask_dice * soft_dice_loss(mlog[n_real:], tgt[n_real:])
    return loss


def train_step(run: Run, reals: torch.Tensor, fakes: torch.Tensor, masks: torch.Tensor, c: TrainConfig) -> float:
    """One optimiser step on a batch of pairs; returns its loss."""
    x, y = to_batch(reals, fakes, run.config.mean, run.config.std)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=c.bf16):
        loss = pair_loss(run, x, y, masks, len(reals), c)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.sched.step()
    run.step += 1
    return loss.item()


def record_evaluation(run: Run, held: HeldOut, meter: Meter, c: TrainConfig) -> None:
    """Score the held-out pairs (and dev crops), append the record to the history, print it,
    write the checkpoint and the run folder's ``export`` weights."""
    m = held.measure(run, c)
    set_train_mode(run.model, c.head_only)
    m.update(step=run.step, minutes=round(meter.elapsed() / 60, 2), loss=float(np.mean(meter.losses[-c.eval_every:])),
             images_per_s=round(meter.seen / meter.elapsed(), 2), images_seen=int(meter.images_before + meter.seen))
    run.history.append(m)
    print("[val] " + json.dumps(m), flush=True)
    save_checkpoint(run, c.run_dir)
    export(run, c.run_dir / "export", c.head_only)


def fit(run: Run, loader: DataLoader, held: HeldOut, c: TrainConfig) -> None:
    """Steps until ``--steps`` or ``--minutes``; progress every 25 steps; an evaluation and a
    checkpoint every ``--eval-every`` steps and at the end."""
    meter = Meter(images_before=run.step * 2 * c.batch)
    t_wait = time.time()
    for reals, fakes, masks in loader:
        meter.waited += time.time() - t_wait
        meter.losses.append(train_step(run, reals, fakes, masks, c))
        meter.seen += len(reals) + len(fakes)
        out_of_time = meter.out_of_time(c.minutes)
        if run.step % 25 == 0:
            el = meter.elapsed()
            print(f"[train] step {run.step}/{c.steps} loss {np.mean(meter.losses[-25:]):.4f} lr {run.sched.get_last_lr()[0]:.2e} "
                  f"{meter.seen / el:.1f} img/s (waiting for data {meter.waited / el:.0%}) elapsed {el / 60:.1f} min", flush=True)
        if run.step % c.eval_every == 0 or run.step >= c.steps or out_of_time:
            record_evaluation(run, held, meter, c)
        if run.step >= c.steps or out_of_time:
            break
        t_wait = time.time()


def train(c: TrainConfig) -> Path | None:
    """The recipe: data → model and optimiser (resumed) → held-out pairs → loop → weights at
    ``c.out`` (returned). ``eval_only``: score the starting model, print, return None."""
    require_cache(c.cache)
    if not c.init:
        require_pretrained(c.pretrained, c.arch)  # before anything is written
    torch.manual_seed(c.seed)
    torch.set_num_threads(c.threads)
    c.run_dir.mkdir(parents=True, exist_ok=True)
    train_set, val_set = CropSet.load(c.cache, "train"), CropSet.load(c.cache, "val")
    print(f"[train] {len(train_set.names)} train crops ({train_set.is_video.sum()} video frames), "
          f"{len(val_set.names)} validation crops", flush=True)
    run = build_run(c)
    mix = BlendMix.parse(c.blend_kinds, c.cross_frame)
    print(f"[train] blends {dict(mix.kinds)}, cross-frame {mix.cross_frame:.2f}, precision {c.precision}", flush=True)
    held = held_out(val_set, run.config, c)
    if c.eval_only:
        held.dev = DevCrops.load(c.dev_crops) if c.dev_crops else None
        print("[val] " + json.dumps(held.measure(run, c)), flush=True)
        return None
    loader = pair_loader(train_set, run, c, mix, hard_real_weights(run, train_set, c))
    fit(run, loader, held, c)
    out = export(run, c.out, c.head_only)
    (c.run_dir / "history.json").write_text(json.dumps(run.history, indent=2))
    print(f"[train] saved {c.out} after {run.step} steps", flush=True)
    return out


def parser() -> argparse.ArgumentParser:
    """The options of ``python -m dfdemo_lab train``; their defaults are ``TrainConfig``'s."""
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab train", description=__doc__)
    ap.add_argument("--cache", type=Path, help="crop cache from python -m dfdemo_lab cache")
    ap.add_argument("--run-dir", type=Path, help="checkpoints and log (resumes from here)")
    ap.add_argument("--out", type=Path, help="where the final weights are saved")
    ap.add_argument("--arch")
    ap.add_argument("--pretrained", type=Path,
                    help="the ImageNet state dict (timm) the network starts from when there is no --init, e.g. "
                         "../shared/pretrained/timm_tf_efficientnet_lite0_imagenet.pth (no default: it lives outside the repository)")
    ap.add_argument("--size", type=int)
    ap.add_argument("--margin", type=float, help="crop margin around the face box (same as inference)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int, help="pairs per step (2x images)")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--video-share", type=float, help="share of pairs drawn from video frames")
    ap.add_argument("--minutes", type=float, help="stop (and save) after this many minutes; 0 = no limit")
    ap.add_argument("--eval-every", type=int)
    ap.add_argument("--val-pairs", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--degrade", choices=("standard", "strong", "varied"),
                    help="video degradations of both classes; strong adds heavy whole-face blur half of the time, "
                         "varied adds upscaling, beauty smoothing, over-sharpening or studio contrast half of the time")
    ap.add_argument("--init", help="start from this weights folder instead of ImageNet (fine-tuning)")
    ap.add_argument("--mask-weight", type=float,
                    help="> 0 adds the learned manipulation map head, trained on the SBI blend masks with this loss weight")
    ap.add_argument("--mask-deep-layer",
                    help="the mask head also reads this (stride-32) layer, e.g. bn2: the features the fake score is made of")
    ap.add_argument("--head-only", action="store_true",
                    help="with --init and --mask-weight: train the mask head alone on the frozen detector "
                         "(the classifier, hence its scores and threshold, stay exactly as they were)")
    ap.add_argument("--mask-target", choices=MASK_TARGETS,
                    help="what the learned map is trained to draw on the fakes (reals: all zero): blend = the blend mask "
                         "times the blend ratio (v1-v3), region = the replaced region whatever the ratio, boundary = "
                         "Face X-ray's 4*N*(1-N) of the normalised mask at the map's grid")
    ap.add_argument("--mask-dice", type=float,
                    help="weight of a soft-Dice loss on the fakes' maps, added to the mask BCE (0 = BCE only)")
    ap.add_argument("--mask-real-weight", type=float,
                    help="weight of the real faces' (all-zero) maps in the mask BCE; > 1 asks for quieter maps on real faces")
    ap.add_argument("--new-mask-head", action="store_true",
                    help="with --init: replace the weights' learned-map head by a freshly initialised one (same layers)")
    ap.add_argument("--precision", choices=("bf16", "fp32"),
                    help="bf16: torch.autocast to bfloat16 on the CPU (AVX-512 BF16 / AMX); fp32: plain float32")
    ap.add_argument("--blend-kinds",
                    help="self-blend regions and their weights, e.g. face:0.5,lower:0.2,eyes:0.15,inner:0.15 "
                         f"(kinds: {', '.join(BLEND_KINDS)})")
    ap.add_argument("--cross-frame", type=float,
                    help="share of video pairs blended from another, landmark-aligned frame of the same clip")
    ap.add_argument("--val-kinds",
                    help="held-out SBI pairs are also scored per kind (comma list; 'cross' = cross-frame whole face)")
    ap.add_argument("--hard-reals", type=float,
                    help="oversample real crops the starting model scores high: a crop is drawn with weight 1 + this x P(fake) "
                         "(scores cached in --run-dir); 0 = uniform")
    ap.add_argument("--model-id", help="the name reports show for these weights (default: the folder they are loaded from)")
    ap.add_argument("--eval-only", action="store_true",
                    help="score the starting model (--init) on the held-out SBI pairs (and --dev-crops), print, and stop")
    ap.add_argument("--dev-crops", type=Path,
                    help="face crops of the dev-eval (python -m dfdemo_lab eval --save-crops): its AUC is printed at every "
                         "evaluation (measurement only: never trained on, never used to pick the weights)")
    ap.set_defaults(**{f.name: f.default for f in fields(TrainConfig)})
    return ap


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    return TrainConfig(**vars(parser().parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
