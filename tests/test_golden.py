"""Golden report: ``python -m dfdemo scan --json`` with the bundled weights on the generated test
media gives the report saved in ``tests/golden/scan_bundled.json``, field for field.

A refactoring must leave the product's output unchanged: verdicts, scores, boxes, heatmap
region shares, notes, warnings, thresholds. Only what legitimately varies between runs is
left out of the comparison: the timings (their values; the stage names stay) and the temporary
folders (the file and heatmap paths are compared by name).

Structure, verdicts, words, counts and names are compared exactly; numbers that come out of
floating-point arithmetic are compared within a tolerance (``SCORE_TOL``, ``SHARE_TOL``, ``PIXEL_TOL``): the same
packages on another machine (another CPU, BLAS kernel or thread count) sum in another order, and
scores move by ~1e-4 (0.245202 here, 0.245223 there), heatmap region shares by ~5e-3. A change that matters moves them far more. A change that is meant to alter the
output rewrites the golden on purpose: ``DFDEMO_WRITE_GOLDEN=1 pytest tests/test_golden.py``,
and the diff of the JSON shows what changed.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, moving_face_frames
from mediakit import write_video

GOLDEN = Path(__file__).resolve().parent / "golden" / "scan_bundled.json"
GOLDEN_TEMPORAL = Path(__file__).resolve().parent / "golden" / "scan_temporal.json"
BUNDLED = ROOT / "weights" / "detector"
# Why tolerances: floating-point sums differ across CPUs, BLAS kernels and thread counts (and a
# video decoder build), so the same weights on the same media give scores ~1e-4 apart on two
# machines, up to 3e-3 for a frame whose face box moved by a pixel; Grad-CAM's region shares, a
# gradient map rescaled by its own maximum, move up to ~6e-3 (measured 2026-12-03, same packages).
SCORE_TOL = 0.01  # probabilities and seconds: 3x the largest drift measured
SHARE_TOL = 0.02  # heatmap region shares
PIXEL_TOL = 1.0  # face boxes and sizes (pixels): BlazeFace's float box may round to the next pixel
KEY_TOL = {"box": PIXEL_TOL, "face_size_px": PIXEL_TOL, "region_shares": SHARE_TOL,
           "learned_map_shares": SHARE_TOL, "learned_map_mean": SHARE_TOL}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def normalised(reports: list[dict]) -> list[dict]:
    """The reports without what varies between runs: timing values and temporary folders."""
    out = []
    for r in reports:
        r = dict(r, file=Path(r["file"]).name, timings_s=sorted(r["timings_s"]))
        r["heatmaps"] = [{**h, **{k: Path(h[k]).name for k in ("overlay_path", "learned_map_path") if h.get(k)}}
                         for h in r["heatmaps"]]
        out.append(r)
    return out


def differences(got, want, path: str = "report", tol: float = SCORE_TOL) -> list[str]:
    """Where ``got`` differs from ``want``: types, keys, lengths, strings, ints and bools exactly,
    floats within ``tol`` (or the key's own, ``KEY_TOL``); numbers inside a sentence are
    compared the same way, its words exactly."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or sorted(got) != sorted(want):
            return [f"{path}: keys {sorted(got) if isinstance(got, dict) else type(got).__name__} != {sorted(want)}"]
        return [d for k in want for d in differences(got[k], want[k], f"{path}.{k}", KEY_TOL.get(k, tol))]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: {got!r} != {want!r}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]", tol)]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return [] if math.isclose(got, want, rel_tol=0, abs_tol=tol) else [f"{path}: {got} != {want} (tolerance {tol})"]
    if isinstance(want, str) and isinstance(got, str):
        same_words = NUMBER.split(got) == NUMBER.split(want)
        gn, wn = NUMBER.findall(got), NUMBER.findall(want)
        if same_words and all(g == w or ("." in w and math.isclose(float(g), float(w), rel_tol=0, abs_tol=tol))
                              for g, w in zip(gn, wn)):
            return []
    return [] if type(got) is type(want) and got == want else [f"{path}: {got!r} != {want!r}"]


def test_the_comparison_catches_what_matters_and_forgives_float_noise():
    want = {"verdict": "real", "fake_probability": 0.245202, "frames": [{"box": [177.0, 82.0], "index": 0}],
            "notes": ["face scored 0.25"]}
    same = {"verdict": "real", "fake_probability": 0.245223, "frames": [{"box": [178.0, 82.0], "index": 0}],
            "notes": ["face scored 0.25"]}
    assert differences(same, want) == []
    for path, value in [("verdict", "fake"), ("fake_probability", 0.26), ("notes", ["face scored 0.35"]),
                        ("notes", ["face judged 0.25"]), ("frames", [{"box": [180.0, 82.0], "index": 0}]),
                        ("frames", [{"box": [177.0, 82.0], "index": 1}]), ("frames", []), ("extra", 1)]:
        assert differences({**same, path: value}, want), (path, value)


def scan_matches(golden: Path, *args) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DFDEMO_WEIGHTS"}  # the bundled weights unless --weights
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", *map(str, args), "--json", "-"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    got = normalised(json.loads(run.stdout))
    if os.environ.get("DFDEMO_WRITE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    wrong = differences(got, json.loads(golden.read_text()))
    assert not wrong, f"{len(wrong)} difference(s) from {golden.name}:\n" + "\n".join(wrong[:20])


def test_scan_json_matches_the_golden_report(photo, two_face_photo, clip, tmp_path):
    frames, _ = moving_face_frames(24)
    rotated = write_video(tmp_path / "rotated.mp4", frames, rotation=90)
    scan_matches(GOLDEN, photo, two_face_photo, clip, rotated, "--frames", "8", "--heatmaps", tmp_path / "heat",
                 "--heatmaps-k", "3")


def test_scan_with_a_temporal_head_matches_the_golden_report(photo, clip, tmp_path):
    """The bundled detector plus an untrained temporal head (seeded; tests only, never shipped):
    the combined score, its own threshold and the window notes."""
    import torch

    from dfdemo.temporal import TEMPORAL_FILE, TemporalHead

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy2(BUNDLED / "model.safetensors", weights / "model.safetensors")
    config = json.loads((BUNDLED / "config.json").read_text())
    config["dfdemo"]["temporal"] = {"window": 8, "windows": 3, "embed_dim": 1280, "hidden": 16, "differences_only": False,
                                    "frame_weight": 0.5, "threshold": 0.45, "uncertain_band": [0.4, 0.6],
                                    "default_on": True}
    (weights / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    state = {k: v.half().contiguous() for k, v in TemporalHead(1280, 16).state_dict().items()}
    from safetensors.torch import save_file

    save_file(state, str(weights / TEMPORAL_FILE), metadata={"format": "pt"})
    short = write_video(tmp_path / "short.mp4", moving_face_frames(6)[0])  # fewer frames than one window
    scan_matches(GOLDEN_TEMPORAL, clip, short, photo, "--weights", weights, "--frames", "6", "--heatmaps-k", "0")
