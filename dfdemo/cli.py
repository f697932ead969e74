"""Command line of the product: ``python -m dfdemo scan ...``.

``scan`` prints a short summary per file (or the JSON reports with ``--json``). Exit status:
0 when every file was analysed, 2 when any input was bad (one line on stderr per bad file,
no traceback); the other files are still analysed. The tools that make and measure a detector
(train, eval, calibrate, ...) live in the lab: ``python -m dfdemo NAME`` for one of them says to
run ``python -m dfdemo_lab NAME`` and exits 2 (the library never imports the lab).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .errors import DfdemoError
from .words import face_label

# the lab's tools (python -m dfdemo_lab NAME): named here only to point there
LAB_TOOLS = ("cache", "train", "gensim", "train-synthesis", "learn-kinds", "train-temporal", "eval", "calibrate", "bench", "bench-corpus",
             "explain-eval")

VALUE_OPTIONS = ("--json", "--frames", "--weights", "--fake-label", "--heatmaps", "--heatmaps-k", "--threshold", "--windows", "--max-faces")
# memory grows with frames x faces (crops, maps): 300 frames of 10 faces took 2.1 GB, 1000 heatmaps 8.3 GB
MAX_FRAMES, MAX_HEATMAPS, MAX_WINDOWS = 128, 16, 16


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
    if r.detector:
        d = r.detector
        lines.append(f"  detector: {d['family']} {d['architecture'].removeprefix('transformers:')}, "
                     f"fake = {', '.join(map(repr, d['fake_classes']))}; no learned map, no generator-traces or lip-sync check")
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(printable(line) for line in lines)


def _writable_file(out: str) -> str | None:
    """Why ``out`` cannot be written (checked before any work), or None."""
    p = Path(out)
    if p.is_dir():
        return f"--json {out}: is a folder; name a file in it (e.g. {p / 'reports.json'})"
    parent = p.parent
    if not parent.is_dir():
        return f"--json {out}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return f"--json {out}: cannot be written (permission denied)"
    return None


def _writable_folder(folder: str) -> str | None:
    """Why heatmaps cannot be written to ``folder`` (made here if missing), or None."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"--heatmaps {folder}: cannot make the folder ({(e.strerror or str(e)).lower()})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"--heatmaps {folder}: cannot be written (permission denied)"
    return None


def _write_reports(out: str, text: str) -> bool:
    """Write the JSON reports to ``out``; where that fails at the end, to a fallback file beside
    the temporary files, or else to stdout: the finished work is never lost. False on a fallback."""
    try:
        Path(out).write_text(text)
        return True
    except OSError as e:
        why = (e.strerror or str(e)).lower()
    fd, fallback = tempfile.mkstemp(prefix="dfdemo-reports-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _error(f"cannot write {out} ({why}); the reports are in {fallback}")
    except OSError:
        _error(f"cannot write {out} ({why}); the reports follow on stdout")
        print(text, end="", flush=True)
    return False


def with_paths(report, written: dict) -> object:
    """``report`` whose heatmaps give the paths their images were written to (``--heatmaps DIR``)
    instead of the images' names."""
    from dataclasses import replace

    def path(name):
        return str(written[name]) if name in written else name

    return replace(report, heatmaps=[replace(h, overlay_path=path(h.overlay_path), learned_map_path=path(h.learned_map_path))
                                     for h in report.heatmaps])


def cmd_scan(a: argparse.Namespace) -> int:
    from .analyzer import Analyzer, Settings
    from .report import reports_to_json

    settings = Settings(frames=a.frames, heatmaps=a.heatmaps_k if a.heatmaps else 0,
                        threshold=a.threshold, temporal=a.temporal, windows=a.windows, max_faces=a.max_faces)
    reports, failed = [], 0
    with Analyzer.load(a.weights, fake_label=a.fake_label) as analyzer:
        for path in a.paths:
            if path == "-":
                _error("-: scan reads files, not standard input; name the file (scan clip.mp4), or save the stream "
                       "to a file first")
                failed += 1
                continue
            try:
                analysis = analyzer.analyze(path, settings)
                r = with_paths(analysis.report, analysis.write_images(a.heatmaps)) if a.heatmaps else analysis.report
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
    elif a.json and not _write_reports(a.json, reports_to_json(reports) + "\n"):
        failed += 1
    return 2 if failed else 0


def cmd_corpus(a: argparse.Namespace) -> int:
    from .analyzer import Settings
    from .corpus import run

    if a.workers is not None and a.workers < 1 or a.tries < 1:
        _error("--workers and --tries must be at least 1")
        return 2
    settings = Settings(frames=a.frames, heatmaps=0, threshold=a.threshold, temporal=a.temporal, windows=a.windows,
                        max_duration_s=a.max_duration)
    summary = run(a.inputs, a.out, settings, weights=a.weights, workers=a.workers, address=a.address, glob=a.glob,
                  tries=a.tries)
    print(printable(summary.text()), flush=True)
    return 0


def _add_corpus(sub, scan: argparse.ArgumentParser) -> None:
    c = sub.add_parser("corpus", help="scan a folder or a list of files on Ray (this machine or a cluster) into a "
                                      "Parquet table and one JSON report per file; resumable")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="folders (walked recursively; media found by their first "
                                                              "bytes), text/CSV lists of paths, or files")
    c.add_argument("--out", required=True, help="output folder: parts/*.parquet (one row per file) and reports/*.json; "
                                                "running the same command again skips what it holds")
    c.add_argument("--glob", help="only paths matching this pattern, e.g. '*.mp4' (default: every file)")
    c.add_argument("--workers", type=int, default=None, help="analysers at once, one CPU each (default: every CPU of "
                                                             "the machine or cluster)")
    c.add_argument("--address", help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: "
                                     "$RAY_ADDRESS, else a local Ray started for this run)")
    c.add_argument("--tries", type=int, default=3, help="a file that kills its worker this many times gets an error "
                                                        "row (default 3)")
    c.add_argument("--max-duration", type=float, default=None, metavar="S",
                   help="refuse videos longer than S seconds: an error row (default: no limit)")
    for action in scan._actions:  # scan's analysis options, parsed and checked exactly as scan does
        if action.dest in ("frames", "weights", "threshold", "temporal", "windows"):
            c._add_action(action)
    c.set_defaults(json=None, heatmaps=None, heatmaps_k=0)  # scan's output options: none (main's checks read them)


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
    s.add_argument("paths", nargs="+", metavar="PATH", help="videos and photos to analyse, one report each (read from "
                                                           "files: '-' is not standard input)")
    s.add_argument("--json", metavar="OUT", help="write the reports as JSON to OUT ('-' = stdout, no summary; default: "
                                                 "none, print a summary per file)")
    s.add_argument("--frames", type=int, default=32, help=f"frames sampled evenly over a video (default 32, at most {MAX_FRAMES})")
    s.add_argument("--weights", help="weights folder or Hub repo id[@revision] (default: $DFDEMO_WEIGHTS, then weights/detector): "
                                     "dfdemo's weights, or a timm or transformers image classifier")
    s.add_argument("--fake-label", metavar="LABEL", help="a classifier's class(es) that mean fake, by label or index, "
                                                         "comma-separated (default: read from its labels)")
    s.add_argument("--heatmaps", metavar="DIR", help="write Grad-CAM overlays of the most suspicious faces to DIR "
                                                     "(default: none written)")
    s.add_argument("--heatmaps-k", type=int, default=4, help=f"how many heatmaps per file (default 4, at most {MAX_HEATMAPS})")
    s.add_argument("--threshold", type=float, default=None, help="decision threshold from 0 to 1 (default: the calibrated one)")
    s.add_argument("--temporal", action=argparse.BooleanOptionalAction, default=None,
                   help="temporal check over windows of consecutive frames (weights with a temporal head; default: "
                        "the weights' choice, off for the bundled ones)")
    s.add_argument("--windows", type=int, default=None, help=f"windows per video for the temporal check (default: the weights', at most {MAX_WINDOWS})")
    s.add_argument("--max-faces", type=int, default=10, help="faces analysed per frame, the clearest first; the others "
                                                             "are counted and listed as left out (1-50, default 10)")
    _add_corpus(sub, s)
    if argv[:1] == ["scan"] and _dash_names(argv):
        name = _dash_names(argv)[0]
        s.error(f"{printable(name)} is read as an option; to scan a file whose name starts with '-', "
                f"put -- before it (scan -- {printable(name)}) or write ./{printable(name)}")
    a = ap.parse_args(argv)
    if a.frames < 1:
        ap.error("--frames must be at least 1")
    if a.windows is not None and a.windows < 1:
        ap.error("--windows must be at least 1")
    if a.heatmaps_k < 0:
        ap.error("--heatmaps-k must be at least 0")
    if a.threshold is not None and not 0.0 <= a.threshold <= 1.0:  # NaN fails too
        ap.error(f"--threshold must be a number from 0 to 1, not {a.threshold}")
    for name, cap in (("frames", MAX_FRAMES), ("heatmaps_k", MAX_HEATMAPS), ("windows", MAX_WINDOWS)):
        if (getattr(a, name) or 0) > cap:
            print(f"note: --{name.replace('_', '-')} {getattr(a, name)} is more than the {cap} this command analyses "
                  f"(memory grows with it); {cap} used", file=sys.stderr, flush=True)
            setattr(a, name, cap)
    for problem in (a.json and a.json != "-" and _writable_file(a.json), a.heatmaps and _writable_folder(a.heatmaps)):
        if problem:
            _error(problem)
            return 2
    try:
        return cmd_corpus(a) if a.cmd == "corpus" else cmd_scan(a)
    except DfdemoError as e:  # weights that cannot be loaded, a corpus run that stopped
        _error(str(e))
        return 2
