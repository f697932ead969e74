"""``python -m dfdemo scan`` as a user runs it: complete JSON, heatmap PNGs, a summary, exit
codes, and one plain line on stderr per bad file while the good files are still analysed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest
from conftest import ROOT
from mediakit import assert_complete_report


def scan(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    env.pop("DFDEMO_WEIGHTS", None)
    return subprocess.run([sys.executable, "-m", "dfdemo", "scan", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_scan_photo_and_clip_json_and_heatmaps(photo, clip, tiny_weights, tmp_path):
    heat = tmp_path / "heat"
    run = scan(photo, clip, "--json", "-", "--frames", "8", "--heatmaps", heat, "--weights", tiny_weights)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    reports = json.loads(run.stdout)  # stdout is the JSON and nothing else
    assert [r["file"] for r in reports] == [str(photo), str(clip)]
    pr, cr = reports
    assert_complete_report(pr, "image")
    assert_complete_report(cr, "video")
    assert pr["frames_analyzed"] == 1 and cr["frames_analyzed"] == 8
    assert pr["model"] == cr["model"] == "test:untrained"
    assert len(pr["faces"]) == 1 and len(cr["faces"]) == 1 and len(cr["faces"][0]["frames"]) == 8
    assert cr["media"]["fps"] == pytest.approx(25.0) and cr["media"]["frame_count"] == 40
    for stage in ("probe", "decode", "detect", "classify", "explain", "total"):
        assert stage in cr["timings_s"]
    pngs = sorted(heat.glob("*.png"))
    assert pngs and {p for r in reports for h in r["heatmaps"] for p in [h["overlay_path"]]} == {str(p) for p in pngs}
    assert any(p.name.startswith("astronaut_face1") for p in pngs)
    assert any(p.name.startswith("moving_face_face1") for p in pngs)
    img = cv2.imread(str(pngs[0]))
    assert img is not None and img.shape == (224, 224, 3)
    for r in reports:
        for h in r["heatmaps"]:
            assert h["region_shares"] == {} or sum(h["region_shares"].values()) == pytest.approx(1.0, abs=1e-3)


def test_scan_json_to_file_and_summary(photo, tiny_weights, tmp_path):
    out = tmp_path / "reports.json"
    run = scan(photo, "--json", out, "--weights", tiny_weights)
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"{photo}: ") and "fake probability" in first and "1 face(s) in 1/1 frames" in first
    assert "face 1:" in run.stdout and "face 0" not in run.stdout  # numbered as in the app
    reports = json.loads(out.read_text())
    assert len(reports) == 1
    assert_complete_report(reports[0], "image")


def test_bad_inputs_exit_2_with_one_line_each_and_good_files_still_analysed(photo, clip, tiny_weights, tmp_path):
    missing = tmp_path / "missing.mp4"
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    run = scan(missing, photo, text, clip, empty, "--json", "-", "--frames", "4", "--weights", tiny_weights)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert lines == [f"error: {missing}: file not found",
                     f"error: {text}: not a readable video (corrupt, truncated, audio only, no frames or not really .mp4)",
                     f"error: {empty}: the file is empty"]
    reports = json.loads(run.stdout)
    assert [r["file"] for r in reports] == [str(photo), str(clip)]
    for r in reports:
        assert_complete_report(r)


def test_weights_that_cannot_be_loaded_exit_2(photo, tmp_path):
    run = scan(photo, "--weights", tmp_path / "no-weights-here")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [f"error: weights not found: {tmp_path / 'no-weights-here'} is neither a folder "
                                       "nor a Hub repo id (owner/name[@revision])"]
    run = scan(photo, "--weights", "nobody-here/no-such-model",
               env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "home")})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == ["error: Hub repo nobody-here/no-such-model is not in the local cache and the "
                                       "Hub cannot be reached (offline)"]
    assert run.stdout == ""


def test_usage_errors():
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", "x.mp4", "--frames", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--frames must be at least 1" in run.stderr


def test_every_option_says_what_it_does_and_its_default():
    from dfdemo_lab.cli import TOOLS

    top = subprocess.run([sys.executable, "-m", "dfdemo_lab", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert top.returncode == 0 and "see python -m dfdemo" not in top.stdout
    for name, (_, line) in TOOLS.items():  # every lab tool with a real one-line description
        assert name in top.stdout and " ".join(line.split()[:3]) in " ".join(top.stdout.split())
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    text = " ".join(run.stdout.split())
    chunks = text.split("options:")[1].split(" --")[1:]  # "name [METAVAR] help text", "--a, --b" pairs split
    options = {c.split()[0].rstrip(",") for c in chunks} - {"help", "no-temporal"}
    assert options == {"json", "frames", "weights", "fake-label", "heatmaps", "heatmaps-k", "threshold", "temporal", "windows", "max-faces"}
    for c in chunks:  # each option's help names its default
        if not c.split()[0].endswith(",") and c.split()[0] != "help":
            assert "default" in c, c
    assert "PATH videos and photos to analyse" in text


def test_a_lab_tool_named_to_the_library_says_where_it_went():
    """``python -m dfdemo train`` (and every other lab tool): one line naming ``python -m dfdemo_lab``, exit 2."""
    from dfdemo.cli import LAB_TOOLS
    from dfdemo_lab.cli import TOOLS

    assert set(LAB_TOOLS) == set(TOOLS)
    run = subprocess.run([sys.executable, "-m", "dfdemo", "explain-eval", "--n", "4"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "error: explain-eval is a lab tool: run python -m dfdemo_lab explain-eval\n"


@pytest.mark.parametrize("tool", ["explain-eval", "train"])
def test_a_lab_tool_without_its_crop_cache_says_so_in_one_line(tool, tmp_path):
    """No crop cache: one line naming the command that builds it, exit 2, no traceback."""
    run = subprocess.run([sys.executable, "-m", "dfdemo_lab", tool, "--cache", str(tmp_path / "faces")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [f"error: no crop cache at {tmp_path / 'faces' / 'index.npz'}: build it "
                                               f"first with python -m dfdemo_lab cache --out {tmp_path / 'faces'}"]


@pytest.mark.parametrize("tool", ["calibrate --weights weights/detector", "learn-kinds fit", "cache --out cache/never"])
def test_a_lab_tool_has_no_data_folder_outside_the_repository_by_default(tool, tmp_path):
    """The data folder is named (--shared DIR or $DFDEMO_SHARED), never assumed: without it one
    line says how, exit 2, nothing written; with it the tool goes on to its next check."""
    env = {k: v for k, v in os.environ.items() if k != "DFDEMO_SHARED"}
    run = subprocess.run([sys.executable, "-m", "dfdemo_lab", *tool.split()], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == ["error: no shared data folder: pass --shared DIR (e.g. --shared ../shared) "
                                               "or set DFDEMO_SHARED"]
    assert not (ROOT / "cache" / "never").exists()
    missing = subprocess.run([sys.executable, "-m", "dfdemo_lab", *tool.split()], cwd=ROOT,
                             env={**env, "DFDEMO_SHARED": str(tmp_path / "nowhere")}, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and str(tmp_path / "nowhere") in missing.stderr and "Traceback" not in missing.stderr


def test_the_analysis_names_its_images_and_writes_nothing(analyzer, photo, tmp_path, monkeypatch):
    """The report names each heatmap image (never a path); ``Analysis.images`` holds them under
    those names and ``write_images`` writes them where the caller says (here the CLI's folder)."""
    from dfdemo.analyzer import Settings

    monkeypatch.chdir(tmp_path)  # nothing may appear in the working folder either
    a = analyzer.analyze(photo, Settings(heatmaps=2), name="my holiday.jpg")
    assert a.report.file == "my holiday.jpg" and a.report.heatmaps and list(tmp_path.iterdir()) == []
    names = [h.overlay_path for h in a.report.heatmaps] + [h.learned_map_path for h in a.report.heatmaps if h.learned_map_path]
    assert sorted(names) == sorted(a.images) and all("/" not in n and n.startswith("my holiday_face") for n in names)
    assert all(im.dtype.name == "uint8" and im.ndim == 3 and im.shape[2] == 3 for im in a.images.values())
    written = a.write_images(tmp_path / "out")
    assert {n: p.name for n, p in written.items()} == {n: n for n in a.images} and all(p.is_file() for p in written.values())
    assert analyzer.analyze(photo, Settings(heatmaps=0)).report.file == str(photo)
