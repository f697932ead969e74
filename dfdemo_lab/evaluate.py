"""``python -m dfdemo_lab eval INDEX.csv``: dfdemo and reference models side by side on labelled videos.

INDEX.csv has ``path,label,method,kind`` (paths relative to the CSV; label ``real``/``fake``).
Every file goes through the same pipeline as ``scan`` (same frames, same face tracks); each
reference model (TorchScript, input RGB 256x256 in [0, 1], sigmoid of its logit = P(real))
scores square crops of the very same face boxes. Printed per slice (the CSV path's folder)
and overall: frame-level AUC, video-level AUC with a bootstrap 95 % interval, and accuracy and
false-positive rate at each model's threshold (dfdemo: the calibrated one; references: 0.5).

With ``--temporal`` (weights with a temporal head) dfdemo appears three times, from the same
analysis of each file: ``frame-only`` (the frame detector's score), ``temporal-only`` (the
temporal head's windows) and ``combined`` (what the product reports with the temporal check on).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dfdemo.analyzer import Analyzer, Settings, aggregate
from dfdemo.config import LEARNED_CHECKS
from dfdemo.detector import normalise
from dfdemo.errors import DfdemoError
from dfdemo.faces import square_crop
from dfdemo.media import sample_frames
from .metrics import bootstrap_auc, roc_auc

REFERENCE_SIZE = 256
DEV_HELD_OUT_SLICES = ("synthesis",)  # generated faces: not what the blending check looks for


@dataclass(frozen=True)
class DevCrops:
    """The detector-framed face crops of an eval run (``eval --save-crops``), so that other weights
    (with the same crop margin and input size) can be scored on the very same faces in seconds:
    the dev-eval curve of a training run. ``file`` and ``track`` say whose crop each row is."""

    crops: np.ndarray  # (N, S, S, 3) uint8
    file: np.ndarray  # (N,) row of ``labels`` / ``slices``
    track: np.ndarray  # (N,)
    labels: np.ndarray  # (F,) 1 = fake
    slices: np.ndarray  # (F,) slice name

    @classmethod
    def load(cls, path: Path) -> "DevCrops":
        if not Path(path).is_file():
            raise DfdemoError(f"{path}: no dev-eval crops (python -m dfdemo_lab eval INDEX --save-crops {path})")
        d = np.load(path, allow_pickle=False)
        return cls(d["crops"], d["file_row"], d["track"], d["labels"], d["slices"])

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, crops=self.crops, file_row=self.file, track=self.track, labels=self.labels, slices=self.slices)

    def file_scores(self, frame_scores: np.ndarray) -> np.ndarray:
        """Each file's score as the product makes it: the top-half mean per track, max over tracks
        (0 for a file without a face)."""
        out = np.zeros(len(self.labels))
        for f in range(len(self.labels)):
            rows = self.file == f
            if rows.any():
                out[f] = max(aggregate(frame_scores[rows & (self.track == t)]) for t in np.unique(self.track[rows]))
        return out

    @torch.inference_mode()
    def evaluate(self, model: torch.nn.Module, config, bf16: bool = False, bs: int = 64) -> dict:
        """Frame and video AUC of a model in training, over the slices not in DEV_HELD_OUT_SLICES
        (``dev_*``) and over those (``dev_synthesis_*``)."""
        model.eval()
        scores = []
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(self.crops), bs):
                x = normalise(torch.from_numpy(self.crops[i:i + bs]), config.mean, config.std)
                scores.append(torch.sigmoid(model(x).float().view(-1)))
        fs = torch.cat(scores).numpy().astype(np.float64)
        vs = self.file_scores(fs)
        out = {}
        for name, keep in (("dev", ~np.isin(self.slices, DEV_HELD_OUT_SLICES)), ("dev_synthesis", np.isin(self.slices, DEV_HELD_OUT_SLICES))):
            if keep.sum() == 0:
                continue
            rows = keep[self.file]
            out[f"{name}_video_auc"] = roc_auc(vs[keep], self.labels[keep])
            out[f"{name}_frame_auc"] = roc_auc(fs[rows], self.labels[self.file[rows]])
        return out


@dataclass
class Scored:
    """One model's scores of one file: per face-frame and per file (max over face tracks)."""

    frame_scores: list[float] = field(default_factory=list)
    file_score: float | None = None


class Reference:
    """A TorchScript reference detector whose sigmoid is P(real); reports P(fake)."""

    def __init__(self, path: Path):
        self.name = path.name.replace(".torchscript.pt", "")
        with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export
            warnings.simplefilter("ignore", FutureWarning)
            self.model = torch.jit.load(str(path), map_location="cpu").eval()

    @torch.inference_mode()
    def fake_probability(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0)
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255)
        return 1.0 - torch.sigmoid(self.model(x).float().view(-1)).numpy()


def read_index(index: Path) -> list[dict]:
    with open(index, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["abs"] = str((index.parent / r["path"]).resolve())
        r["slice"] = Path(r["path"]).parent.name or "all"
        if r["label"] not in ("real", "fake"):
            raise DfdemoError(f"{index}: label must be real or fake, got {r['label']!r} for {r['path']}")
    return rows


def face_crops(report, path: str, frames: int, margin: float, size: int) -> list[tuple[int, np.ndarray]]:
    """(track id, square crop) of every face box of ``report``, re-cut from the same sampled frames."""
    boxes = defaultdict(list)  # frame index -> [(track, box)]
    for face in report.faces:
        for fr in face.frames:
            boxes[fr.index].append((face.track_id, fr.box))
    return [(tid, square_crop(frame.rgb, box, margin, size)[0])
            for frame in sample_frames(path, frames) for tid, box in boxes.get(frame.index, [])]


def reference_scores(refs: list[Reference], report, path: str, frames: int, margin: float) -> dict[str, Scored]:
    """Score the boxes of ``report`` with each reference: the same sampled frames, same faces."""
    pairs = face_crops(report, path, frames, margin, REFERENCE_SIZE)
    crops, tracks = [c for _, c in pairs], [t for t, _ in pairs]
    out = {}
    for ref in refs:
        s = ref.fake_probability(np.stack(crops)) if crops else np.zeros(0)
        per_track = defaultdict(list)
        for tid, v in zip(tracks, s):
            per_track[tid].append(v)
        out[ref.name] = Scored(list(map(float, s)), max((aggregate(v) for v in per_track.values()), default=None))
    return out


TEMPORAL_MODELS = ("frame-only", "temporal-only", "combined")


def margin(p: float | None, threshold: float) -> float | None:
    """How far a probability lies above its check's threshold, on the logit scale (≥ 0: that
    check calls it fake). The combined checks' score: the largest margin, so it ranks files in
    the order of the product's verdict rule (fake when any check is)."""
    if p is None:
        return None
    if threshold >= 1:  # a check without a cut for this file never calls it fake
        return -math.inf
    lp = math.log(max(p, 1e-6) / max(1 - p, 1e-6))
    return lp - math.log(threshold / (1 - threshold))


def synthesis_cut(cfg, kind: str, name: str = "synthesis") -> float:
    """A learned check's threshold for a file of ``kind``; ``math.inf`` where the weights have no
    such head or no cut for that kind (the check did not judge it: never called fake)."""
    head = cfg.learned().get(name)
    cut = head.cut(kind) if head else None
    return cut.threshold if cut is not None else math.inf


def json_safe(thresholds: dict) -> dict:
    """The thresholds for ``--json``: an infinite one (no cut, not judged) written as null."""
    def one(t):
        return None if t == math.inf else float(t)
    return {m: one(t) if np.isscalar(t) else [one(v) for v in t] for m, t in thresholds.items()}


def own_scores(report, temporal: bool) -> dict[str, Scored]:
    """dfdemo's scores of one analysed file: one model (the blending check, "dfdemo"), or
    frame-only/temporal-only/combined; with learned checks also one model each ("synthesis",
    "animation") and "checks" (all checks combined as the product combines them, as a margin
    over the thresholds)."""
    frame_scores = [fr.fake_probability for face in report.faces for fr in face.frames]
    checks = {c.name: c for c in report.checks}
    learned = [c for c in report.checks if c.name in LEARNED_CHECKS]
    if not temporal and learned:
        b = checks["blending"]
        margins = [m for m in (margin(c.fake_probability, c.threshold) for c in (b, *learned) if c.threshold is not None) if m is not None]
        per_frame = {"synthesis": [fr.synthesis_probability for face in report.faces for fr in face.frames]}
        return {"dfdemo": Scored(frame_scores, b.fake_probability),
                **{c.name: Scored(per_frame.get(c.name, []), c.fake_probability) for c in learned},
                "checks": Scored([], max(margins) if margins else None)}
    if not temporal:
        return {"dfdemo": Scored(frame_scores, report.fake_probability)}

    def frame_p(f):  # a face with no window (or a photo) keeps its frame score everywhere
        return f.frame_probability if f.frame_probability is not None else f.fake_probability

    def temporal_p(f):
        return f.temporal_probability if f.temporal_probability is not None else frame_p(f)

    window_scores = [w.fake_probability for face in report.faces for w in face.windows]
    return {"frame-only": Scored(frame_scores, max(map(frame_p, report.faces), default=None)),
            "temporal-only": Scored(window_scores, max(map(temporal_p, report.faces), default=None)),
            "combined": Scored(frame_scores, report.fake_probability)}


def summarise(rows: list[dict], scores: dict[str, list[Scored]], thresholds: dict) -> dict:
    """Numbers per slice and overall for every model. A model's threshold is one number, or one
    per file (dfdemo's: the clip or the photo threshold, as the product chose for each file)."""
    groups = {"overall": list(range(len(rows)))}
    if any(r["slice"] in DEV_HELD_OUT_SLICES for r in rows):  # the blending check's own overall: swaps and lip-sync
        groups["no-synthesis"] = [i for i, r in enumerate(rows) if r["slice"] not in DEV_HELD_OUT_SLICES]
    for i, r in enumerate(rows):
        groups.setdefault(r["slice"], []).append(i)
    out = {}
    for g, idx in groups.items():
        out[g] = {"n_fake": sum(rows[i]["label"] == "fake" for i in idx), "n_real": sum(rows[i]["label"] == "real" for i in idx)}
        for model, per_file in scores.items():
            # a file where no face was found counts as "real" (score 0) for the video metrics
            v = np.array([per_file[i].file_score if per_file[i].file_score is not None else 0.0 for i in idx])
            y = np.array([rows[i]["label"] == "fake" for i in idx])
            fs = np.concatenate([per_file[i].frame_scores for i in idx] or [np.zeros(0)])
            fy = np.concatenate([[rows[i]["label"] == "fake"] * len(per_file[i].frame_scores) for i in idx] or [np.zeros(0)])
            t = np.broadcast_to(thresholds[model], (len(rows),))[idx]  # one per file
            lo, hi = bootstrap_auc(v, y)
            out[g][model] = {
                "video_auc": roc_auc(v, y), "video_auc_ci95": [lo, hi], "frame_auc": roc_auc(fs, fy),
                "accuracy": float(((v >= t) == y).mean()) if len(y) else float("nan"),
                "fpr": float((v[~y] >= t[~y]).mean()) if (~y).any() else float("nan"),
                "tpr": float((v[y] >= t[y]).mean()) if y.any() else float("nan"),
            }
    return out


def by_method(rows: list[dict], scores: dict, thresholds: dict) -> dict:
    """One row per fake method against the real files of its own slice (the same sizes and
    compression where the slice was made that way): which generator or tool a check catches."""
    out = {}
    for sl in sorted({r["slice"] for r in rows}):
        reals = [i for i, r in enumerate(rows) if r["slice"] == sl and r["label"] == "real"]
        methods = sorted({r["method"] for r in rows if r["slice"] == sl and r["label"] == "fake"})
        if not reals or len(methods) < 2:
            continue
        for m in methods:
            idx = reals + [i for i, r in enumerate(rows) if r["slice"] == sl and r["method"] == m and r["label"] == "fake"]
            sub = [dict(rows[i], slice=f"{sl}: {m[:28]}") for i in idx]
            got = summarise(sub, {k: [v[i] for i in idx] for k, v in scores.items()},
                            {k: np.broadcast_to(t, (len(rows),))[idx] for k, t in thresholds.items()})
            out.update({k: v for k, v in got.items() if k not in ("overall", "no-synthesis")})
    return out


def print_table(summary: dict, models: list[str]) -> None:
    def f(x):
        return "  n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:5.2f}"

    w = max([16] + [len(g) + 1 for g in summary])
    print(f"{'slice':<{w}}{'fake/real':>10}  {'model':<20}{'vidAUC':>7} {'95% CI':>13} {'frmAUC':>7} {'acc':>6} {'FPR':>6} {'TPR':>6}")
    for g, d in summary.items():
        for j, m in enumerate(models):
            s = d[m]
            ci = f"[{f(s['video_auc_ci95'][0])},{f(s['video_auc_ci95'][1])}]"
            head = f"{g:<{w}}{str(d['n_fake']) + '/' + str(d['n_real']):>10}" if j == 0 else " " * (w + 10)
            print(f"{head}  {m:<20}{f(s['video_auc']):>7} {ci:>13} {f(s['frame_auc']):>7} {f(s['accuracy']):>6} {f(s['fpr']):>6} {f(s['tpr']):>6}")


def record_accuracy(weights, summary: dict, model: str, before: dict | None = None, fake_label: str | None = None) -> dict:
    """Write the evaluation's headline row into the weights' settings (``extra.accuracy``; ``before``:
    the accuracy recorded so far, default: read from the weights); for the synthesis check, its row on the generated faces
    (``extra.accuracy.synthesis``). dfdemo's own folder: its config.json; a timm / transformers
    classifier or a Hub repo: its sidecar (``dfdemo.sidecar.update_settings``), with ``fake_label``."""
    from dfdemo.sidecar import update_settings
    from dfdemo.weights import resolve_weights

    if model == "synthesis":
        row_name, data = "synthesis", "dev-eval generated faces: StyleGAN2, StyleGAN2-ADA, R3GAN stills vs FFHQ photos"
    else:
        row_name = "no-synthesis" if "no-synthesis" in summary else "overall"
        data = f"dfdemo dev-eval ({row_name}): face swaps, reenactment and lip-sync by tools nobody here wrote"
    row, s = summary[row_name], summary[row_name][model]
    acc = {"fakes": row["n_fake"], "reals": row["n_real"], "auc": round(s["video_auc"], 3),
           "auc_ci95": [round(v, 3) for v in s["video_auc_ci95"]], "tpr": round(s["tpr"], 3), "fpr": round(s["fpr"], 3),
           "unit": "photo" if model == "synthesis" else "file", "data": data}
    folder = resolve_weights(weights)
    before = recorded_accuracy(folder) if before is None else before
    if model == "synthesis":
        acc = {**before, "synthesis": acc}
    else:  # the other checks' rows and the per-kind rows (photo) are kept
        acc = {**acc, **{k: v for k, v in before.items() if isinstance(v, dict)}}
    path = update_settings(folder, {"accuracy": acc}, **({"fake_label": fake_label} if fake_label else {}))
    print(f"[eval] recorded in {path}: {acc}")
    return acc


def recorded_accuracy(folder) -> dict:
    """The accuracy recorded for the weights in ``folder``: their sidecar's, else dfdemo's config.json's."""
    from dfdemo.config import load_config
    from dfdemo.sidecar import read_sidecar
    from dfdemo.weights import detect_layout

    own = (read_sidecar(folder).settings.get("extra") or {}).get("accuracy")
    return dict(own or (load_config(folder).accuracy if detect_layout(folder).family == "dfdemo" else {}))


def eval_from_crops(a) -> int:
    """``eval --from-crops``: dfdemo's numbers per slice from saved face crops, each file at the
    cut the product uses for its kind (the index says which files are photos); with a
    synthesis head, each check and the two combined."""
    from dfdemo.detector import load_detector

    dev = DevCrops.load(a.from_crops)
    det = load_detector(a.weights, a.fake_label)
    if a.index.is_file():
        index = read_index(a.index)
        if len(index) != len(dev.labels):
            raise DfdemoError(f"{a.index} lists {len(index)} files but {a.from_crops} was saved from {len(dev.labels)}: "
                              "pass the index the crops were saved from")
    else:
        print(f"[eval] {a.index} not found: every file is judged at the clip threshold", file=sys.stderr)
        index = [{"kind": "video", "method": ""}] * len(dev.labels)
    kinds = [r.get("kind", "video") for r in index]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        crop_heads = [n for n, h in det.config.learned().items() if h.unit != "track"]  # saved crops: no mouths, no tracks
        both = det.scores(dev.crops, heads=crop_heads)
        fs = both.blending.astype(np.float64)
        if a.flip:
            fs = (fs + det.predict(np.ascontiguousarray(dev.crops[:, :, ::-1])).astype(np.float64)) / 2
    rows = [{"label": "fake" if y else "real", "slice": str(sl), "method": r["method"]} for y, sl, r in zip(dev.labels, dev.slices, index)]
    name = "dfdemo" + ("+flip" if a.flip else "") + ("+bf16" if a.bf16 else "")
    has = (dev.file[:, None] == np.arange(len(rows))[None]).any(0)

    def scored(frame, files):  # frame None: a file-level score only
        return [Scored([] if frame is None else list(frame[dev.file == f]), float(files[f]) if has[f] else None)
                for f in range(len(rows))]

    vs = dev.file_scores(fs)
    cut = [det.config.cut(k).threshold for k in kinds]
    scores, thresholds = {name: scored(fs, vs)}, {name: cut}
    if both.synthesis is not None:
        ss = both.synthesis.astype(np.float64)
        vss = dev.file_scores(ss)
        # a kind the check has no cut for is not judged by it: never called fake (ranking still measured)
        scut = [synthesis_cut(det.config, k) for k in kinds]
        combined = np.array([max(margin(vs[f], cut[f]), margin(vss[f], scut[f])) for f in range(len(rows))])
        alone = np.array([margin(vs[f], cut[f]) for f in range(len(rows))])  # the blending check alone, same scale
        scores.update(synthesis=scored(ss, vss), checks=scored(None, combined), **{"blending-alone": scored(None, alone)})
        thresholds.update(synthesis=scut, checks=0.0, **{"blending-alone": 0.0})
    summary = summarise(rows, scores, thresholds)
    if a.by_method:
        summary.update(by_method(rows, scores, thresholds))
    print(f"\nmodel: {det.config.model_id}; crops from {a.from_crops}; each file at its kind's cut"
          + ("; checks = both checks as the product combines them (fake when either is), blending-alone = the "
             "blending check on the same scale (its margin over each file's cut)" if both.synthesis is not None else ""))
    print_table(summary, list(scores))
    if a.record_accuracy:
        if both.synthesis is None:
            raise DfdemoError("--record-accuracy with --from-crops records the synthesis check's row: these weights have none")
        record_accuracy(a.weights, summary, "synthesis", det.config.accuracy)
    if a.json:
        a.json.write_text(json.dumps({"model": det.config.model_id, "from_crops": str(a.from_crops), "summary": summary},
                                     indent=2, sort_keys=True) + "\n")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", type=Path, help="CSV with path,label,method,kind")
    ap.add_argument("--reference", type=Path, action="append", default=[], help="TorchScript reference model (repeatable)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--weights", default=None, help="weights folder or Hub id: dfdemo's, or a timm / transformers "
                                                    "image classifier (default: $DFDEMO_WEIGHTS, then weights/detector)")
    ap.add_argument("--fake-label", metavar="LABEL", help="a classifier's class(es) that mean fake, when its labels do "
                                                         "not say (default: read from them)")
    ap.add_argument("--json", type=Path, default=None, help="write numbers and per-file scores here")
    ap.add_argument("--temporal", action="store_true",
                    help="also read windows of consecutive frames: frame-only, temporal-only and combined side by side")
    ap.add_argument("--windows", type=int, default=None, help="windows per video with --temporal (default: the weights')")
    ap.add_argument("--save-crops", type=Path, default=None,
                    help="also save the detector-framed face crops of every file here (.npz), for train --dev-crops "
                         "and --from-crops")
    ap.add_argument("--from-crops", type=Path, default=None,
                    help="score the crops saved by --save-crops instead of running the pipeline (same faces, seconds "
                         "instead of minutes; weights with the same crop margin and input size)")
    ap.add_argument("--record-accuracy", action="store_true",
                    help="store dfdemo's row (no-synthesis if present, else overall: fakes, reals, AUC, TPR/FPR at the "
                         "calibrated threshold) in the weights' config.json as extra.accuracy, the line the app's card shows "
                         "(a timm / transformers classifier or a Hub repo: in its sidecar dfdemo.json)")
    ap.add_argument("--flip", action="store_true", help="with --from-crops: average each crop's score with its mirror's")
    ap.add_argument("--bf16", action="store_true", help="with --from-crops: score in bfloat16")
    ap.add_argument("--by-method", action="store_true",
                    help="with --from-crops: also one row per fake method against the real files of its slice")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if a.from_crops:
        return eval_from_crops(a)
    if not a.index.is_file():
        raise DfdemoError(f"{a.index}: index CSV not found")
    rows = read_index(a.index)
    refs = [Reference(p) for p in a.reference]
    with Analyzer.load(a.weights, fake_label=a.fake_label) as analyzer:
        cfg = analyzer.detector.config
        foreign = analyzer.detector.origin.family != "dfdemo"
        tcfg = analyzer.detector.temporal_config
        if a.temporal and tcfg is None:
            raise DfdemoError("--temporal: these weights have no temporal head (python -m dfdemo_lab train-temporal)")
        run = score_index(analyzer, rows, refs, a)
    thresholds = run.thresholds(cfg, tcfg, refs, a.temporal)
    # a file that could not be analysed is an error row in the JSON, left out of every number
    done = [i for i, f in enumerate(run.per_file) if "error" not in f]
    if len(done) < len(rows):
        print(f"[eval] {len(rows) - len(done)} of {len(rows)} file(s) could not be analysed (listed as errors in --json): "
              f"the numbers below are over the other {len(done)}", file=sys.stderr)
    summary = summarise([rows[i] for i in done], {m: [v[i] for i in done] for m, v in run.scores.items()},
                        {m: t if np.isscalar(t) else [t[i] for i in done] for m, t in thresholds.items()})
    if a.save_crops and run.saved["crops"]:
        DevCrops(np.stack(run.saved["crops"]), np.array(run.saved["file"]), np.array(run.saved["track"]),
                 np.array([r["label"] == "fake" for r in rows], dtype=np.int64), np.array([r["slice"] for r in rows])).save(a.save_crops)
    print(f"\nmodel: {cfg.model_id}; {a.frames} frames per video"
          + (f" + {a.windows or tcfg.windows} windows of {tcfg.window} frames" if a.temporal else "")
          + "; thresholds " + ", ".join(f"{m} {thresholds[m]:.3f}" for m in run.models if np.isscalar(thresholds[m]))
          + f", dfdemo {cfg.threshold:.3f} (clips)" + (f" / {cfg.photo_threshold:.3f} (photos)" if cfg.photo_threshold is not None else ""))
    print_table(summary, run.models)
    if a.record_accuracy:
        record_accuracy(a.weights, summary, "dfdemo" if not a.temporal else "combined", cfg.accuracy,
                        a.fake_label if foreign else None)
    if a.json:
        a.json.write_text(json.dumps({"model": cfg.model_id, "frames": a.frames, "thresholds": json_safe(thresholds),
                                      "summary": summary, "files": run.per_file}, indent=2, sort_keys=True) + "\n")
    return 0


@dataclass
class IndexRun:
    """What scoring an index gathers, one entry per file in every list: each model's scores, the
    JSON row, the cut the product used for it (dfdemo's and each learned head's) and, with
    ``--save-crops``, the face crops."""

    models: list[str]
    heads: list[str]
    scores: dict[str, list[Scored]] = field(default_factory=dict)
    per_file: list[dict] = field(default_factory=list)
    own_thresholds: list[float] = field(default_factory=list)
    head_thresholds: dict[str, list[float]] = field(default_factory=dict)
    saved: dict[str, list] = field(default_factory=lambda: {"crops": [], "file": [], "track": []})

    def __post_init__(self):
        self.scores = {m: [] for m in self.models}
        self.head_thresholds = {n: [] for n in self.heads}

    def failed(self, r: dict, e: DfdemoError, cfg) -> None:
        """A file the product refused: an error row, empty scores, never a number."""
        for m in self.models:
            self.scores[m].append(Scored())
        self.per_file.append({"path": r["path"], "label": r["label"], "method": r["method"], "slice": r["slice"],
                              "error": str(e)})
        self.own_thresholds.append(cfg.threshold)
        for n in self.heads:
            self.head_thresholds[n].append(math.inf)

    def thresholds(self, cfg, tcfg, refs: list, temporal: bool) -> dict:
        """Each file at the threshold the product used for it (photos have their own where calibrated)."""
        out = {"dfdemo": self.own_thresholds, **self.head_thresholds, "checks": 0.0, **{r.name: 0.5 for r in refs}}
        if temporal:
            out.update({"frame-only": cfg.threshold, "combined": tcfg.threshold,
                        "temporal-only": tcfg.extra.get("calibration", {}).get("temporal_only_threshold", 0.5)})
        return out


def score_index(analyzer, rows: list[dict], refs: list, a) -> IndexRun:
    """Analyse every file of the index as the product does (and with the reference models),
    printing one line per file."""
    cfg = analyzer.detector.config
    heads = analyzer.detector.learned_heads
    own = list(TEMPORAL_MODELS) if a.temporal else ["dfdemo"] + (heads + ["checks"] if heads else [])
    run = IndexRun(own + [r.name for r in refs], heads)
    settings = Settings(frames=a.frames, heatmaps=0, temporal=a.temporal, windows=a.windows)
    for i, r in enumerate(rows):
        try:
            rep = analyzer.analyze(r["abs"], settings).report
        except DfdemoError as e:
            print(f"error: {e}", file=sys.stderr)
            run.failed(r, e, cfg)
            continue
        for name, scored in own_scores(rep, a.temporal).items():
            run.scores[name].append(scored)
        run.own_thresholds.append(cfg.cut(rep.kind).threshold)
        for n in heads:
            run.head_thresholds[n].append(synthesis_cut(cfg, rep.kind, n))
        ref_scores = reference_scores(refs, rep, r["abs"], a.frames, cfg.crop_margin) if refs else {}
        if a.save_crops:
            for tid, crop in face_crops(rep, r["abs"], a.frames, cfg.crop_margin, cfg.input_size):
                run.saved["crops"].append(crop)
                run.saved["file"].append(i)
                run.saved["track"].append(tid)
        for name, s in ref_scores.items():
            run.scores[name].append(s)
        run.per_file.append({"path": r["path"], "label": r["label"], "method": r["method"], "slice": r["slice"],
                             "frames_analyzed": rep.frames_analyzed, "frames_with_face": rep.frames_with_face,
                             "faces": len(rep.faces), "verdict": rep.verdict, "temporal": rep.temporal,
                             "scores": {m: run.scores[m][-1].file_score for m in run.models}})
        print(f"[{i + 1}/{len(rows)}] {r['label']:<4} {r['path']:<60} " + " ".join(
            f"{m}={run.scores[m][-1].file_score if run.scores[m][-1].file_score is not None else float('nan'):.3f}"
            for m in run.models), flush=True)
    return run


