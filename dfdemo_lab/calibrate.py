"""``python -m dfdemo_lab calibrate``: set the decision thresholds on real media held out from training.

Runs the full pipeline (same as ``scan``) on the held-out real clips (the clips the crop cache
marks as validation, never trained on; those of ``real-videos/more/`` are held out by source
repository) and on the held-out real photos (LFW people held out from training), and writes
into the weights' ``config.json`` the threshold at which at most ``--target-fpr`` of those
clips would be called fake, an "uncertain" band around it, and the same for photos (a photo
is another domain: no video compression, often studio quality). Also prints a cross-validated
false-positive rate: the threshold set without one group of sources (clips: source
repositories; photos: people), applied to that group, so the printed rate is not by
construction. With the crop cache, it also measures what the band means on self-blended fake
clips made from the same held-out clips.

Weights with a temporal head get the same treatment for the combined score (frame + temporal,
``dfdemo.temporal.threshold``) and for the temporal head alone, from the same analyses.

Weights with a synthesis head get its clip and photo cuts from the same analyses, set so that
the two checks together (a file is called fake when either check says so) call at most
``--extra-fpr`` more of the held-out real media fake than the blending check alone.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dfdemo.analyzer import Analyzer, Settings, aggregate
from dfdemo.config import band_for, threshold_for  # the band's one rule lives with the config
from dfdemo.sidecar import update_settings
from dfdemo.weights import resolve_weights
from dfdemo.errors import DfdemoError

from .cache import split_of
from .evaluate import own_scores
from .errors import add_shared_option, require_shared

CV_FOLDS = 10


def held_out_clips(shared: Path) -> list[Path]:
    vids = sorted((shared / "data" / "real-videos").glob("*/*.mp4"))
    return [p for p in vids if split_of(f"{p.parent.name}/{p.stem}") == "val"]


def held_out_photos(shared: Path) -> list[Path]:
    """Photos of the LFW people held out from training (``split_of``)."""
    people = sorted((shared / "data" / "real-faces" / "lfw").glob("*/"))
    return [p for d in people if split_of(f"lfw/{d.name}") == "val" for p in sorted(d.glob("*.jpg"))]


def clip_source(path: Path) -> str:
    """The repository a clip came from (``owner__repo__name.mp4``), else its folder."""
    parts = path.stem.split("__")
    return "__".join(parts[:2]) if len(parts) >= 3 else path.parent.name




def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="weights to calibrate: a folder (config.json is rewritten) or a Hub id; "
                                                     "a timm / transformers classifier or a Hub repo gets its sidecar "
                                                     "dfdemo.json instead (dfdemo.sidecar)")
    ap.add_argument("--fake-label", metavar="LABEL", help="a classifier's class(es) that mean fake, when its labels do "
                                                         "not say (default: read from them); kept in its sidecar")
    add_shared_option(ap)
    ap.add_argument("--frames", type=int, default=32, help="frames sampled per clip (default: 32, as the app)")
    ap.add_argument("--target-fpr", type=float, default=0.05, help="largest share of held-out real media called fake (default: 0.05)")
    ap.add_argument("--floor", type=float, default=0.5, help="never set a threshold below this (default: 0.5)")
    ap.add_argument("--extra-fpr", type=float, default=0.02,
                    help="largest share of held-out real media the synthesis check may add to the blending check's "
                         "false alarms (default: 0.02)")
    ap.add_argument("--photos", type=int, default=400, help="at most this many held-out real photos (default: 400; 0 = no photo threshold)")
    ap.add_argument("--cache", type=Path, default=Path("cache/faces"),
                    help="crop cache (python -m dfdemo_lab cache): self-blended fake clips of the held-out clips "
                         "measure what the band means; skipped when absent (default: cache/faces)")
    return ap


@dataclass
class HeldOut:
    """The held-out media and their scores: each check's per clip (``own_scores``), the
    blending and synthesis scores per photo, and self-blended fake clips (None without a cache)."""

    clips: list[Path]
    photos: list[Path]
    temporal: bool
    scores: dict[str, list] = field(default_factory=dict)
    photo_scores: list = field(default_factory=list)
    photo_synth: list = field(default_factory=list)
    sbi_clips: np.ndarray | None = None

    @property
    def sources(self) -> list[str]:
        return [clip_source(p) for p in self.clips]

    @property
    def people(self) -> list[str]:
        return [p.parent.name for p in self.photos]


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    clips = held_out_clips(require_shared(a.shared))
    if not clips:
        raise DfdemoError(f"no held-out real clips under {a.shared / 'data' / 'real-videos'} (is --shared right?)")
    photos = held_out_photos(a.shared)[: a.photos] if a.photos else []
    with Analyzer.load(a.weights, fake_label=a.fake_label) as analyzer:
        h = score_held_out(analyzer, clips, photos, a)
        cfg, foreign = analyzer.detector.config, analyzer.detector.origin.family != "dfdemo"
    folder = resolve_weights(a.weights)
    frame_key = "frame-only" if h.temporal else "dfdemo"
    t, calib = calibration(h.scores[frame_key], a.target_fpr, a.floor, h.sources, h.sbi_clips)
    changes, records = {"threshold": round(t, 4), "uncertain_band": tuple(calib["band"])}, {"calibration": calib}
    say(frame_key, t, calib)
    synth_cfg = cfg.synthesis
    learned_here = synth_cfg is not None and "out_of_fold" in synth_cfg.extra  # heads of learn-kinds: cut out of fold there
    tp = photo_cut(h, a, learned_here, changes, records)
    if learned_here:
        print("[calibrate] the learned checks' cuts were set on out-of-fold scores by learn-kinds (calibrating them here, "
              "on clips they learned from, would be in-sample): kept", flush=True)
    elif "synthesis" in h.scores:
        changes["synthesis"] = synthesis_cuts(h, a, synth_cfg, h.scores[frame_key], t, tp)
    if h.temporal:
        changes["temporal"] = temporal_cuts(h, a, cfg.temporal)
    if foreign and a.fake_label:
        changes["fake_label"] = a.fake_label
    print(f"[calibrate] recorded in {update_settings(folder, records, **changes)}", flush=True)
    return 0


def score_held_out(analyzer, clips: list[Path], photos: list[Path], a) -> HeldOut:
    """Analyse the held-out clips (with the temporal check where the weights have one) and
    photos as the product does, and score self-blended clips of the crop cache."""
    h = HeldOut(clips, photos, analyzer.detector.temporal_config is not None)
    for p in clips:
        rep = analyzer.analyze(p, Settings(frames=a.frames, heatmaps=0, temporal=h.temporal or None)).report
        for name, sc in own_scores(rep, h.temporal).items():
            h.scores.setdefault(name, []).append(sc)
        print(f"[calibrate] {p.parent.name}/{p.name}: " + ", ".join(
            f"{n} {v[-1].file_score or 0.0:.3f}" for n, v in h.scores.items()), flush=True)
    for i, p in enumerate(photos):
        own = own_scores(analyzer.analyze(p, Settings(frames=1, heatmaps=0)).report, False)
        h.photo_scores.append(own["dfdemo"])
        if "synthesis" in own:
            h.photo_synth.append(own["synthesis"])
        if (i + 1) % 100 == 0 or i + 1 == len(photos):
            print(f"[calibrate] {i + 1}/{len(photos)} held-out photos", flush=True)
    h.sbi_clips = sbi_clip_scores(analyzer.detector, a.cache) if a.cache.is_dir() else None
    return h


def photo_cut(h: HeldOut, a, learned_here: bool, changes: dict, records: dict) -> float | None:
    """The blending check's photo threshold and band on the held-out LFW people (kept where
    learn-kinds set it); adds them to ``changes``/``records``, returns the threshold."""
    if not h.photo_scores:
        return None
    if learned_here:
        print("[calibrate] photos: these weights' photo cut was set by learn-kinds on held-out LFW and FFHQ portraits "
              "together with the learned checks; kept (python -m dfdemo_lab learn-kinds fit sets it)", flush=True)
        return None
    tp, pcal = calibration(h.photo_scores, a.target_fpr, a.floor, h.people, group_name="person")
    changes.update(photo_threshold=round(tp, 4), photo_uncertain_band=tuple(pcal["band"]))
    records["photo_calibration"] = pcal
    say("photos", tp, pcal, unit="photos")
    return tp


def synthesis_cuts(h: HeldOut, a, sc, blending: list, t: float, tp: float | None):
    """The synthesis check's clip (and photo) cuts: the lowest that adds at most ``--extra-fpr``
    false alarms to the blending check's at ``t`` (``tp``); None where no cut does."""
    ts, scal = synthesis_calibration(blending, t, h.scores["synthesis"], a.extra_fpr, a.floor, h.sources)
    if ts is None:
        print(f"[calibrate] synthesis: no clip cut below {scal['highest_cut']:.3f} keeps the added false alarms within "
              f"{a.extra_fpr:.0%} ({scal['real_at_or_above_0.999']:.0%} of held-out real clips score ≥ 0.999): "
              "videos are not judged by this check", flush=True)
        syn = dict(threshold=None, uncertain_band=None)
    else:
        say("synthesis", ts, scal)
        syn = dict(threshold=round(ts, 4), uncertain_band=tuple(scal["band"]))
    calibs = {"calibration": scal}
    if h.photo_synth:
        tps, pscal = synthesis_calibration(h.photo_scores, tp, h.photo_synth, a.extra_fpr, a.floor, h.people, "person")
        if tps is not None:
            say("synthesis, photos", tps, pscal, unit="photos")
            syn.update(photo_threshold=round(tps, 4), photo_uncertain_band=tuple(pscal["band"]))
        calibs["photo_calibration"] = pscal
    return replace(sc, **syn, extra={**sc.extra, **calibs})


def temporal_cuts(h: HeldOut, a, tcfg):
    """The combined (frame + temporal) clip cut, and the temporal-only one recorded beside it."""
    tc, tcal = calibration(h.scores["combined"], a.target_fpr, a.floor, h.sources)
    to, ocal = calibration(h.scores["temporal-only"], a.target_fpr, a.floor, h.sources)
    tcal["temporal_only_threshold"], tcal["temporal_only"] = round(to, 4), ocal
    say("combined", tc, tcal)
    say("temporal-only", to, ocal)
    return replace(tcfg, threshold=round(tc, 4), uncertain_band=tuple(tcal["band"]), extra={**tcfg.extra, "calibration": tcal})


def group_folds(groups: list[str], k: int = CV_FOLDS) -> np.ndarray:
    """Fold of each item, whole groups per fold (groups dealt round-robin in sorted order)."""
    names = sorted(set(groups))
    fold_of = {g: i % min(k, len(names)) for i, g in enumerate(names)}
    return np.array([fold_of[g] for g in groups])


def folds_of(groups: list[str]) -> np.ndarray:
    """Cross-validation folds of the items: whole groups per fold, or two alternating folds
    when there is only one group."""
    return group_folds(groups) if len(set(groups)) > 1 else np.arange(len(groups)) % 2


def folds_said(groups: list[str], group_name: str) -> str:
    """How ``folds_of`` split the items, in words (recorded with the numbers)."""
    return f"{min(CV_FOLDS, len(set(groups)))}-fold by {group_name}" if len(set(groups)) > 1 else "2-fold"


def cross_validated_fpr(cs: np.ndarray, groups: list[str], target_fpr: float, floor: float) -> float:
    """Share of items called fake by a threshold set without their group's fold."""
    folds = folds_of(groups)
    hits = [(cs[folds == f] >= threshold_for(cs[folds != f], target_fpr, floor)).sum() for f in np.unique(folds)
            if (folds != f).any()]
    return float(np.sum(hits) / len(cs)) if hits else float("nan")


def calibration(scored: list, target_fpr: float, floor: float, groups: list[str] | None = None,
                sbi_clips: np.ndarray | None = None, group_name: str = "source") -> tuple[float, dict]:
    """The threshold for one score over the held-out media, and what it does there: the share
    called fake, cross-validated by group (source repository or person), and the shares of real
    (and, given, self-blended fake) media inside the uncertain band."""
    cs = np.array([s.file_score if s.file_score is not None else 0.0 for s in scored])
    fs = np.array([v for s in scored for v in s.frame_scores])
    groups = groups or [str(i) for i in range(len(cs))]
    t = threshold_for(cs, target_fpr, floor)
    lo, hi = band_for(t, cs, target_fpr)
    out = {"clips": len(cs), "sources": len(set(groups)), "frames": int(len(fs)), "target_fpr": target_fpr,
           "clip_fpr": float((cs >= t).mean()), "frame_fpr": float((fs >= t).mean()) if len(fs) else 0.0,
           "cross_fold_clip_fpr": cross_validated_fpr(cs, groups, target_fpr, floor),
           "cross_validation": folds_said(groups, group_name),
           "clip_score_median": float(np.median(cs)), "clip_score_max": float(cs.max()),
           "band": [lo, hi], "real_in_band": float(((cs >= lo) & (cs < hi)).mean())}
    if sbi_clips is not None and len(sbi_clips):
        out.update(sbi_clips=int(len(sbi_clips)), sbi_clip_tpr=float((sbi_clips >= t).mean()),
                   sbi_in_band=float(((sbi_clips >= lo) & (sbi_clips < hi)).mean()))
    return t, out


def synthesis_calibration(blend: list, blend_threshold: float, synth: list, extra_fpr: float, floor: float,
                          groups: list[str], group_name: str = "source") -> tuple[float | None, dict]:
    """The synthesis check's threshold: ``added_cut`` over the real media the blending check
    (at its calibrated ``blend_threshold``) did not already call fake."""
    b = np.array([x.file_score or 0.0 for x in blend])
    y = np.array([x.file_score or 0.0 for x in synth])
    t, out = added_cut(b >= blend_threshold, y, extra_fpr, floor, groups, group_name)
    return t, {**out, "blending_fpr": out.pop("flagged_fpr")}


def added_cut(flagged: np.ndarray, y: np.ndarray, extra_fpr: float, floor: float, groups: list[str],
              group_name: str = "source") -> tuple[float | None, dict]:
    """A further check's threshold: the smallest (≥ ``floor``) at which its scores ``y`` call at
    most ``extra_fpr`` of the held-out real media fake that the checks before it did not
    already call fake (``flagged``); and what the checks do together there, cross-validated by
    group like the blending threshold. None when no cut up to the highest (0.999) keeps within
    the allowance: the check then does not judge that kind of media."""
    free = ~flagged

    def cut(idx: np.ndarray) -> float:
        n, f = len(idx), idx[free[idx]]
        return threshold_for(y[f], min(1.0, extra_fpr * n / max(1, len(f))), floor) if len(f) else 0.999

    t = cut(np.arange(len(y)))
    combined = flagged | (y >= t)
    head = {"clips": len(y), "sources": len(set(groups)), "extra_fpr": extra_fpr, "flagged_fpr": float(flagged.mean())}
    if combined.mean() - flagged.mean() > extra_fpr + 1e-9:
        # even the highest cut adds more false alarms than allowed: this check does not judge this kind of media
        return None, {**head, "calibrated": False, "combined_fpr_at_highest_cut": float(combined.mean()), "highest_cut": t,
                      "clip_score_median": float(np.median(y)), "real_at_or_above_0.999": float((y >= 0.999).mean())}
    lo, hi = band_for(t, y[free], extra_fpr)
    folds = folds_of(groups)
    cv_hits = 0
    for f in np.unique(folds):
        test, rest = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        if len(rest):
            cv_hits += int((flagged[test] | (y[test] >= cut(rest))).sum())
    out = {**head, "synthesis_fpr": float((y >= t).mean()), "combined_fpr": float(combined.mean()),
           "cross_fold_combined_fpr": float(cv_hits / len(y)), "cross_validation": folds_said(groups, group_name),
           "clip_score_median": float(np.median(y)), "clip_score_max": float(y.max()),
           "band": [lo, hi], "real_in_band": float(((y >= lo) & (y < hi)).mean())}
    out["clip_fpr"], out["cross_fold_clip_fpr"], out["frame_fpr"] = out["combined_fpr"], out["cross_fold_combined_fpr"], 0.0
    return t, out


def sbi_clip_scores(detector, cache: Path, per_clip: int = 16, seed: int = 7) -> np.ndarray:
    """Self-blended fake clips of the held-out clips of the crop cache: ``per_clip`` frames of
    each, each blended (whole face), scored at the inference framing and aggregated as the
    product aggregates a face track. Measures what the threshold and band do to known fakes."""
    from .data import CropSet, make_pair

    crops = CropSet.load(cache, "val")
    rng = np.random.default_rng(seed)
    cfg = detector.config
    out = []
    for g in np.unique(crops.groups[crops.is_video]):
        idx = np.flatnonzero(crops.groups == g)
        idx = idx[np.linspace(0, len(idx) - 1, min(per_clip, len(idx))).astype(int)]
        fakes = np.stack([make_pair(crops, int(i), rng, cfg.input_size, cfg.crop_margin, train=False)[1] for i in idx])
        out.append(aggregate(detector.predict(fakes)))
    return np.array(out)


def say(name: str, t: float, calib: dict, unit: str = "clips") -> None:
    print(f"[calibrate] {name}: threshold {t:.3f}, uncertain band {tuple(calib['band'])}; held-out real {unit} called fake: "
          f"{calib['clip_fpr']:.1%} (cross-validated, {calib['cross_validation']}: {calib['cross_fold_clip_fpr']:.1%}, "
          f"{calib['clips']} {unit} from {calib['sources']} groups), real frames above: {calib['frame_fpr']:.1%}; "
          f"real {unit} in the band: {calib['real_in_band']:.1%}"
          + (f"; self-blended fake clips called fake: {calib['sbi_clip_tpr']:.1%}, in the band: {calib['sbi_in_band']:.1%}"
             if "sbi_clip_tpr" in calib else ""))
