"""Benchmark: ``corpus`` on Ray (1 and 2 workers) against plain sequential ``scan``, same files, same run.

``python -m dfdemo_lab bench-corpus [INPUT] [--files 48] [--frames 16] [--workers 1 2] [--json OUT]``

INPUT is what ``corpus`` takes (a folder, a text/CSV list such as ../shared's dev-eval
``index.csv``); its first ``--files`` media files are used. Without INPUT the benchmark writes
its own: clips of a real face (``bench.write_clip``, 4 s, 640x360) and photos of it, each one
different. Measured in this one process, in this order:

* **sequential**: ``Analyzer.load`` then ``analyze`` per file, as ``scan`` does (torch on every
  core); files/s over the analysis loop, over load + loop, and steady (first to last file).
  Then the same on one torch thread, as each Ray worker runs.
* **corpus, N workers**: ``dfdemo.corpus.run`` into a fresh folder with a local Ray of N CPUs
  (one torch thread per worker): Ray's startup (``ray.init``), the scan stage (workers start,
  load the model, analyse; until the last row), files/s over the scan stage and over the whole
  run, the steady rate between the first and the last row, and the peak RSS of a worker
  (memory per actor: its ``ru_maxrss``, models and libraries included).

The machine's load average is printed before and after: on shared cores the ratios, measured
minutes apart in one run, mean more than the absolute times.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from .errors import LabError


def make_corpus(folder: Path, n: int) -> list[str]:
    """``n`` distinct media files in ``folder``: every other one a 4 s 640x360 clip, the rest photos."""
    import cv2
    import skimage.data

    from .bench import write_clip

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(str(write_clip(folder / f"clip{i:03d}.mp4", 640, 360, seconds=4.0 + 0.1 * i, fps=25.0)))
        else:
            img = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
            img = cv2.resize(img, (512 + 8 * i, 512 + 8 * i))
            cv2.imwrite(str(folder / f"photo{i:03d}.png"), img)
            out.append(str(folder / f"photo{i:03d}.png"))
    return out


def pick_files(inputs: list[str], n: int) -> list[str]:
    """The first ``n`` files of ``inputs`` that are media by their first bytes."""
    from dfdemo.corpus import identify, list_inputs

    walked, listed = list_inputs(inputs)
    out = []
    for p in sorted(set(walked) | set(listed)):
        if identify(p)["kind"] is not None:
            out.append(p)
        if len(out) == n:
            return out
    raise LabError(f"{', '.join(inputs)}: only {len(out)} media file(s), fewer than --files {n}")


def sequential(files: list[str], settings, weights: str | None, threads: int) -> dict:
    import torch

    from dfdemo.analyzer import Analyzer
    from dfdemo.errors import DfdemoError

    torch.set_num_threads(threads)

    t0 = time.perf_counter()
    with Analyzer.load(weights) as analyzer:
        t1 = time.perf_counter()
        ends = []
        for p in files:
            try:
                analyzer.analyze(p, settings)
            except DfdemoError:
                pass  # a bad file costs what it costs, as in scan
            ends.append(time.perf_counter())
        t2 = time.perf_counter()
    return {"load_s": t1 - t0, "analyse_s": t2 - t1, "first_file_s": ends[0] - t1, "files_per_s": len(files) / (t2 - t1),
            "files_per_s_with_load": len(files) / (t2 - t0), "steady_files_per_s": (len(ends) - 1) / (ends[-1] - ends[0])}


def on_ray(files: list[str], settings, weights: str | None, workers: int, folder: Path) -> dict:
    from dfdemo.corpus import read_table, run

    listing = folder / f"list{workers}.txt"
    listing.write_text("\n".join(files) + "\n")
    s = run([str(listing)], folder / f"out{workers}", settings, weights=weights, workers=workers, progress=False)
    t = read_table(folder / f"out{workers}").to_pydict()
    done = sorted(t["finished_at"])
    steady = (len(done) - 1) / (done[-1] - done[0]).total_seconds() if len(done) > 2 and done[-1] > done[0] else None
    rss = [m for m in t["worker_peak_rss_mb"] if m is not None]
    return {"workers": workers, "ray_startup_s": s.startup_s, "scan_s": s.scan_s, "total_s": s.total_s,
            "files_per_s": s.files_per_s, "files_per_s_total": s.scanned / s.total_s, "steady_files_per_s": steady,
            "worker_peak_rss_mb": max(rss) if rss else None, "scanned": s.scanned, "errors": s.errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dfdemo_lab bench-corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="folder or list of media (default: generated clips and photos)")
    ap.add_argument("--files", type=int, default=48, help="files to scan (default 48)")
    ap.add_argument("--frames", type=int, default=16, help="frames sampled per video (default 16)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts to run (default 1 2)")
    ap.add_argument("--weights", help="weights folder or Hub id (default: as scan)")
    ap.add_argument("--json", metavar="OUT", help="write the numbers as JSON to OUT")
    a = ap.parse_args(argv)
    if a.files < 2 or a.frames < 1 or min(a.workers) < 1:
        raise LabError("--files must be at least 2, --frames and --workers at least 1")
    from dfdemo.analyzer import Settings

    settings = Settings(frames=a.frames, heatmaps=0)
    with tempfile.TemporaryDirectory(prefix="dfdemo-bench-corpus-") as tmp:
        files = pick_files(a.inputs, a.files) if a.inputs else make_corpus(Path(tmp) / "media", a.files)
        result = {"files": len(files), "frames": a.frames, "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
        # scan as it runs (torch on every core), and on one thread as each Ray worker runs
        result["sequential"] = sequential(files, settings, a.weights, os.cpu_count() or 1)
        result["sequential_1_thread"] = sequential(files, settings, a.weights, 1)
        result["ray"] = [on_ray(files, settings, a.weights, w, Path(tmp)) for w in a.workers]
        result["load_after"] = os.getloadavg()[0]
    seq = result["sequential"]
    print(f"{len(files)} files, --frames {a.frames}, {result['cpus']} CPUs, load average {result['load_before']:.1f} -> "
          f"{result['load_after']:.1f}")
    one = result["sequential_1_thread"]
    print(f"sequential scan, 1 torch thread: {one['files_per_s']:.2f} files/s, steady {one['steady_files_per_s']:.2f}")
    print(f"sequential scan: load {seq['load_s']:.1f} s, first file {seq['first_file_s']:.1f} s, {seq['files_per_s']:.2f} "
          f"files/s ({seq['files_per_s_with_load']:.2f} with the load), steady {seq['steady_files_per_s']:.2f} (first to last file)")
    for r in result["ray"]:
        steady = (f"{r['steady_files_per_s']:.2f} ({r['steady_files_per_s'] / seq['steady_files_per_s']:.2f}x)"
                  if r["steady_files_per_s"] else "n/a")
        print(f"corpus, {r['workers']} worker(s): Ray startup {r['ray_startup_s']:.1f} s, scan stage {r['scan_s']:.1f} s; "
              f"{r['files_per_s']:.2f} files/s over the scan stage ({r['files_per_s'] / seq['files_per_s']:.2f}x "
              f"sequential), {r['files_per_s_total']:.2f} over the whole run ({r['files_per_s_total'] / seq['files_per_s_with_load']:.2f}x), "
              f"steady {steady}, first to last row; peak RSS per worker {r['worker_peak_rss_mb']:.0f} MB; {r['errors']} error(s)")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0
