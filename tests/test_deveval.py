"""Real clips from ../shared/data/dev-eval (skipped where it is absent): a face is found and the
report is complete. The scan of all 59 files runs only with DFDEMO_SLOW=1 (a few minutes)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from conftest import DEV_EVAL, ROOT, needs_shared
from mediakit import assert_complete_report

from dfdemo import Settings

pytestmark = needs_shared()


def dev_eval_rows() -> list[dict]:
    with open(DEV_EVAL, newline="") as f:
        return list(csv.DictReader(f))


DEV_EVAL_FILES = len(dev_eval_rows()) if DEV_EVAL.exists() else "the"  # the skip message names the real count


def pick(rows, n: int) -> list[dict]:
    """One file from each of ``n`` different sources (folders), real and fake alternating."""
    seen, out = set(), []
    for label in ("fake", "real") * n:
        for r in rows:
            folder = r["path"].split("/")[0]
            if r["label"] == label and folder not in seen and r["kind"] == "video":
                seen.add(folder)
                out.append(r)
                break
        if len(out) == n:
            break
    return out


def test_a_face_in_three_dev_eval_videos(analyzer):
    rows = pick(dev_eval_rows(), 3)
    assert len(rows) == 3
    for row in rows:
        path = DEV_EVAL.parent / row["path"]
        r = analyzer.analyze(path, Settings(frames=8, heatmaps=1)).report
        d = r.to_dict()
        assert_complete_report(d, "video")
        assert r.verdict != "no_face" and r.frames_analyzed == 8
        assert r.frames_with_face >= 6, (row["path"], r.frames_with_face)
        assert r.media["width"] > 0 and r.media["fps"] > 0 and r.media["duration_s"] > 0
        assert len(r.heatmaps) == 1
        assert json.loads(r.to_json()) == json.loads(json.dumps(d))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("DFDEMO_SLOW") != "1", reason=f"scans all {DEV_EVAL_FILES} dev-eval files (minutes); set DFDEMO_SLOW=1")
def test_scan_every_dev_eval_file(tiny_weights, tmp_path):
    """``python -m dfdemo scan`` over the whole dev-eval set: exit 0, a complete report and a
    face for every file. Prints how many sampled frames had no face."""
    frames = int(os.environ.get("DFDEMO_SLOW_FRAMES", "16"))
    rows = dev_eval_rows()
    paths = [str(DEV_EVAL.parent / r["path"]) for r in rows]
    out = tmp_path / "reports.json"
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", *paths, "--frames", str(frames), "--json", str(out),
                          "--weights", str(tiny_weights)], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    reports = json.loads(out.read_text())
    assert [r["file"] for r in reports] == paths
    for r in reports:
        assert_complete_report(r)
    without = [r["file"] for r in reports if not r["faces"]]
    frames_total = sum(r["frames_analyzed"] for r in reports)
    frames_no_face = sum(r["frames_analyzed"] - r["frames_with_face"] for r in reports)
    print(f"\ndev-eval: {len(reports) - len(without)}/{len(reports)} files with a face; "
          f"{frames_no_face}/{frames_total} sampled frames without a face")
    assert without == []
    assert frames_no_face <= 0.02 * frames_total
