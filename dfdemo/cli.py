"""Command line of the product: ``python -m dfdemo scan ...``.

``scan`` prints a short summary per file (or the JSON reports with ``--json``). Exit status:
0 when every file was analysed, 2 when any input was bad (one line on stderr per bad file,
no traceback); the other files are still analysed. The tools that make and measure a detector
(train, eval, calibrate, ...) live in the lab: ``python -m dfdemo NAME`` for one of them says to
run ``python -m dfdemo_lab NAME`` and exits 2 (the library never imports the lab).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import DfdemoError
from .words import face_label

# the lab's tools (python -m dfdemo_lab NAME): named here only to point there
LAB_TOOLS = ("cache", "train", "gensim", "train-synthesis", "train-temporal", "eval", "calibrate", "bench", "explain-eval")

VALUE_OPTIONS = ("--json", "--frames", "--weights", "--heatmaps", "--heatmaps-k", "--threshold", "--windows", "--max-faces")


def printable(text: str) -> str:
    """``text`` with control characters (a newline, an ANSI escape) and other unprintable ones
    written as escapes: a file name cannot move the cursor, recolour or forge terminal lines."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _error(message: str) -> None:
    print(f"error: {printable(message)}", file=sys.stderr, flush=True)


def _dash_names(argv: list[str]) -> list[str]:
    """Arguments of ``scan`` that argparse would take for options but that name media files
    (``-rf.mp4``): said before argparse's puzzling "the following arguments are required"."""
    from .media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    out, skip = [], False
    for arg in argv[1:]:
        if arg == "--":
            break
        if skip or not arg.startswith("-") or arg == "-":
            skip = False
            continue
        skip = arg in VALUE_OPTIONS
        if arg.split("=")[0] not in VALUE_OPTIONS and Path(arg).suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
            out.append(arg)
    return out


def _summary(r) -> str:
    p = "n/a" if r.fake_probability is None else f"{r.fake_probability:.3f}"
    lines = [f"{r.file}: {r.verdict.upper()} (fake probability {p}, threshold {r.threshold:.3f}; "
             f"{len(r.faces)} face(s) in {r.frames_with_face}/{r.frames_analyzed} frames; {r.timings_s.get('total', 0):.2f} s)"]
    for f in r.faces:
        temporal = (f" (frames {f.frame_probability:.3f}, temporal {f.temporal_probability:.3f} over {len(f.windows)} window(s))"
                    if f.temporal_probability is not None else "")
        lines.append(f"  {face_label(f.track_id)}: {f.verdict} {f.fake_probability:.3f} over {len(f.frames)} frame(s){temporal}"
                     + (f" [{'; '.join(f.warnings)}]" if f.warnings else ""))
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(printable(line) for line in lines)


def cmd_scan(a: argparse.Namespace) -> int:
    from .analyzer import Analyzer, Settings
    from .report import reports_to_json

    settings = Settings(frames=a.frames, heatmaps=a.heatmaps_k if a.heatmaps else 0, heatmap_dir=a.heatmaps,
                        threshold=a.threshold, temporal=a.temporal, windows=a.windows, max_faces=a.max_faces)
    reports, failed = [], 0
    with Analyzer.load(a.weights) as analyzer:
        for path in a.paths:
            try:
                r = analyzer.analyze(path, settings).report
            except DfdemoError as e:
                _error(str(e))
                failed += 1
                continue
            except OSError as e:  # the library names input problems itself; this is the safety net
                _error(f"{path}: {(e.strerror or str(e)).lower()}")
                failed += 1
                continue
            reports.append(r)
            if a.json != "-":
                print(_summary(r), flush=True)
    if a.json == "-":
        print(reports_to_json(reports))
    elif a.json:
        Path(a.json).write_text(reports_to_json(reports) + "\n")
    return 2 if failed else 0


def main(argv: list[str] | None = None) -> int:
    from .runtime import configure_process

    configure_process()  # before torch loads: this process's threads and OpenMP spin
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in LAB_TOOLS:
        _error(f"{argv[0]} is a lab tool: run python -m dfdemo_lab {argv[0]}")
        return 2
    ap = argparse.ArgumentParser(prog="python -m dfdemo", description="Explainable deepfake detection for videos and photos.",
                                 epilog="Options: python -m dfdemo scan --help. Training, evaluation, calibration, "
                                        "faithfulness and benchmarks: python -m dfdemo_lab --help.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan", help="analyse videos/photos and print a verdict per file")
    s.add_argument("paths", nargs="+", metavar="PATH", help="videos and photos to analyse, one report each")
    s.add_argument("--json", metavar="OUT", help="write the reports as JSON to OUT ('-' = stdout, no summary; default: "
                                                 "none, print a summary per file)")
    s.add_argument("--frames", type=int, default=32, help="frames sampled evenly over a video (default 32)")
    s.add_argument("--weights", help="weights folder or Hub repo id[@revision] (default: $DFDEMO_WEIGHTS, then weights/detector)")
    s.add_argument("--heatmaps", metavar="DIR", help="write Grad-CAM overlays of the most suspicious faces to DIR "
                                                     "(default: none written)")
    s.add_argument("--heatmaps-k", type=int, default=4, help="how many heatmaps per file (default 4)")
    s.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the calibrated one)")
    s.add_argument("--temporal", action=argparse.BooleanOptionalAction, default=None,
                   help="temporal check over windows of consecutive frames (weights with a temporal head; default: "
                        "the weights' choice, off for the bundled ones)")
    s.add_argument("--windows", type=int, default=None, help="windows per video for the temporal check (default: the weights')")
    s.add_argument("--max-faces", type=int, default=10, help="faces analysed per frame, the clearest first; the others "
                                                             "are counted and listed as left out (1-50, default 10)")
    if argv[:1] == ["scan"] and _dash_names(argv):
        name = _dash_names(argv)[0]
        s.error(f"{printable(name)} is read as an option; to scan a file whose name starts with '-', "
                f"put -- before it (scan -- {printable(name)}) or write ./{printable(name)}")
    a = ap.parse_args(argv)
    if a.frames < 1:
        ap.error("--frames must be at least 1")
    if a.windows is not None and a.windows < 1:
        ap.error("--windows must be at least 1")
    try:
        return cmd_scan(a)
    except DfdemoError as e:  # weights that cannot be loaded
        _error(str(e))
        return 2
