"""``python -m dfdemo_lab learn-kinds``: learn from real generator outputs what self-blending cannot simulate.

Two supervised checks beside the blending one, each a linear head on the frozen detector's
pooled activations (the blending score, its cuts and its heatmaps do not move):

- ``synthesis`` ("Generator traces", v2): one logit per face crop from the scoring pass's own
  activations (no extra pass). Learned from faces drawn whole by generators (StyleGAN2,
  StyleGAN2-ADA, R3GAN stills, a diffusion edit) against real photos of the same
  normalisation (FFHQ portraits, LFW, other repositories' photos) and real video frames; every
  photo of either class also shrunk (face 40-160 px) and shrunk-then-enlarged, so that size
  and resampling say nothing about the label.
- ``animation`` ("Lip-sync / face animation"): one logit per face *track* of a video
  (``dfdemo.heads.TrackHead``): the mean and the spread over the track's frames of the
  face's activations and of the mouth's (``dfdemo.faces.mouth_crop``, a second pass at
  ``MOUTH_SIZE`` px), and with ``--motion-weight-decay`` of the mouth's change from each
  sampled frame to the next one (``dfdemo.faces.mouth_motion``, no extra pass). Learned from
  lip-sync and face-animation outputs (Wav2Lip and forks, LatentSync, FOMM, SadTalker-style
  heads, …) against real talking clips.

Steps: ``extract`` (faces and features of every labelled file, ``kinds_features``; resumable),
then ``fit``: every number is **out of fold** (``realfakes``: folds by source, a file scored by
heads that never saw its source), each check's cut is set on the out-of-fold scores of the real
media so that it adds at most ``--extra-fpr`` false alarms to the checks before it (blending,
then lip-sync, then generator traces), the blending check's photo cut is re-set on held-out
LFW people and FFHQ portraits, and with ``--save DIR`` the final heads (fitted on every fold)
are written with their cuts and records into a copy of ``--weights``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dfdemo.analyzer import aggregate  # a track's score as the product makes it
from dfdemo.config import MIN_TRACK_FRAMES, SynthesisConfig, band_for, load_config, threshold_for
from dfdemo.detector import load_detector
from dfdemo.faces import MOTION_DIMS
from dfdemo.heads import SynthesisHead, TrackHead
from dfdemo.media import probe, sample_indices
from dfdemo.model import channels
from dfdemo.sampling import reads_mouth
from dfdemo.weights import resolve_weights, save_detector

from .cache import split_of
from .calibrate import added_cut
from .errors import LabError, add_shared_option
from .kinds_features import LAYERS, MOUTH_SIZE, SPREAD, VARIANTS, cache_path, load
from .metrics import bootstrap_auc, roc_auc
from .realfakes import Item, collect

FAMILY = {"synthesis": "generated", "animation": "animation"}
PORTRAITS = ("ffhq", "dev-eval/synthesis")
OPERATING_POINTS = (0.01, 0.02, 0.03, 0.05, 0.08)  # shares of false alarms the lip-sync check may add on real clips


@dataclass
class FileRows:
    """The per-crop features of one (file, variant)."""

    item: Item
    variant: str
    face: np.ndarray  # (N, D) float32
    mouth: np.ndarray  # (N, D) float32
    track: np.ndarray  # (N,)
    blend: np.ndarray  # (N,) the blending check's P(fake)
    face_px: np.ndarray  # (N,) the face box's larger side in the frame
    motion: np.ndarray | None = None  # (N, MOTION_DIMS) the mouth's change to the next frame, when the fit reads it


def load_rows(items: list[Item], out: Path, mouth_columns: np.ndarray | None = None, motion: bool = False,
              mouth_every: int = 1, frames: int = 8) -> list[FileRows]:
    """The cached features of every (item, variant); of the mouth's, ``mouth_columns`` only
    (``pooled_columns``; default: all); with ``motion``, the clips' mouth motion too. With
    ``mouth_every`` N > 1 a clip's mouth and motion are kept only on every N-th of its
    ``frames`` sampled frames, as the product reads them (``mouth_read``); NaN elsewhere."""
    rows = []
    for it in items:
        for v in (VARIANTS if it.kind == "image" else ("orig",)):
            p = cache_path(out, it, v)
            f = load(p) if p.is_file() else None
            if f is not None:
                mouth = f.mouth if mouth_columns is None else f.mouth[:, mouth_columns]
                if motion and it.kind == "video" and f.motion is None:
                    raise LabError(f"{p}: no mouth motion in this cache (older extract): run learn-kinds extract into a new --out")
                mouth, moved = mouth.astype(np.float32), f.motion if motion and it.kind == "video" else None
                if it.kind == "video" and mouth_every > 1:
                    unread = ~mouth_read(it, f.frame, frames, mouth_every)
                    mouth[unread] = np.nan
                    if moved is not None:
                        moved = moved.copy()
                        moved[unread] = np.nan
                rows.append(FileRows(it, v, f.face.astype(np.float32), mouth, f.track, f.blend, np.exp(f.sharp[:, 3]), moved))
    return rows


def mouth_read(item: Item, frame: np.ndarray, frames: int, every: int) -> np.ndarray:
    """Which of a clip's cached rows the product reads the mouth of, reading it on every
    ``every``-th of ``frames`` sampled frames (``sampling.reads_mouth``, the product's rule):
    each row's frame index placed among the sampled ones (``media.sample_indices``)."""
    wanted = np.array(sample_indices(probe(item.path).frame_count, frames))
    ordinal = np.searchsorted(wanted, frame).clip(0, max(len(wanted) - 1, 0))
    if not len(wanted) or (wanted[ordinal] != frame).any():
        raise LabError(f"{item.path}: the cached frames are not the {frames} sampled now (--frames as at extract?)")
    return reads_mouth(ordinal, every)


def pooled_columns(channels: dict[str, int], layers: tuple[str, ...]) -> np.ndarray:
    """Where ``layers``' numbers sit among the cached features (``heads.pool`` over ``LAYERS``,
    ``SPREAD``: per layer its mean, then its spread for a ``SPREAD`` layer); ``channels``: each
    layer's channel count."""
    at, cols = 0, []
    for name in LAYERS:
        width = channels[name] * (2 if name in SPREAD else 1)
        if name in layers:
            cols.extend(range(at, at + width))
        at += width
    return np.array(cols)


def layer_channels(weights: str | None) -> dict[str, int]:
    """Each of ``LAYERS``' channel count in the detector's scoring pass (``model.channels``)."""
    return channels(load_detector(weights).scorer, LAYERS)


def tracks_of(r: FileRows, min_crops: int = 1) -> list[np.ndarray]:
    """Each face track's rows (the tracks seen in at least ``min_crops`` frames)."""
    return [r.track == t for t in np.unique(r.track) if (r.track == t).sum() >= min_crops]


def summary(r: FileRows, rows: np.ndarray, motion: bool = True) -> np.ndarray:
    """A track's summary as the product's ``TrackHead`` reads it: the face's, the mouth's and
    (when loaded, and with ``motion``) the mouth motion's features of ``rows``."""
    parts = [r.face[rows], r.mouth[rows]] + ([r.motion[rows]] if motion and r.motion is not None else [])
    return TrackHead.summary(torch.from_numpy(np.concatenate(parts, 1))).numpy()


def in_training(check: str, r: FileRows) -> bool:
    """Which files a check learns from: its family's fakes against the reals of the media it judges."""
    if check == "animation" and (r.item.kind != "video" or r.variant != "orig"):
        return False
    return r.item.label == 0 or r.item.family == FAMILY[check]


def main_track(r: FileRows) -> np.ndarray | None:
    """A file's main face track (the one seen most), or None when it is seen in fewer than
    ``MIN_TRACK_FRAMES`` frames (the lip-sync check abstains on it)."""
    main = max(tracks_of(r), key=lambda m: m.sum())
    return None if main.sum() < MIN_TRACK_FRAMES else main


def main_track_summary(r: FileRows) -> np.ndarray | None:
    """The track head's own input: the main track's face and mouth (not the motion, a term of its own)."""
    main = main_track(r)
    return None if main is None else summary(r, main, motion=False)[None]


def main_track_motion(r: FileRows) -> np.ndarray | None:
    """The motion term's input: the mean and spread of the main track's mouth motion (None
    where no frame of it had a next frame)."""
    main = main_track(r)
    if main is None or r.motion is None or np.isnan(r.motion[main]).all(axis=0).any():
        return None
    return TrackHead.summary(torch.from_numpy(r.motion[main])).numpy()[None]


def main_track_mouths(r: FileRows) -> np.ndarray | None:
    """The mouth crops' features of the main track, those read (``--mouth-every``) only."""
    main = main_track(r)
    return None if main is None else r.mouth[main & ~np.isnan(r.mouth).any(1)]


def training_set(rows: list[FileRows], check: str, per_file=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, weight): each training file's rows of features (``per_file``; by default its crops
    for synthesis, its main face track's summary for animation; None leaves the file out); each
    file weighs one in all, each class half of the total."""
    per_file = per_file or (main_track_summary if check == "animation" else (lambda r: r.face))
    xs, ys, ws = [], [], []
    for r in rows:
        x = per_file(r) if in_training(check, r) else None
        if x is None:
            continue
        xs.append(x)
        ys.append(np.full(len(x), r.item.label))
        ws.append(np.full(len(x), 1.0 / len(x)))
    if len({int(y[0]) for y in ys}) < 2:
        raise LabError(f"{check}: needs fakes of its family and reals to learn from")
    x, y, w = np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(ws)
    for c in (0, 1):
        w[y == c] /= w[y == c].sum()
    return x, y, w


def fit_head(check: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, weight_decay: float, steps: int = 200):
    """Weighted logistic regression on standardised features (L-BFGS, L2) into the product's head."""
    dims = x.shape[1]
    head = TrackHead(dims // 2) if check == "animation" else SynthesisHead(dims)
    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y).float(), torch.from_numpy(w).float()
    mean = (xt * wt[:, None]).sum(0) / wt.sum()
    head.mean.copy_(mean)
    head.std.copy_((((xt - mean) ** 2 * wt[:, None]).sum(0) / wt.sum()).sqrt().clamp_min(1e-4))
    opt = torch.optim.LBFGS(head.linear.parameters(), lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(head(xt), yt, reduction="none") * wt).sum()
        loss = loss + weight_decay * head.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head.eval()


@torch.no_grad()
def with_terms(head: TrackHead, terms: list[tuple[SynthesisHead, np.ndarray]], wider: int = 0) -> TrackHead:
    """One TrackHead whose logit is the mean of ``head``'s and of each term's logit. A term is a
    linear head on some columns of the track's summary (``columns``); the summary may be of crops
    ``wider`` features wider than ``head``'s (features appended after its own, as the mouth's
    motion after the mouth). Linear, so every term folds into the one head the product loads:
    the mouth-crop term (a crop-level head whose mean over a track reads only the mean of the
    mouth's activations) and the motion term (a head on the motion's mean and spread). A column
    new to ``head`` takes its term's standardisation, so that a feature not measured (NaN, read
    as 0 once standardised) leaves the term at its training mean. The face part, which Grad-CAM
    explains, keeps its weights, divided like the rest."""
    d0 = head.mean.numel() // 2
    d1 = d0 + wider
    old = torch.from_numpy(np.r_[np.arange(d0), d1 + np.arange(d0)])  # TrackHead.summary: [means, spreads]
    folded = TrackHead(d1)
    folded.mean[old], folded.std[old] = head.mean, head.std
    folded.linear.weight.zero_()
    folded.linear.weight[0, old] = head.linear.weight[0]
    folded.linear.bias.copy_(head.linear.bias)
    fresh = torch.ones(2 * d1, dtype=torch.bool)
    fresh[old] = False
    for term, columns in terms:
        cols = torch.as_tensor(np.asarray(columns))
        new = fresh[cols]
        folded.mean[cols[new]], folded.std[cols[new]] = term.mean[new], term.std[new]
        w = term.linear.weight[0] / term.std
        folded.linear.weight[0, cols] += folded.std[cols] * w
        folded.linear.bias += term.linear.bias + ((folded.mean[cols] - term.mean) * w).sum()
    folded.linear.weight /= len(terms) + 1
    folded.linear.bias /= len(terms) + 1
    return folded.eval()


def fit_check(check: str, rows: list[FileRows], weight_decay: float, mouth_decay: float | None = None,
              motion_decay: float | None = None):
    """A check's head fitted on ``rows``; the lip-sync check with ``mouth_decay`` also learns a
    crop-level mouth term (``--mouth-crop-weight-decay``), with ``motion_decay`` a term on the
    mouth's change to the next frame (``--motion-weight-decay``), both folded into its track
    head (``with_terms``: the mean of the logits)."""
    head = fit_head(check, *training_set(rows, check), weight_decay)
    if check != "animation":
        return head
    d0, terms, wider = head.mean.numel() // 2, [], 0
    if mouth_decay is not None:
        mouth = fit_head("synthesis", *training_set(rows, check, main_track_mouths), mouth_decay)  # every mouth crop
        terms.append((mouth, np.arange(d0 - mouth.mean.numel(), d0)))  # the mean of the mouth's activations
    if motion_decay is not None:
        wider = MOTION_DIMS
        motion = fit_head("synthesis", *training_set(rows, check, main_track_motion), motion_decay)
        d1 = d0 + wider  # TrackHead.summary of the wider crops: [means, spreads], the motion last in each
        terms.append((motion, np.r_[np.arange(d0, d1), d1 + np.arange(d0, d1)]))
    return with_terms(head, terms, wider) if terms else head


@torch.inference_mode()
def file_score(check: str, head, r: FileRows, min_frames: int = MIN_TRACK_FRAMES) -> float:
    """A file's score as the product makes it: each face track's score, the file = its most
    suspicious face (nan when the check abstains on every track; the lip-sync check judges the
    tracks seen in at least ``min_frames`` frames)."""
    if check == "animation":
        tracks = tracks_of(r, min_frames)
        if not tracks:
            return float("nan")
        return float(torch.sigmoid(head(torch.from_numpy(np.stack([summary(r, m) for m in tracks])))).max())
    p = torch.sigmoid(head(torch.from_numpy(r.face))).numpy()
    return max(aggregate(p[m]) for m in tracks_of(r))


def out_of_fold(rows: list[FileRows], check: str, weight_decay: float, mouth_decay: float | None = None,
                motion_decay: float | None = None, min_frames: int = MIN_TRACK_FRAMES) -> np.ndarray:
    """Each file's score by the head fitted without its fold (without its source)."""
    folds = np.array([r.item.fold for r in rows])
    out = np.full(len(rows), np.nan)
    for f in np.unique(folds):
        head = fit_check(check, [r for r, k in zip(rows, folds) if k != f], weight_decay, mouth_decay, motion_decay)
        for i in np.flatnonzero(folds == f):
            if check != "animation" or rows[i].item.kind == "video":
                out[i] = file_score(check, head, rows[i], min_frames)
    return out


def auc_row(scores: np.ndarray, labels: np.ndarray) -> dict:
    ok = ~np.isnan(scores)
    scores, labels = scores[ok], labels[ok]
    if len(set(labels.tolist())) < 2:
        return {}
    lo, hi = bootstrap_auc(scores, labels)
    return {"auc": round(roc_auc(scores, labels), 3), "auc_ci95": [round(lo, 3), round(hi, 3)],
            "fakes": int(labels.sum()), "reals": int((1 - labels).sum())}


def rate(hit: np.ndarray) -> dict:
    """A share with its 95 % Wilson interval."""
    n, k = len(hit), int(np.sum(hit))
    if n == 0:
        return {}
    p, z = k / n, 1.96
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"rate": round(p, 3), "ci95": [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)], "n": n}


class Table:
    """The out-of-fold scores of every (file, variant) and what they are."""

    def __init__(self, rows: list[FileRows], scores: dict[str, np.ndarray]):
        self.rows, self.scores = rows, scores
        self.label = np.array([r.item.label for r in rows])
        self.family = np.array([r.item.family for r in rows])
        self.kind = np.array([r.item.kind for r in rows])
        self.origin = np.array([r.item.origin for r in rows])
        self.variant = np.array([r.variant for r in rows])
        self.fold = np.array([r.item.fold for r in rows])
        self.method = np.array([r.item.method for r in rows])
        self.blend = np.array([max(aggregate(r.blend[m]) for m in tracks_of(r)) for r in rows])

    def sets(self) -> dict[str, np.ndarray]:
        orig, real = self.variant == "orig", self.label == 0
        portrait = real & np.isin(self.origin, PORTRAITS)
        tpdne = np.char.find(self.method, "thispersondoesnotexist") >= 0
        return {
            "generated faces vs FFHQ portraits": orig & ((self.family == "generated") | portrait),
            "  thispersondoesnotexist vs FFHQ": orig & (tpdne | portrait),
            "  other generators vs FFHQ": orig & (((self.family == "generated") & ~tpdne) | portrait),
            "generated faces vs all real photos": orig & (self.kind == "image") & ((self.family == "generated") | real),
            "generated vs FFHQ, shrunk (face 40-160 px)": (self.variant == "down") & ((self.family == "generated") | portrait),
            "generated vs FFHQ, shrunk and enlarged": (self.variant == "up") & ((self.family == "generated") | portrait),
            "lip-sync/animation vs real clips": orig & (self.kind == "video") & ((self.family == "animation") | real),
            "swaps vs real clips": orig & (self.kind == "video") & ((self.family == "swap") | real),
        }


def measure(table: Table) -> dict:
    out = {}
    for check, s in table.scores.items():
        out[check] = {name: auc_row(s[m], table.label[m]) for name, m in table.sets().items()}
    out["blending"] = {name: auc_row(table.blend[m], table.label[m]) for name, m in table.sets().items()}
    return out


def blending_photo_cut(table: Table, target: float, floor: float) -> tuple[float, dict]:
    """The blending check's photo threshold on real photos it never trained on: held-out LFW
    people, FFHQ portraits and other repositories' photos (original size), cross-validated by fold."""
    lfw_val = np.array([r.item.origin != "lfw" or split_of(f"lfw/{Path(r.item.path).parent.name}") == "val" for r in table.rows])
    m = (table.variant == "orig") & (table.kind == "image") & (table.label == 0) & lfw_val
    s, folds = table.blend[m], table.fold[m]
    t = threshold_for(s, target, floor)
    cv = np.zeros(len(s), bool)
    for f in np.unique(folds):
        cv[folds == f] = s[folds == f] >= threshold_for(s[folds != f], target, floor)
    portrait = np.isin(table.origin[m], PORTRAITS)
    return t, {"photos": int(m.sum()), "target_fpr": target, "photo_fpr": float((s >= t).mean()),
               "cross_fold_photo_fpr": float(cv.mean()), "cross_fold_portrait_fpr": rate(cv[portrait]),
               "cross_fold_lfw_fpr": rate(cv[table.origin[m] == "lfw"]), "band": list(band_for(t, s, target)),
               "cross_validation": "5 folds by source (realfakes)"}


def calibrate_checks(table: Table, clip_cut: float, photo_cut: float, extra: dict[str, float], floor: float) -> dict:
    """Each learned check's clip and photo cuts on the out-of-fold scores of real media, in
    turn: each may add at most ``extra[check]`` of false alarms to the checks before it."""
    real, orig = table.label == 0, table.variant == "orig"
    out = {}
    for kind, first in (("video", table.blend >= clip_cut), ("image", table.blend >= photo_cut)):
        m = real & (table.kind == kind) & (orig if kind == "video" else np.ones(len(real), bool))
        flagged = first[m]
        groups = [str(f) for f in table.fold[m]]
        portrait = np.isin(table.origin[m], PORTRAITS)
        for check, allowance in extra.items():
            s = table.scores[check][m]
            if np.isnan(s).all():
                continue
            y = np.nan_to_num(s, nan=0.0)
            t, cal = added_cut(flagged, y, allowance, floor, groups, "source fold")
            if kind == "image" and t is not None:  # it must hold on sharp real portraits too, not only on the mix
                tp, pcal = added_cut(flagged[portrait], y[portrait], allowance, floor,
                                     [g for g, p in zip(groups, portrait) if p], "source fold")
                if tp is None or tp > t:
                    t, cal = tp, {**pcal, "held_on": "FFHQ portraits (stricter than all real photos)"}
            out[(check, kind)] = (t, cal)
            if t is not None:
                flagged = flagged | (y >= t)
    return out


def verdict_rates(table: Table, cuts: dict, clip_cut: float, photo_cut: float) -> dict:
    """Out of fold, at the cuts: real media called fake by any check, fakes caught, per set."""
    def called(i_mask: np.ndarray, kind: str) -> np.ndarray:
        hit = table.blend[i_mask] >= (clip_cut if kind == "video" else photo_cut)
        for (check, k), (t, _) in cuts.items():
            if k == kind and t is not None:
                hit |= np.nan_to_num(table.scores[check][i_mask], nan=0.0) >= t
        return hit

    def by(check: str, i_mask: np.ndarray, kind: str) -> np.ndarray:
        t = cuts.get((check, kind), (None,))[0]
        return np.zeros(i_mask.sum(), bool) if t is None else np.nan_to_num(table.scores[check][i_mask], nan=0.0) >= t

    real, orig = table.label == 0, table.variant == "orig"
    vid, img = table.kind == "video", table.kind == "image"
    port = np.isin(table.origin, PORTRAITS)
    return {
        "real clips called fake by any check": rate(called(real & vid & orig, "video")),
        "real clips called fake by lip-sync/animation": rate(by("animation", real & vid & orig, "video")),
        "real clips called fake by generator traces": rate(by("synthesis", real & vid & orig, "video")),
        "real portraits (FFHQ) called fake by any check": rate(called(real & img & orig & port, "image")),
        "real portraits (FFHQ) called fake by generator traces": rate(by("synthesis", real & img & orig & port, "image")),
        "real LFW photos called fake by any check": rate(called(real & img & orig & (table.origin == "lfw"), "image")),
        "real photos shrunk (face 40-160 px) called fake by any check": rate(called(real & img & (table.variant == "down"), "image")),
        "real photos shrunk and enlarged called fake by any check": rate(called(real & img & (table.variant == "up"), "image")),
        "real photos shrunk called fake by blending": rate(table.blend[real & img & (table.variant == "down")] >= photo_cut),
        "real photos shrunk and enlarged called fake by blending": rate(table.blend[real & img & (table.variant == "up")] >= photo_cut),
        "real photos shrunk called fake by generator traces": rate(by("synthesis", real & img & (table.variant == "down"), "image")),
        "real photos shrunk and enlarged called fake by generator traces": rate(by("synthesis", real & img & (table.variant == "up"), "image")),
        "lip-sync/animation clips caught by lip-sync/animation": rate(by("animation", (table.family == "animation") & orig, "video")),
        "lip-sync/animation clips caught by any check": rate(called((table.family == "animation") & orig, "video")),
        "generated faces caught by generator traces": rate(by("synthesis", (table.family == "generated") & orig, "image")),
        "generated faces caught by any check": rate(called((table.family == "generated") & orig, "image")),
        "swap photos caught by blending": rate(table.blend[(table.family == "swap") & img & orig] >= photo_cut),
    }


def operating_points(table: Table, clip_cut: float, allowances=OPERATING_POINTS, floor: float = 0.5) -> list[dict]:
    """The lip-sync check's trade-off on clips, out of fold: for each share of false alarms it
    may add to blending's on real clips (``--animation-fpr``), its cut, the real clips that
    blending or it call fake, and the lip-sync / animation clips it catches. What another
    allowance would give, measured rather than guessed."""
    real = (table.label == 0) & (table.kind == "video") & (table.variant == "orig")
    fakes = (table.family == "animation") & (table.variant == "orig")
    flagged = table.blend[real] >= clip_cut
    y = np.nan_to_num(table.scores["animation"][real], nan=0.0)
    caught = np.nan_to_num(table.scores["animation"][fakes], nan=0.0)
    out = []
    for extra in allowances:
        t, _ = added_cut(flagged, y, extra, floor, [str(f) for f in table.fold[real]], "source fold")
        cut = np.inf if t is None else t  # no cut: the check judges no clip
        out.append({"added_fpr": extra, "cut": None if t is None else round(t, 4),
                    "real clips called fake by blending or lip-sync": rate(flagged | (y >= cut)),
                    "lip-sync/animation clips caught by lip-sync": rate(caught >= cut)})
    return out


def within_source(rows: list[FileRows], weight_decay: float, photo_cut: float | None) -> dict:
    """A diagnostic, not out of source: the generator-traces head with the 50 thispersondoesnotexist
    faces dealt over the folds file by file (every other source as before), scored on them
    against the FFHQ portraits. What learning a generator's own outputs gives on more of the same."""
    import hashlib

    tp = ["thispersondoesnotexist" in r.item.method for r in rows]
    refolded = [replace(r, item=replace(r.item, fold=int(hashlib.sha1(r.item.path.encode()).hexdigest(), 16) % 5)) if t else r
                for r, t in zip(rows, tp)]
    s = out_of_fold(refolded, "synthesis", weight_decay)
    keep = np.array([r.variant == "orig" and (t or (r.item.label == 0 and r.item.origin in PORTRAITS)) for r, t in zip(rows, tp)])
    y = np.array([r.item.label for r in rows])
    out = {"auc": auc_row(s[keep], y[keep]), "folds": "thispersondoesnotexist by file, the rest by source"}
    if photo_cut is not None:
        out["tpr_at_the_photo_cut"] = rate(s[keep & (y == 1)] >= photo_cut)
    return out


def accuracy_rows(numbers: dict) -> dict:
    """The card's accuracy lines (``extra.accuracy``), out of fold: each learned check's per kind
    of media (``photo`` / ``video`` blocks, ``words.check_accuracy``), and the blending check's
    photo block at its re-set photo cut."""
    auc, cuts, pcal = numbers["auc"], numbers["at_the_cuts"], numbers["blending_photo_calibration"]
    gen, anim = auc["synthesis"]["generated faces vs FFHQ portraits"], auc["animation"]["lip-sync/animation vs real clips"]
    real_clips = cuts["real clips called fake by generator traces"]
    synthesis_photo = {**gen, "unit": "photo", "tpr": cuts["generated faces caught by generator traces"]["rate"],
                       "fpr": cuts["real portraits (FFHQ) called fake by generator traces"]["rate"], "reals_data": "FFHQ portraits",
                       "data": "generated stills (StyleGAN2, StyleGAN2-ADA, R3GAN, a diffusion edit) vs FFHQ portraits, "
                               "out of fold by source", "within_source": numbers.get("within_source")}
    animation = {**anim, "unit": "clip", "tpr": cuts["lip-sync/animation clips caught by lip-sync/animation"]["rate"],
                 "fpr": cuts["real clips called fake by lip-sync/animation"]["rate"],
                 "data": "lip-sync and face-animation outputs vs real talking clips, out of fold by source"}
    swap = cuts["swap photos caught by blending"]
    return {
        "synthesis": {**synthesis_photo, "out_of_fold": True, "photo": synthesis_photo,
                      "video": {"fakes": 0, "reals": real_clips["n"], "fpr": real_clips["rate"], "unit": "clip",
                                "data": "no generated-face videos to measure on; real clips flagged, out of fold"}},
        "animation": {**animation, "out_of_fold": True, "video": animation},
        "photo": {"unit": "photo", "fakes": swap["n"], "tpr": swap["rate"], "reals": pcal["cross_fold_portrait_fpr"]["n"],
                  "fpr": pcal["cross_fold_portrait_fpr"]["rate"], "reals_data": "FFHQ portraits",
                  "other_fpr": pcal["cross_fold_lfw_fpr"]["rate"], "other_reals": pcal["cross_fold_lfw_fpr"]["n"],
                  "other_data": "held-out LFW news photos",
                  "data": f"face-swap photos (dev-eval, train-media) and real photos at the photo cut {numbers['blending_photo_cut']}, "
                          "cross-validated by source fold"},
    }


def fit_final(rows: list[FileRows], decay: dict[str, float], mouth_decay: float | None = None,
              motion_decay: float | None = None) -> dict:
    return {check: fit_check(check, rows, decay[check], mouth_decay, motion_decay) for check in FAMILY}


def save_weights(src: str | None, dst: Path, heads: dict, cuts: dict, records: dict, photo: tuple[float, dict],
                 photo_accuracy: dict, model_id: str, mouth_px: int = MOUTH_SIZE, mouth_layers: tuple[str, ...] = (),
                 motion: bool = False, min_frames: int = MIN_TRACK_FRAMES, mouth_every: int = 1) -> None:
    det = load_detector(src)
    cfg = det.config
    dims = {"synthesis": heads["synthesis"].mean.numel(), "animation": heads["animation"].mean.numel() // 2}
    blocks = {}
    for check, head in heads.items():
        setattr(det.model, f"{check}_head", head)
        clip, image = cuts.get((check, "video"), (None, {})), cuts.get((check, "image"), (None, {}))
        blocks[check] = SynthesisConfig(
            LAYERS, SPREAD, dims[check], threshold=None if clip[0] is None else round(clip[0], 4),
            uncertain_band=None if clip[0] is None else tuple(clip[1]["band"]),
            photo_threshold=None if image[0] is None else round(image[0], 4),
            photo_uncertain_band=None if image[0] is None else tuple(image[1]["band"]),
            extra={"calibration": clip[1], "photo_calibration": image[1], **records[check]},
            media=("video",) if check == "animation" else ("video", "image"),
            min_face_px=records[check].get("min_face_px", 0.0),
            unit="track" if check == "animation" else "crop", mouth_px=mouth_px if check == "animation" else 0,
            mouth_layers=tuple(mouth_layers) if check == "animation" and tuple(mouth_layers) != LAYERS else (),
            motion=motion and check == "animation", min_frames=min_frames if check == "animation" else MIN_TRACK_FRAMES,
            mouth_every=mouth_every if check == "animation" else 1)
    dst = Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    t, pcal = photo
    accuracy = {**cfg.accuracy, **{check: records[check]["accuracy"] for check in heads}, "photo": photo_accuracy}
    save_detector(det.model, dst, replace(cfg, model_id=model_id, photo_threshold=round(t, 4),
                                           photo_uncertain_band=tuple(pcal["band"]), **blocks,
                                           extra={**cfg.extra, "photo_calibration": pcal, "accuracy": accuracy}))
    for extra_file in ("README.md",):
        src_file = resolve_weights(src) / extra_file
        if src_file.is_file():
            shutil.copy(src_file, dst / extra_file)


def file_facts(item: Item) -> list[float]:
    """What a file says without its pixels: log bytes, bytes per pixel (per second for a video),
    JPEG quantisation (photos) or frame rate (videos), log pixels. The shortcut a check must not take."""
    import os

    from PIL import Image

    from dfdemo.media import probe

    size = os.path.getsize(item.path)
    if item.kind == "image":
        with Image.open(item.path) as im:
            w, h = im.size
            q = getattr(im, "quantization", None) or {}
            quality = float(np.mean(q[0])) if 0 in q else 0.0
        return [np.log(size), np.log(size / (w * h)), quality, np.log(w * h)]
    info = probe(item.path)
    pixels = max(1, info.width * info.height)
    return [np.log(size), np.log(size / max(info.duration_s, 1e-3) / pixels), info.fps, np.log(pixels)]


def shortcut_auc(items: list[Item], folds: np.ndarray | None = None) -> float:
    """Out-of-fold AUC of a logistic head on ``file_facts`` alone (folds: the items' own unless
    given). Near 0.5: size and file quality do not tell the classes apart."""
    x = np.array([file_facts(it) for it in items], np.float32)
    y = np.array([it.label for it in items])
    folds = np.array([it.fold for it in items]) if folds is None else folds
    s = np.full(len(y), np.nan)
    for f in np.unique(folds):
        tr = folds != f
        w = np.where(y[tr] == 1, 0.5 / max(1, y[tr].sum()), 0.5 / max(1, (1 - y[tr]).sum())).astype(np.float32)
        head = fit_head("synthesis", x[tr], y[tr], w, 0.01)
        with torch.inference_mode():
            s[folds == f] = head(torch.from_numpy(x[folds == f])).numpy()
    return roc_auc(s, y)


def shortcuts(items: list[Item]) -> dict:
    """The shortcut check on the comparisons the issue's targets are measured on."""
    clips = [it for it in items if it.kind == "video" and it.family in ("animation", "real")]
    matched = [it for it in items if it.kind == "image" and ("thispersondoesnotexist" in it.method or
                                                            (it.label == 0 and it.origin in PORTRAITS))]
    return {"lip-sync/animation vs real clips (folds by source)": round(shortcut_auc(clips), 3),
            "thispersondoesnotexist vs FFHQ (5 folds by file)": round(shortcut_auc(matched, np.arange(len(matched)) % 5), 3),
            "generated vs all real photos (folds by source)": round(shortcut_auc(
                [it for it in items if it.kind == "image" and it.family in ("generated", "real")]), 3)}


def at_least(floor: int):
    """An argparse type: a whole number no smaller than ``floor`` (``--min-track-frames``: a
    track summary needs a spread; ``--mouth-every``: every frame at most)."""
    def whole(value: str) -> int:
        n = int(value)
        if n < floor:
            raise argparse.ArgumentTypeError(f"at least {floor} (got {value!r})")
        return n

    whole.__name__ = "int"  # argparse names the type when int() refuses the text: "invalid int value"
    return whole


def mouth_layers(value: str) -> tuple[str, ...]:
    """``--mouth-layers``: cached layers, comma-separated, in the cache's order (the pass pools in it)."""
    names = {n for n in value.split(",") if n}
    if not names or names - set(LAYERS):
        raise argparse.ArgumentTypeError(f"choose among {','.join(LAYERS)} (got {value!r})")
    return tuple(n for n in LAYERS if n in names)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab learn-kinds", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("extract", "fit"))
    add_shared_option(ap)
    ap.add_argument("--out", type=Path, default=Path("runs/kinds"), help="feature cache and records (default: runs/kinds)")
    ap.add_argument("--weights", default=None, help="the detector whose frozen activations are read (default: bundled)")
    ap.add_argument("--frames", type=int, default=8, help="frames sampled per clip for the features (default: 8)")
    ap.add_argument("--mouth-px", type=int, default=MOUTH_SIZE,
                    help=f"the mouth crop's side for the lip-sync check (extract: cut at it; fit: recorded in the weights; "
                         f"the same for both steps of one --out; default: {MOUTH_SIZE})")
    ap.add_argument("--mouth-layers", type=mouth_layers, default=LAYERS,
                    help="the layers the lip-sync check reads of the mouth, comma-separated (fit; the mouth pass stops "
                         f"after the last; default: all cached, {','.join(LAYERS)})")
    ap.add_argument("--mouth-every", type=at_least(1), default=1,
                    help="the lip-sync check reads the mouth and its motion on every N-th sampled frame of a clip "
                         "(fit; the product's mouth pass and next-frame decoding cost 1/N; default: 1, every frame)")
    ap.add_argument("--lfw", type=int, default=600, help="LFW people among the real photos (default: 600)")
    ap.add_argument("--weight-decay", type=float, default=0.01, help="L2 penalty of the generator-traces head (default: 0.01)")
    ap.add_argument("--animation-weight-decay", type=float, default=1.0,
                    help="L2 penalty of the lip-sync/animation head (one row per clip, few rows: more; default: 1.0)")
    ap.add_argument("--mouth-crop-weight-decay", type=float, default=None,
                    help="also learn the lip-sync check from each mouth crop (a crop-level term folded into the track "
                         "head, their logits averaged) with this L2 penalty (default: off)")
    ap.add_argument("--motion-weight-decay", type=float, default=None,
                    help="also learn the lip-sync check from the mouth's change to the next frame (a term on its mean "
                         "and spread over the track, folded in, the logits averaged) with this L2 penalty; needs a "
                         "cache extracted with motion (default: off)")
    ap.add_argument("--min-track-frames", type=at_least(MIN_TRACK_FRAMES), default=MIN_TRACK_FRAMES,
                    help="the lip-sync check judges a face seen in at least this many sampled frames (the head learns "
                         f"from each clip's main face; a face seen briefly has a noisier summary; default: {MIN_TRACK_FRAMES})")
    ap.add_argument("--animation-fpr", type=float, default=0.03,
                    help="false alarms on real clips the lip-sync/animation check may add to blending's (default: 0.03)")
    ap.add_argument("--synthesis-fpr", type=float, default=0.01,
                    help="false alarms on real media (clips; photos, and FFHQ portraits among them) the generator-traces "
                         "check may add to the checks before it (default: 0.01)")
    ap.add_argument("--photo-fpr", type=float, default=0.03,
                    help="the blending check's false alarms on held-out real photos, LFW and FFHQ (default: 0.03)")
    ap.add_argument("--min-face-px", type=float, default=64.0,
                    help="the generator-traces check abstains on faces smaller than this (default: 64)")
    ap.add_argument("--save", type=Path, default=None, help="write the weights with both heads and their cuts here")
    ap.add_argument("--model-id", default=None,
                    help="the saved weights' model id (default: the source's name + '(v3 + learned checks, DATE)'); "
                         "new weights need a new id: reports and the corpus's resumable rows are keyed by it")
    ap.add_argument("--json", type=Path, default=None, help="write the out-of-fold numbers here")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    items = collect(a.shared, a.lfw)
    if a.step == "extract":
        return extract(a, items)
    t0 = time.time()
    mouth = None if a.mouth_layers == LAYERS else pooled_columns(layer_channels(a.weights), a.mouth_layers)
    rows = load_rows(items, a.out, mouth, motion=a.motion_weight_decay is not None, mouth_every=a.mouth_every, frames=a.frames)
    if not rows:
        raise LabError(f"no features under {a.out}: run python -m dfdemo_lab learn-kinds extract --out {a.out} first")
    cfg = load_config(resolve_weights(a.weights))
    table = out_of_fold_table(rows, a)
    numbers, cuts, photo = cuts_and_numbers(table, rows, items, cfg, a)
    print_report(numbers)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(numbers, indent=2, sort_keys=True, default=float) + "\n")
    if a.save:
        save_fitted(a, argv, rows, numbers, cuts, photo, cfg)
        print(f"[learn-kinds] wrote {a.save} ({time.time() - t0:.0f} s)")
    return 0


def decays(a) -> dict[str, float]:
    """The L2 penalty of each learned head (``--weight-decay``, ``--animation-weight-decay``)."""
    return {"synthesis": a.weight_decay, "animation": a.animation_weight_decay}


def out_of_fold_table(rows: list, a) -> Table:
    """Every file's out-of-fold score of each check (folds by source); the generator-traces
    check abstains (NaN) on faces under ``--min-face-px``, as the product does."""
    decay = decays(a)
    scores = {check: out_of_fold(rows, check, decay[check], a.mouth_crop_weight_decay, a.motion_weight_decay, a.min_track_frames)
              for check in FAMILY}
    small = np.array([np.median(r.face_px) < a.min_face_px for r in rows])  # as the product's abstention
    scores["synthesis"][small] = np.nan  # the check abstains on faces under the size it is judged from
    return Table(rows, scores)


def cuts_and_numbers(table: Table, rows: list, items: list[Item], cfg, a) -> tuple[dict, dict, tuple]:
    """The blending photo cut and each check's cut on the out-of-fold scores, and the numbers
    recorded for them: (numbers, cuts, (photo cut, its calibration))."""
    photo_t, photo_cal = blending_photo_cut(table, a.photo_fpr, 0.5)
    cuts = calibrate_checks(table, cfg.threshold, photo_t, {"animation": a.animation_fpr, "synthesis": a.synthesis_fpr}, 0.5)
    numbers = {"auc": measure(table), "at_the_cuts": verdict_rates(table, cuts, cfg.threshold, photo_t),
               "cuts": {f"{c}/{k}": (None if t is None else round(t, 4)) for (c, k), (t, _) in cuts.items()},
               "blending_photo_cut": round(photo_t, 4), "blending_photo_calibration": photo_cal,
               "lip_sync_operating_points": operating_points(table, cfg.threshold),
               "shortcut_auc": shortcuts(items),
               "within_source": within_source(rows, decays(a)["synthesis"], cuts.get(("synthesis", "image"), (None,))[0]),
               "files": {"rows": len(rows), "fakes": int(table.label.sum()), "reals": int((table.label == 0).sum())},
               "folds": "5 folds by source (repository joined with its dataset; FFHQ portraits and LFW people one by one)"}
    return numbers, cuts, (photo_t, photo_cal)


def save_fitted(a, argv: list[str] | None, rows: list, numbers: dict, cuts: dict, photo: tuple, cfg) -> None:
    """``--save``: both heads fitted on every row, with their cuts, out-of-fold records and
    accuracy rows, into a copy of the weights."""
    decay = decays(a)
    heads = fit_final(rows, decay, a.mouth_crop_weight_decay, a.motion_weight_decay)
    args = sys.argv[1:] if argv is None else argv  # the step ("fit") is among them
    training = {"command": "python -m dfdemo_lab learn-kinds " + " ".join(args),
                "weight_decay": decay, "mouth_crop_weight_decay": a.mouth_crop_weight_decay,
                "motion_weight_decay": a.motion_weight_decay, "min_track_frames": a.min_track_frames,
                "frames_per_clip": a.frames, "mouth_px": a.mouth_px, "mouth_layers": list(a.mouth_layers),
                "mouth_every": a.mouth_every, "lfw_people": a.lfw,
                "folds": numbers["folds"]}
    records = {check: {"out_of_fold": {"auc": numbers["auc"][check], "at_the_cuts": numbers["at_the_cuts"]},
                       "training": {**training, "learned_from": f"real {FAMILY[check]} outputs against real media"}}
               for check in FAMILY}
    records["synthesis"]["min_face_px"] = a.min_face_px
    acc = accuracy_rows(numbers)
    for check in FAMILY:
        records[check]["accuracy"] = acc[check]
    save_weights(a.weights, a.save, heads, cuts, records, photo, acc["photo"],
                 model_id=a.model_id or f"{cfg.model_id.split(' (')[0]} (v3 + learned checks, {time.strftime('%Y-%m-%d')})",
                 mouth_px=a.mouth_px, mouth_layers=a.mouth_layers, motion=a.motion_weight_decay is not None,
                 min_frames=a.min_track_frames, mouth_every=a.mouth_every)


def extract(a, items: list[Item]) -> int:
    from dfdemo.faces import FaceDetector

    from .kinds_features import Extractor, extract_all

    det = load_detector(a.weights)
    items = sorted(items, key=lambda i: (i.origin == "lfw", i.kind == "image"))
    with FaceDetector(max_faces=4) as fd:
        print(extract_all(items, Extractor(det, fd, frames=a.frames, mouth_px=a.mouth_px), a.out))
    return 0


def print_report(numbers: dict) -> None:
    for check, sets in numbers["auc"].items():
        for name, r in sets.items():
            if r:
                print(f"{check:<10} {name:<44} AUC {r['auc']:.3f} [{r['auc_ci95'][0]:.3f}, {r['auc_ci95'][1]:.3f}]"
                      f"  {r['fakes']} fake / {r['reals']} real")
    for name, r in numbers["at_the_cuts"].items():
        if r:
            print(f"at the cuts: {name:<62} {r['rate']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] of {r['n']}")
    for p in numbers["lip_sync_operating_points"]:
        real, hit = p["real clips called fake by blending or lip-sync"], p["lip-sync/animation clips caught by lip-sync"]
        print(f"lip-sync allowed +{p['added_fpr']:.2f}: cut {p['cut']}  real clips called fake {real['rate']:.3f} "
              f"[{real['ci95'][0]:.3f}, {real['ci95'][1]:.3f}]  caught {hit['rate']:.3f} [{hit['ci95'][0]:.3f}, {hit['ci95'][1]:.3f}] of {hit['n']}")
    print("shortcut (file size / quality alone):", numbers["shortcut_auc"])
    print("within source (thispersondoesnotexist by file):", numbers["within_source"])
    print("cuts:", numbers["cuts"], "blending photo cut:", numbers["blending_photo_cut"],
          "portraits cross-fold:", numbers["blending_photo_calibration"]["cross_fold_portrait_fpr"])
