"""``python -m dfdemo_lab eval`` with the bundled weights on test-made media: a short video (which
the generator-traces check does not judge: no clip cut), a photo, and a file the product refuses.
The run finishes, the bad file is an error row, the numbers are over the files that were analysed."""
from __future__ import annotations

import json
import math
import subprocess
import sys

from conftest import ROOT, moving_face_frames
from mediakit import write_video


def test_lab_eval_runs_on_a_video_a_photo_and_a_bad_file_with_the_bundled_weights(photo, tmp_path):
    write_video(tmp_path / "clip.mp4", moving_face_frames(12)[0])
    (tmp_path / "photo.png").write_bytes(photo.read_bytes())
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all\n" * 10)
    (tmp_path / "index.csv").write_text("path,label,method,kind\nclip.mp4,real,,video\nphoto.png,fake,test,image\n"
                                        "broken.mp4,fake,test,video\n")
    out = tmp_path / "eval.json"
    run = subprocess.run([sys.executable, "-m", "dfdemo_lab", "eval", tmp_path / "index.csv", "--frames", "4",
                          "--weights", ROOT / "weights" / "detector", "--json", out],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "1 of 3 file(s) could not be analysed" in run.stderr
    got = json.loads(out.read_text())
    files = {f["path"]: f for f in got["files"]}
    assert "error" in files["broken.mp4"] and "error" not in files["clip.mp4"] and "error" not in files["photo.png"]
    assert files["clip.mp4"]["faces"] == 1 and files["photo.png"]["faces"] == 1
    # the video is not judged by the generator-traces check (no cut: null), the photo is
    assert got["thresholds"]["synthesis"][0] is None and 0 < got["thresholds"]["synthesis"][1] < 1
    overall = got["summary"]["overall"]
    assert (overall["n_fake"], overall["n_real"]) == (1, 1)  # the bad file is in no number
    for model in ("dfdemo", "synthesis", "checks"):
        assert 0 <= overall[model]["video_auc"] <= 1 and not math.isnan(overall[model]["accuracy"])
    assert overall["synthesis"]["fpr"] == 0.0  # a video without a cut is never called fake by that check
