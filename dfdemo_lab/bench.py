"""Benchmark: where the time of one analysis goes, against its floor and against MTCNN.

``python -m dfdemo_lab bench [VIDEO] [--repeats 3] [--hd] [--long] [--json OUT]``

Everything is measured in one process with the models loaded once; each number is the
median of ``--repeats`` runs after one warm-up call. Without VIDEO the benchmark writes its
own clip: 10 s, 1280x720, 30 fps, a real face (scikit-image's astronaut photo) sliding and
bobbing over a grey background.

* **floor** = reading the sampled frames + finding the faces on them (``sample_frames`` and
  ``FaceDetector.detect`` alone), timed in the same repeats as the analysis;
  ``ratio_to_floor = total / floor``.
* **peer** = MTCNN from facenet-pytorch (a benchmark extra, run only where it is installed)
  on the same sampled frames as our detector.
* **learned checks** (weights that have them): a photo's and a clip's scoring per face against
  the blending check alone, on the benchmark's own face crops (``checks_cost``); target ≤ 1.3x.
* **memory**: the peak resident set size (RSS) of the process during one analysis, models
  and libraries included: Linux's ``VmHWM``, the high-water mark that
  ``resource.getrusage().ru_maxrss`` also reports, but reset just before the analysis
  (``/proc/self/clear_refs``) so it is the analysis's own peak. Where that cannot be reset,
  ``ru_maxrss`` (the whole life of the process) is given. Beside it, the tracemalloc peak of
  one analysis: Python and numpy allocations only (torch, FFmpeg and MediaPipe native buffers
  are not traced). **per face**: the classifier's weights in memory and the rise of the peak RSS
  over one scoring pass of 1 and of 4 faces and over Grad-CAM of one face, beside the time a face
  takes to score (the classifier's rates) and to explain (explain stage / heatmaps): what a
  heavier detector (``--weights`` a Hub ViT, say) costs. ``--long`` compares a 10-second and a
  10-minute clip at the same sampling, each in a fresh process (after a warm-up call there, so
  that imports are not counted).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

STAGES = ("probe", "decode", "detect", "crop", "classify", "temporal", "report", "explain", "total")
TARGETS = {  # name: (limit, "<=" or ">=")
    "ratio_to_floor": (2.0, "<="),
    "total_s": (5.0, "<="),
    "hd_over_720p": (1.5, "<="),
    "mtcnn_over_ours": (5.0, ">="),
    "long_over_short_peak_rss": (1.2, "<="),
    "temporal_over_frame_only": (1.3, "<="),
    "photo_checks_over_blending": (1.3, "<="),
    "video_checks_over_blending": (1.3, "<="),
}


def write_clip(path: str | os.PathLike, width: int = 1280, height: int = 720, seconds: float = 10.0,
               fps: float = 30.0) -> Path:
    """Write an MPEG-4 clip of one real face moving over a grey background (no data needed).

    The astronaut photo, scaled to 95% of the frame height, slides across the frame and back
    once over the clip while bobbing up and down, so that sampled frames all differ.
    """
    import cv2
    import skimage.data

    side = round(height * 0.95)
    photo = cv2.cvtColor(cv2.resize(skimage.data.astronaut(), (side, side), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    n = max(1, round(seconds * fps))
    room_x, room_y = max(0, width - side), height - side
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (mp4v)")
    canvas = np.empty((height, width, 3), np.uint8)
    try:
        for i in range(n):
            t = i / max(1, n - 1)
            x = round(room_x * (1 - abs(2 * t - 1)))  # there and back once
            y = round(room_y * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))
            canvas[:] = 60
            part = photo[:, : width - x]
            canvas[y : y + side, x : x + part.shape[1]] = part
            writer.write(canvas)
    finally:
        writer.release()
    return Path(path)


def _median(values) -> float:
    return float(statistics.median(values)) if values else 0.0


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB: VmHWM (since the last reset), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def analysis_memory(analyzer, path, settings) -> dict:
    """Peak RSS during one analysis (see the module docstring) and its tracemalloc peak.

    Two separate calls, so that tracemalloc's own bookkeeping is not in the RSS. Call after a
    warm-up analysis.
    """
    import tracemalloc

    reset = _reset_peak_rss()
    before = _peak_rss_mb()
    analyzer.analyze(path, settings)
    peak = _peak_rss_mb()
    tracemalloc.start()
    try:
        analyzer.analyze(path, settings)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return {"peak_rss_mb": peak, "rss_before_mb": before, "peak_rss_is_per_analysis": reset,
            "tracemalloc_peak_mb": traced}


def _untrained_weights(folder: Path) -> Path:
    import torch

    from dfdemo.config import DetectorConfig
    from dfdemo.model import create_model
    from dfdemo.weights import save_detector

    torch.manual_seed(0)
    return save_detector(create_model("tf_efficientnet_lite0"), folder, DetectorConfig(model_id="bench:untrained"))


def resolve_bench_weights(arg: str | None, tmp: Path) -> tuple[str, str]:
    """(weights source, how it was chosen): ``--weights``, else the bundled folder, else an
    untrained stand-in of the default architecture (speed does not depend on weight values)."""
    from dfdemo.weights import BUNDLED_WEIGHTS

    if arg:
        return arg, "given"
    if (BUNDLED_WEIGHTS / "model.safetensors").is_file():
        return str(BUNDLED_WEIGHTS), "bundled"
    return str(_untrained_weights(tmp / "untrained")), "untrained stand-in (no bundled weights yet)"


def floor_pass(faces, path, frames: int, crop_margin: float, crop_size: int) -> dict:
    """Read the sampled frames and detect faces on them: the work no analysis can skip.

    Also returns one face crop per frame with a face (for the classifier rate), cut outside
    the timed parts.
    """
    from dfdemo.faces import square_crop
    from dfdemo.media import sample_frames

    decode = detect = 0.0
    with_face, crops, n = 0, [], 0
    it = iter(sample_frames(path, frames))
    while True:
        t0 = time.perf_counter()
        fr = next(it, None)
        t1 = time.perf_counter()
        decode += t1 - t0
        if fr is None:
            break
        dets = faces.detect(fr.rgb)
        detect += time.perf_counter() - t1
        n += 1
        if dets:
            with_face += 1
            crops.append(square_crop(fr.rgb, dets[0].box, crop_margin, crop_size)[0])
    return {"decode_s": decode, "detect_s": detect, "floor_s": decode + detect, "frames": n,
            "frames_with_face": with_face, "crops": crops}


def classifier_rates(detector, crops: list[np.ndarray], repeats: int) -> dict:
    """Faces per second of the classifier alone: one crop a pass, ``BATCH_SIZE`` crops a pass
    (what the analysis uses), and all crops in one pass."""
    from dfdemo.detector import BATCH_SIZE

    sizes = {"batch1_faces_per_s": 1, "batched_faces_per_s": BATCH_SIZE, "one_pass_faces_per_s": max(1, len(crops))}
    if not crops:
        return {"crops": 0, "batch_size": BATCH_SIZE, **{k: 0.0 for k in sizes}}
    x = np.stack(crops)
    times = timed_in_turn({k: (lambda bs=bs: detector.predict(x, batch_size=bs)) for k, bs in sizes.items()}, repeats)
    return {"crops": len(x), "batch_size": BATCH_SIZE, **{k: len(x) / _median(v) for k, v in times.items()}}


def timed_in_turn(runs: dict, repeats: int) -> dict[str, list[float]]:
    """Each of ``runs`` (name → call) timed once per repeat, in turn, so that a load that comes
    and goes hits them alike: name → its seconds, one per repeat."""
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, run in runs.items():
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    return times


def checks_cost(detector, crops: list[np.ndarray], repeats: int) -> dict | None:
    """The learned checks' cost per face against the blending check alone (``predict``): a
    photo's scoring (the heads that judge photos, from the same pass) and a clip's (every head
    that judges clips, the mouth pass at the head's ``mouth_px`` included, and the mouth's
    motion measured on each crop against itself moved a pixel, where a head reads it; both on
    every ``mouth_every``-th crop, as on a clip's sampled frames). The three are timed
    in turn in each repeat and each ratio is the median of the repeats' own ratios, so that a
    load that comes and goes hits both sides alike. The mouth crops are the lower middle of the
    face crops resized to ``mouth_px`` (a pass costs the same whatever the pixels). None for
    weights without learned checks."""
    import cv2

    from dfdemo.sampling import Framing, reads_mouth

    judging = {kind: detector.judging(kind) for kind in ("image", "video")}
    names = {kind: list(heads) for kind, heads in judging.items()}
    if not crops or not detector.learned_heads:
        return None
    x = np.stack(crops)
    cfg = detector.config
    clip = Framing.of(cfg.crop_margin, cfg.input_size, judging["video"].values(), "video")  # as the analyzer frames a clip
    mouth_px, motion, every = clip.mouth_px, clip.motion, clip.mouth_every
    reads = reads_mouth(np.arange(len(x)), every)
    s = x.shape[1]
    mouths = [cv2.resize(c[s // 2:, s // 4:3 * s // 4], (mouth_px, mouth_px), interpolation=cv2.INTER_AREA) if r else None
              for c, r in zip(x, reads)] if mouth_px else None
    runs = {"blending": lambda: detector.predict(x),
            "photo": lambda: detector.scores(x, heads=names["image"]),
            "video": lambda: detector.scores(x, mouths, heads=names["video"], motion=_motion(x, reads) if motion else None)}
    timed_in_turn(runs, 1)  # warm-up
    times = timed_in_turn(runs, repeats)
    base = times["blending"]
    return {"faces": len(x), "mouth_px": mouth_px, "mouth_every": every, "photo_heads": names["image"], "video_heads": names["video"],
            "blending_ms_per_face": 1000 * _median(base) / len(x),
            **{f"{k}_over_blending": _median([t / b for t, b in zip(times[k], base)]) for k in ("photo", "video")}}


def _every(n: int) -> str:
    """How often the mouth is read, as the bench prints it."""
    return "" if n == 1 else " on every other frame" if n == 2 else f" on one frame in {n}"


def _motion(crops: np.ndarray, reads: np.ndarray) -> np.ndarray:
    """``faces.mouth_motion`` of each face crop (where ``reads``; NaN, not measured, elsewhere)
    against itself moved a pixel, the eyes and the mouth where the detector's framing puts them
    (what the measurement costs, not what it says)."""
    from dfdemo.faces import mouth_motion

    s = crops.shape[1]
    points = np.array([[0.38, 0.42], [0.62, 0.42], [0.5, 0.55], [0.5, 0.7], [0.2, 0.45], [0.8, 0.45]]) * s
    box = (0.2 * s, 0.2 * s, 0.8 * s, 0.8 * s)
    return np.stack([mouth_motion(c, np.roll(c, 1, axis=1) if r else None, box, points) for c, r in zip(crops, reads)])


def peer_mtcnn(faces, path, frames: int, repeats: int) -> dict | None:
    """MTCNN (facenet-pytorch, default settings) against our detector on the same frames.

    Both get the sampled frames as decoded; ours downscales internally to ``detect_side``.
    MTCNN also runs on frames downscaled to that side, to separate the models from the input
    size. None when facenet-pytorch is not installed.
    """
    try:
        from facenet_pytorch import MTCNN
    except ImportError:
        return None
    import cv2

    from dfdemo.media import sample_frames

    rgbs = [fr.rgb for fr in sample_frames(path, frames)]
    side = faces.detect_side

    def small(rgb):
        h, w = rgb.shape[:2]
        s = min(1.0, side / max(h, w))
        return rgb if s == 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)

    rgbs_small = [small(x) for x in rgbs]
    mtcnn = MTCNN(keep_all=True, device="cpu")
    times = {"ours": [], "mtcnn": [], "mtcnn_small": []}
    found = {}
    runs = {"ours": (lambda x: len(faces.detect(x)) > 0, rgbs),
            "mtcnn": (lambda x: mtcnn.detect(x)[0] is not None, rgbs),
            "mtcnn_small": (lambda x: mtcnn.detect(x)[0] is not None, rgbs_small)}
    for _ in range(repeats):
        for name, (fn, imgs) in runs.items():
            t = time.perf_counter()
            found[name] = sum(bool(fn(x)) for x in imgs)
            times[name].append(time.perf_counter() - t)
    ours, full, sm = (_median(times[k]) for k in ("ours", "mtcnn", "mtcnn_small"))
    return {"frames": len(rgbs), "ours_s": ours, "mtcnn_s": full, "mtcnn_at_detect_side_s": sm, "detect_side": side,
            "mtcnn_over_ours": full / ours if ours else 0.0,
            "mtcnn_at_detect_side_over_ours": sm / ours if ours else 0.0,
            "frames_with_face": {"ours": found["ours"], "mtcnn": found["mtcnn"], "mtcnn_at_detect_side": found["mtcnn_small"]}}


def time_analyses(analyzer, path, settings, repeats: int, floor: bool = True) -> dict:
    """Warm-up, then ``repeats`` × (floor pass, analysis); medians of each stage."""
    cfg = analyzer.detector.config
    t = time.perf_counter()
    first = analyzer.analyze(path, settings).report
    first_s = time.perf_counter() - t
    stage_runs = {k: [] for k in STAGES}
    floors, fl = {"decode_s": [], "detect_s": [], "floor_s": []}, None
    report = first
    for _ in range(repeats):
        if floor:
            fl = floor_pass(analyzer.faces, path, settings.frames, cfg.crop_margin, cfg.input_size)
            for k in floors:
                floors[k].append(fl[k])
        report = analyzer.analyze(path, settings).report
        for k in STAGES:
            stage_runs[k].append(float(report.timings_s.get(k, 0.0)))
    out = {
        "first_call_s": first_s,
        "stages_s": {k: _median(v) for k, v in stage_runs.items() if k != "total" and k in report.timings_s},
        "total_s": _median(stage_runs["total"]),
        "totals_s": stage_runs["total"],
        "frames_analyzed": report.frames_analyzed,
        "frames_with_face": report.frames_with_face,
        "faces": len(report.faces),
        "heatmaps": len(report.heatmaps),
        "media": report.media,
    }
    if floor:
        out.update({k: _median(v) for k, v in floors.items()})
        out["ratio_to_floor"] = out["total_s"] / out["floor_s"] if out["floor_s"] else 0.0
        out["crops"] = fl["crops"]
    return out


def child_memory(path, weights: str, frames: int, heatmaps: int) -> dict:
    """Analyse ``path`` once in a fresh Python process and return its memory numbers."""
    cmd = [sys.executable, "-m", "dfdemo_lab", "bench", "--memory-child", str(path), "--weights", weights,
           "--frames", str(frames), "--heatmaps", str(heatmaps)]
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed on {path}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory_child(path: str, weights: str, frames: int, heatmaps: int) -> int:
    from dfdemo.analyzer import Analyzer, Settings

    settings = Settings(frames=frames, heatmaps=heatmaps)
    with Analyzer.load(weights) as analyzer:
        loaded = _peak_rss_mb()
        t = time.perf_counter()
        report = analyzer.analyze(path, settings).report  # warm-up: lazy imports, kernel caches
        seconds = time.perf_counter() - t
        mem = analysis_memory(analyzer, path, settings)
    print(json.dumps({**mem, "rss_after_load_mb": loaded, "seconds": seconds,
                      "duration_s": report.media.get("duration_s"), "frames_analyzed": report.frames_analyzed}))
    return 0


def check_targets(result: dict) -> dict:
    values = {
        "ratio_to_floor": result.get("ratio_to_floor"),
        "total_s": result.get("total_s"),
        "hd_over_720p": (result.get("hd") or {}).get("hd_over_720p"),
        "mtcnn_over_ours": (result.get("peer") or {}).get("mtcnn_over_ours"),
        "long_over_short_peak_rss": (result.get("memory_flatness") or {}).get("long_over_short_peak_rss"),
        "temporal_over_frame_only": (result.get("temporal") or {}).get("temporal_over_frame_only"),
        "photo_checks_over_blending": (result.get("checks") or {}).get("photo_over_blending"),
        "video_checks_over_blending": (result.get("checks") or {}).get("video_over_blending"),
    }
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        limit, op = TARGETS[name]
        met = value <= limit if op == "<=" else value >= limit
        if name == "mtcnn_over_ours":
            f = result["peer"]["frames_with_face"]
            met = met and f["ours"] >= f["mtcnn"]
        out[name] = {"value": round(value, 3), "limit": f"{op} {limit}", "met": bool(met)}
    return out


def _fmt_ms(s: float) -> str:
    return f"{s * 1000:8.1f} ms"


def print_result(r: dict) -> None:
    p = print
    m = r["input"]
    p(f"input: {m['path']} ({m['width']}x{m['height']}, {m['fps']:g} fps, {m['duration_s']:g} s{', generated' if m['generated'] else ''})")
    p(f"weights: {r['weights']['source']} [{r['weights']['how']}]")
    mc = r["machine"]
    p(f"machine: {mc['cpus']} CPU(s), torch {mc['torch']} with {mc['torch_threads']} thread(s) "
      f"(GOMP_SPINCOUNT={mc['gomp_spincount'] or 'unset'}); "
      f"load average {mc['load_before']:.2f} before, {mc['load_after']:.2f} after")
    s = r["settings"]
    p(f"settings: {s['frames']} frames, {s['heatmaps']} heatmaps; median of {s['repeats']} run(s) after a warm-up")
    p("")
    p("stage            median")
    for k, v in r["stages_s"].items():
        p(f"  {k:<12} {_fmt_ms(v)}" + ("   (waiting for frames: decoding runs ahead in a thread)" if k == "decode" else ""))
    p(f"  {'total':<12} {_fmt_ms(r['total_s'])}   (first call {r['first_call_s']:.2f} s)")
    p(f"floor (read {r['frames_analyzed']} sampled frames + detect faces): {_fmt_ms(r['floor_s']).strip()} "
      f"= decode {_fmt_ms(r['decode_s']).strip()} + detect {_fmt_ms(r['detect_s']).strip()}")
    p(f"ratio_to_floor = total / floor = {r['ratio_to_floor']:.2f}")
    p(f"faces: {r['frames_with_face']}/{r['frames_analyzed']} frames with a face, {r['faces']} track(s), {r['heatmaps']} heatmap(s)")
    c = r["classifier"]
    p(f"classifier: {c['batch1_faces_per_s']:.1f} faces/s at batch 1, {c['batched_faces_per_s']:.1f} faces/s at batch {c['batch_size']} "
      f"(the analysis), {c['one_pass_faces_per_s']:.1f} faces/s with all {c['crops']} in one pass")
    k = r.get("checks")
    if k:
        p(f"learned checks per face, against blending alone ({k['blending_ms_per_face']:.1f} ms, {k['faces']} faces a call, "
          f"median of the runs' ratios): photo {k['photo_over_blending']:.2f}x ({', '.join(k['photo_heads']) or 'none'}), "
          f"clip {k['video_over_blending']:.2f}x ({', '.join(k['video_heads']) or 'none'}"
          + (f"; mouth pass at {k['mouth_px']} px{_every(k['mouth_every'])})" if k["mouth_px"] else ")"))
    pf = r.get("per_face") or {}
    if "pass_batch_mb" in pf:
        explain_ms = 1000 * r["stages_s"].get("explain", 0.0) / max(1, r["heatmaps"])
        p(f"per face: scoring {1000 / c['batched_faces_per_s']:.0f} ms at batch {c['batch_size']} ({1000 / c['batch1_faces_per_s']:.0f} ms "
          f"alone), Grad-CAM {explain_ms:.0f} ms a heatmap; detector {pf['load_rss_mb']:.0f} MiB loaded, of which weights "
          f"{pf['weights_mb']:.0f} MiB ({pf['parameters_m']:.1f} M parameters); peak RSS rise of a pass over 1 face "
          f"{pf['pass_1_mb']:.0f} MiB, over {pf['batch_size']} faces {pf['pass_batch_mb']:.0f} MiB, Grad-CAM of 1 face "
          f"{pf['gradcam_1_mb']:.0f} MiB (fresh process, freed memory returned)")
    mem = r["memory"]
    what = "during one analysis" if mem["peak_rss_is_per_analysis"] else "of the whole process so far (ru_maxrss)"
    p(f"memory: peak RSS {mem['peak_rss_mb']:.0f} MiB {what} (models and libraries {mem['rss_before_mb']:.0f} MiB "
      f"before it); tracemalloc peak of one analysis {mem['tracemalloc_peak_mb']:.1f} MiB (Python + numpy only)")
    if r.get("peer") is None:
        p("peer: MTCNN skipped (--no-peer)" if r["settings"].get("no_peer") else
          "peer: facenet-pytorch not installed, MTCNN skipped (pip install --no-deps facenet-pytorch)")
    else:
        q = r["peer"]
        f = q["frames_with_face"]
        p(f"peer on the same {q['frames']} frames: MediaPipe {_fmt_ms(q['ours_s']).strip()}, "
          f"MTCNN {_fmt_ms(q['mtcnn_s']).strip()} ({q['mtcnn_over_ours']:.1f}x ours), "
          f"MTCNN at {q['detect_side']} px {_fmt_ms(q['mtcnn_at_detect_side_s']).strip()} ({q['mtcnn_at_detect_side_over_ours']:.1f}x ours)")
        p(f"  frames with a face: MediaPipe {f['ours']}, MTCNN {f['mtcnn']}, MTCNN at {q['detect_side']} px {f['mtcnn_at_detect_side']}")
    if r.get("hd"):
        h = r["hd"]
        p(f"1080p clip: total {_fmt_ms(h['total_s']).strip()} (floor {_fmt_ms(h['floor_s']).strip()}), "
          f"{h['hd_over_720p']:.2f}x the 720p total; stages " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in h["stages_s"].items()) + " ms")
    if r.get("temporal"):
        tm = r["temporal"]
        p(f"temporal check ({tm['windows']} windows of {tm['window']} frames): total {_fmt_ms(tm['total_s']).strip()}, "
          f"{tm['temporal_over_frame_only']:.2f}x the frame-only total; temporal stage {_fmt_ms(tm['temporal_stage_s']).strip()}")
    if r.get("memory_flatness"):
        mf = r["memory_flatness"]
        for k in ("short", "long"):
            x = mf[k]
            p(f"{k} clip ({x['duration_s']:.0f} s, fresh process): peak RSS {x['peak_rss_mb']:.0f} MiB "
              f"(after load {x['rss_after_load_mb']:.0f}), tracemalloc peak {x['tracemalloc_peak_mb']:.1f} MiB, first analysis {x['seconds']:.2f} s")
        p(f"  long / short peak RSS = {mf['long_over_short_peak_rss']:.3f} (rise during the analysis {mf['short_rss_rise_mb']:.0f} "
          f"vs {mf['long_rss_rise_mb']:.0f} MiB); tracemalloc {mf['long_over_short_tracemalloc']:.3f}")
    p("")
    p("targets:")
    for name, t in r["targets"].items():
        p(f"  {name:<26} {t['value']:>8} (target {t['limit']}): {'met' if t['met'] else 'MISSED'}")
    if mc["load_before"] > 0.5 * mc["cpus"]:
        p(f"note: the machine was busy (load average {mc['load_before']:.2f} on {mc['cpus']} CPU(s)); timings are skewed upwards")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?", help="a video to measure (default: a generated 10 s 720p clip)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; medians are printed (default 3)")
    ap.add_argument("--frames", type=int, default=32, help="frames sampled per video (default 32)")
    ap.add_argument("--heatmaps", type=int, default=4, help="Grad-CAM heatmaps per video (default 4)")
    ap.add_argument("--weights", help="weights folder or Hub id (default: weights/detector, else an untrained stand-in)")
    ap.add_argument("--hd", action="store_true", help="also time a generated 10 s 1080p clip")
    ap.add_argument("--long", action="store_true", help="also compare peak memory of a 10 s and a 10 min clip, each in a fresh process")
    ap.add_argument("--long-minutes", type=float, default=10.0, help=argparse.SUPPRESS)
    ap.add_argument("--no-peer", action="store_true", help="skip MTCNN even where facenet-pytorch is installed")
    ap.add_argument("--temporal", action="store_true", help="also time the analysis with the temporal check (weights with a temporal head)")
    ap.add_argument("--windows", type=int, default=None, help="windows for --temporal (default: the weights')")
    ap.add_argument("--json", metavar="OUT", help="write the numbers as JSON to OUT ('-' = stdout)")
    ap.add_argument("--memory-child", metavar="VIDEO", help=argparse.SUPPRESS)
    ap.add_argument("--per-face-child", action="store_true", help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.repeats < 1 or a.frames < 1 or a.heatmaps < 0:
        ap.error("--repeats and --frames must be at least 1, --heatmaps at least 0")
    if a.memory_child:
        return _memory_child(a.memory_child, a.weights, a.frames, a.heatmaps)
    if a.per_face_child:
        return _per_face_child(a.weights)

    from dfdemo.analyzer import Analyzer, Settings

    load_before = os.getloadavg()[0]
    settings = Settings(frames=a.frames, heatmaps=a.heatmaps)
    with tempfile.TemporaryDirectory(prefix="dfdemo-bench-") as tmp:
        tmp = Path(tmp)
        path = Path(a.video) if a.video else write_clip(tmp / "clip_720p.mp4")
        weights, how = resolve_bench_weights(a.weights, tmp)
        with Analyzer.load(weights) as analyzer:
            if a.temporal and analyzer.detector.temporal_config is None:
                ap.error("--temporal: these weights have no temporal head")
            result = measure(analyzer, path, settings, weights, how, a, tmp)
        if a.long:
            short = path if not a.video else write_clip(tmp / "clip_720p.mp4")
            result["memory_flatness"] = memory_flatness(short, write_clip(tmp / "clip_long.mp4", seconds=60 * a.long_minutes),
                                                        weights, a.frames, a.heatmaps)
    result["machine"] = machine(load_before)
    result["targets"] = check_targets(result)
    write_result(result, a.json)
    return 0


def per_face_memory(weights: str) -> dict:
    """The classifier's memory, in a fresh process (``--per-face-child``) with glibc's mmap
    threshold fixed at 64 KiB, so that a freed activation goes back to the system and each
    peak below is the operation's own (in the benchmark's process the allocator keeps what the
    analyses freed, and a pass shows no rise at all): the RSS the loaded detector adds, its weights
    (the scoring copy counted where it has its own), and the rise of the peak RSS (VmHWM reset
    before each, after one warm-up run) over one scoring pass of 1 and of ``BATCH_SIZE`` faces
    and over Grad-CAM of one face (``explain.cam_maps``, as the analysis)."""
    cmd = [sys.executable, "-m", "dfdemo_lab", "bench", "--per-face-child", "--weights", weights]
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"per-face memory probe failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _per_face_child(weights: str) -> int:
    from dfdemo.detector import BATCH_SIZE, load_detector
    from dfdemo.explain import cam_maps

    start = _rss_mb()
    det = load_detector(weights)
    tensors = {id(t): t for net in (det.model, det.scorer) for t in (*net.parameters(), *net.buffers())}
    out = {"load_rss_mb": _rss_mb() - start, "weights_mb": sum(t.numel() * t.element_size() for t in tensors.values()) / 2**20,
           "parameters_m": sum(p.numel() for p in det.model.parameters()) / 1e6, "batch_size": BATCH_SIZE}
    s = det.config.input_size
    x = np.random.default_rng(0).integers(0, 256, (BATCH_SIZE, s, s, 3), dtype=np.uint8)  # memory does not depend on content
    for key, run in (("pass_1_mb", lambda: det.predict(x[:1], batch_size=1)),
                     ("pass_batch_mb", lambda: det.predict(x, batch_size=BATCH_SIZE)),
                     ("gradcam_1_mb", lambda: cam_maps(det, "blending", x[:1]))):
        run()  # lazy kernels and caches are not a face's
        _reset_peak_rss()
        before = _peak_rss_mb()
        run()
        out[key] = _peak_rss_mb() - before
    print(json.dumps(out))
    return 0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(analyzer, path: Path, settings, weights: str, how: str, a, tmp: Path) -> dict:
    """Every timing of one analyzer: the stages against the floor, memory, the classifier's
    batch rates, the peer detector, and (``--temporal``, ``--hd``) the temporal check and a
    1080p clip."""
    run = time_analyses(analyzer, path, settings, a.repeats)
    crops = run.pop("crops")
    media = run.pop("media")
    result = {
        "input": {"path": str(path) if a.video else "generated", "generated": not a.video, "width": media.get("width"),
                  "height": media.get("height"), "fps": media.get("fps"), "duration_s": media.get("duration_s")},
        "weights": {"source": weights if how != "untrained stand-in (no bundled weights yet)" else "bench:untrained",
                    "how": how, "model_id": analyzer.model_id},
        "settings": {"frames": a.frames, "heatmaps": a.heatmaps, "repeats": a.repeats, "no_peer": a.no_peer},
        **run,
        "memory": analysis_memory(analyzer, path, settings),  # before the batch-32 pass below
        "classifier": classifier_rates(analyzer.detector, crops, a.repeats),
        "checks": checks_cost(analyzer.detector, crops, a.repeats),
        "per_face": per_face_memory(weights) if _reset_peak_rss() else {},
    }
    result["peer"] = None if a.no_peer else peer_mtcnn(analyzer.faces, path, a.frames, a.repeats)
    if a.temporal:
        tcfg = analyzer.detector.temporal_config
        tm = time_analyses(analyzer, path, replace(settings, temporal=True, windows=a.windows), a.repeats, floor=False)
        result["temporal"] = {"total_s": tm["total_s"], "temporal_stage_s": tm["stages_s"]["temporal"],
                              "windows": a.windows or tcfg.windows, "window": tcfg.window,
                              "temporal_over_frame_only": tm["total_s"] / result["total_s"]}
    if a.hd:
        hd = time_analyses(analyzer, write_clip(tmp / "clip_1080p.mp4", 1920, 1080), settings, a.repeats)
        result["hd"] = {"total_s": hd["total_s"], "floor_s": hd["floor_s"], "stages_s": hd["stages_s"],
                        "ratio_to_floor": hd["ratio_to_floor"], "hd_over_720p": hd["total_s"] / result["total_s"]}
    return result


def memory_flatness(short: Path, long: Path, weights: str, frames: int, heatmaps: int) -> dict:
    """``--long``: peak memory of a short and a long clip, each analysed in a fresh process."""
    s, l_ = (child_memory(p, weights, frames, heatmaps) for p in (short, long))
    return {"short": s, "long": l_,
            "long_over_short_peak_rss": l_["peak_rss_mb"] / s["peak_rss_mb"],
            "short_rss_rise_mb": s["peak_rss_mb"] - s["rss_before_mb"],
            "long_rss_rise_mb": l_["peak_rss_mb"] - l_["rss_before_mb"],
            "long_over_short_tracemalloc": l_["tracemalloc_peak_mb"] / max(s["tracemalloc_peak_mb"], 1e-9)}


def machine(load_before: float) -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", ""), "load_before": load_before, "load_after": os.getloadavg()[0]}


def write_result(result: dict, json_out: str | None) -> None:
    """The printed summary (unless the JSON goes to stdout) and the JSON (``--json OUT``, '-' = stdout)."""
    if json_out != "-":
        print_result(result)
    if json_out:
        text = json.dumps(result, indent=2, sort_keys=True)
        if json_out == "-":
            print(text)
        else:
            Path(json_out).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
