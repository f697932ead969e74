"""``python -m dfdemo_lab eval`` with the bundled weights on test-made media: a short video, a photo
(which the lip-sync check does not judge: no cut for photos), and a file the product refuses.
The run finishes, the bad file is an error row, the numbers are over the files that were analysed."""
from __future__ import annotations

import json
import math
import subprocess
import sys

from conftest import ROOT, moving_face_frames
from dfdemo.config import load_config
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
    # each learned check at its own cut for each kind of media: null where it does not judge it
    # (lip-sync on a photo), never a crash
    cfg = load_config(ROOT / "weights" / "detector")
    for name, head in cfg.learned().items():
        expect = [None if (c := head.cut(k)) is None else c.threshold for k in ("video", "image")]
        assert got["thresholds"][name][:2] == expect, name
    assert got["thresholds"]["animation"][1] is None and got["files"][1]["scores"]["animation"] is None
    overall = got["summary"]["overall"]
    assert (overall["n_fake"], overall["n_real"]) == (1, 1)  # the bad file is in no number
    for model in ("dfdemo", "synthesis", "checks"):  # (lip-sync judges one file here: no AUC of one class)
        assert 0 <= overall[model]["video_auc"] <= 1 and not math.isnan(overall[model]["accuracy"])
    assert overall["animation"]["fpr"] in (0.0, 1.0)  # one real clip (the photo is not judged for lip-sync)
