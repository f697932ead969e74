"""Golden report: ``python -m dfdemo scan --json`` with the bundled weights on the generated test
media gives the report saved in ``tests/golden/scan_bundled.json``, field for field.

A refactoring must leave the product's output unchanged: verdicts, scores, boxes, heatmap
region shares, notes, warnings, thresholds. Only what legitimately varies between runs is
left out of the comparison: the timings (their values; the stage names stay) and the temporary
folders (the file and heatmap paths are compared by name). A change that is meant to alter the
output rewrites the golden on purpose: ``DFDEMO_WRITE_GOLDEN=1 pytest tests/test_golden.py``,
and the diff of the JSON shows what changed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, moving_face_frames
from mediakit import write_video

GOLDEN = Path(__file__).resolve().parent / "golden" / "scan_bundled.json"
GOLDEN_TEMPORAL = Path(__file__).resolve().parent / "golden" / "scan_temporal.json"
BUNDLED = ROOT / "weights" / "detector"


def normalised(reports: list[dict]) -> list[dict]:
    """The reports without what varies between runs: timing values and temporary folders."""
    out = []
    for r in reports:
        r = dict(r, file=Path(r["file"]).name, timings_s=sorted(r["timings_s"]))
        r["heatmaps"] = [{**h, **{k: Path(h[k]).name for k in ("overlay_path", "learned_map_path") if h.get(k)}}
                         for h in r["heatmaps"]]
        out.append(r)
    return out


def scan_matches(golden: Path, *args) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DFDEMO_WEIGHTS"}  # the bundled weights unless --weights
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", *map(str, args), "--json", "-"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    got = json.dumps(normalised(json.loads(run.stdout)), indent=2, sort_keys=True) + "\n"
    if os.environ.get("DFDEMO_WRITE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got)
    assert got == golden.read_text()


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
