"""The benchmark runs end to end on a tiny generated clip and its numbers hang together.
Speed is measured, not asserted: no test here checks a time against a limit."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import pytest

from conftest import astronaut

from dfdemo.detector import load_detector
from dfdemo_lab import bench
from dfdemo_lab.cli import main as cli_main


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return bench.write_clip(tmp_path_factory.mktemp("bench") / "tiny.mp4", width=320, height=240, seconds=1.0, fps=10)


def _run(tmp_path, capsys, clip, weights, *extra):
    out = tmp_path / "bench.json"
    argv = ["bench", str(clip), "--repeats", "1", "--frames", "4", "--heatmaps", "1",
            "--weights", str(weights), "--json", str(out), *extra]
    assert cli_main(argv) == 0
    return capsys.readouterr().out, json.loads(out.read_text())


def test_write_clip_makes_a_video_with_a_face(tiny_clip, analyzer):
    from dfdemo import Settings

    r = analyzer.analyze(tiny_clip, Settings(frames=4, heatmaps=0)).report
    assert (r.media["width"], r.media["height"], r.media["frame_count"]) == (320, 240, 10)
    assert r.frames_with_face == r.frames_analyzed == 4


def test_bench_prints_and_writes_consistent_numbers(tmp_path, capsys, tiny_clip, tiny_weights):
    printed, r = _run(tmp_path, capsys, tiny_clip, tiny_weights, "--no-peer")
    for text in ("ratio_to_floor", "floor", "faces/s at batch 1", "peak RSS", "targets:", "per face: scoring"):
        assert text in printed
    pf = r["per_face"]  # the classifier's memory, from a fresh process: its weights, and activations that are not zero
    det = load_detector(tiny_weights)  # dfdemo's weights: the scorer is a folded copy, so counted twice
    held = {id(t): t for net in (det.model, det.scorer) for t in (*net.parameters(), *net.buffers())}
    assert pf["weights_mb"] == pytest.approx(sum(t.numel() * t.element_size() for t in held.values()) / 2**20)
    assert pf["weights_mb"] > 1.9 * sum(p.numel() * 4 for p in det.model.parameters()) / 2**20
    assert pf["pass_batch_mb"] > pf["pass_1_mb"] > 0 and pf["gradcam_1_mb"] > 0
    assert set(r["stages_s"]) == {"probe", "decode", "detect", "crop", "classify", "report", "explain"}
    assert all(v >= 0 for v in r["stages_s"].values())
    assert r["floor_s"] == pytest.approx(r["decode_s"] + r["detect_s"])
    assert 0 < r["floor_s"] <= r["total_s"]
    assert r["ratio_to_floor"] == pytest.approx(r["total_s"] / r["floor_s"])
    assert sum(r["stages_s"].values()) <= r["total_s"] * 1.01
    assert r["frames_analyzed"] == 4 and r["frames_with_face"] == 4 and r["heatmaps"] == 1
    c = r["classifier"]
    assert c["crops"] == 4 and min(c["batch1_faces_per_s"], c["batched_faces_per_s"], c["one_pass_faces_per_s"]) > 0
    mem = r["memory"]
    assert mem["peak_rss_mb"] >= mem["rss_before_mb"] > 0 and mem["tracemalloc_peak_mb"] > 0
    assert r["settings"] == {"frames": 4, "heatmaps": 1, "repeats": 1, "no_peer": True}
    assert r["peer"] is None and "hd" not in r and "memory_flatness" not in r
    assert set(r["targets"]) == {"ratio_to_floor", "total_s"}
    assert r["targets"]["ratio_to_floor"]["met"] == (r["ratio_to_floor"] <= 2.0)


def test_bench_json_to_stdout(tmp_path, capsys, tiny_clip, tiny_weights):
    argv = ["bench", str(tiny_clip), "--repeats", "1", "--frames", "2", "--heatmaps", "0",
            "--weights", str(tiny_weights), "--no-peer", "--json", "-"]
    assert cli_main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["heatmaps"] == 0 and r["stages_s"]["explain"] >= 0


def test_memory_probe_runs_in_a_fresh_process(tiny_clip, tiny_weights):
    m = bench.child_memory(tiny_clip, str(tiny_weights), frames=4, heatmaps=1)
    assert m["frames_analyzed"] == 4
    assert m["peak_rss_mb"] >= m["rss_before_mb"] > 0 and m["rss_after_load_mb"] > 0
    assert m["tracemalloc_peak_mb"] > 0


def test_untrained_stand_in_when_no_weights_are_given(tmp_path, monkeypatch):
    monkeypatch.setattr("dfdemo.weights.BUNDLED_WEIGHTS", tmp_path / "absent")
    source, how = bench.resolve_bench_weights(None, tmp_path)
    assert "untrained" in how
    from dfdemo import load_detector

    assert load_detector(source).config.model_id == "bench:untrained"


@pytest.mark.skipif(importlib.util.find_spec("facenet_pytorch") is None, reason="facenet-pytorch (benchmark extra) not installed")
def test_mtcnn_peer_on_the_same_frames(tmp_path, capsys, tiny_clip, tiny_weights):
    printed, r = _run(tmp_path, capsys, tiny_clip, tiny_weights)
    q = r["peer"]
    assert q["frames"] == 4 and q["mtcnn_s"] > 0 and q["ours_s"] > 0
    assert q["mtcnn_over_ours"] == pytest.approx(q["mtcnn_s"] / q["ours_s"])
    assert set(q["frames_with_face"]) == {"ours", "mtcnn", "mtcnn_at_detect_side"}
    assert "MTCNN" in printed and "mtcnn_over_ours" in r["targets"]


def test_fast_gradcam_equals_full_backward_and_restores_the_model(tiny_weights):
    """The Grad-CAM speed-up (frozen parameters, graph from the target layer) changes no map."""
    import numpy as np
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

    from dfdemo import load_detector
    from dfdemo.explain import gradcam

    det = load_detector(tiny_weights)
    crops = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    x = det.preprocess(crops)
    with torch.enable_grad(), GradCAM(model=det.model, target_layers=[det.target_layer]) as cam:
        full = cam(input_tensor=x.float().contiguous(), targets=[BinaryClassifierOutputTarget(1)] * 2)
    np.testing.assert_allclose(gradcam(det.model, det.target_layer, x), full, atol=1e-5)
    assert all(p.requires_grad for p in det.model.parameters())
    assert not det.model._forward_hooks and not det.target_layer._forward_hooks


def test_read_ahead_keeps_order_forwards_errors_and_stops_the_reader():
    import threading

    from dfdemo.media import read_ahead
    from dfdemo.errors import MediaError

    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))

    def broken():
        yield 1
        raise MediaError("no frame could be decoded")

    with pytest.raises(MediaError, match="no frame"):
        list(read_ahead(broken()))

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    it = read_ahead(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # the consumer stops early: the reader stops and closes its source
    assert closed.is_set()
    assert not any(t.name == "dfdemo-read-ahead" for t in threading.enumerate())


def test_folded_scorer_gives_the_same_scores_and_leaves_the_model_alone(tiny_weights):
    import numpy as np
    import torch

    from dfdemo import Detector, load_detector

    det = load_detector(tiny_weights)
    crops = np.random.default_rng(1).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    plain = Detector(det.model, det.config)
    np.testing.assert_allclose(det.logits(crops), plain.logits(crops), atol=1e-3)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in det.scorer.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in det.model.modules())
    assert all(p.requires_grad for p in det.model.parameters())


def test_bench_times_the_temporal_check(tmp_path, capsys, tiny_clip, tiny_weights):
    from dfdemo.temporal import TemporalConfig, TemporalHead
    from dfdemo_lab.train_temporal import write_weights

    weights = write_weights(tiny_weights, tmp_path / "temporal", TemporalHead(1280, 8), TemporalConfig(hidden=8, windows=2))
    printed, r = _run(tmp_path, capsys, tiny_clip, weights, "--no-peer", "--temporal")
    t = r["temporal"]
    assert "temporal check (2 windows of 8 frames)" in printed
    assert t["temporal_stage_s"] > 0 and t["total_s"] > t["temporal_stage_s"]
    assert t["temporal_over_frame_only"] == pytest.approx(t["total_s"] / r["total_s"])
    assert r["targets"]["temporal_over_frame_only"]["met"] == (t["temporal_over_frame_only"] <= 1.3)
    assert "temporal" not in r["stages_s"]  # the frame-only run has no temporal stage


def test_learned_checks_cost_is_measured_against_blending_alone(tiny_weights):
    """The bundled weights' learned checks: which heads each kind of media runs, at the mouth
    size the lip-sync head reads; ratios are measured (positive), never held to a limit here."""
    detector = load_detector(Path(__file__).resolve().parents[1] / "weights" / "detector")
    face = cv2.resize(astronaut()[20:260, 140:380], (detector.config.input_size,) * 2, interpolation=cv2.INTER_AREA)
    cost = bench.checks_cost(detector, [face] * 3, repeats=2)
    cfgs = detector.config.learned()
    assert cost["faces"] == 3 and cost["mouth_px"] == cfgs["animation"].mouth_px > 0
    assert cost["mouth_every"] == cfgs["animation"].mouth_every == 2  # as on a clip: the mouth read on every other crop
    assert cost["photo_heads"] == ["synthesis"] and set(cost["video_heads"]) == {"synthesis", "animation"}
    assert cost["blending_ms_per_face"] > 0 and cost["photo_over_blending"] > 0 and cost["video_over_blending"] > 0
    assert bench.checks_cost(detector, [], repeats=1) is None
    assert set(bench.check_targets({"checks": cost})) == {"photo_checks_over_blending", "video_checks_over_blending"}
    assert bench.checks_cost(load_detector(tiny_weights), [face], repeats=1) is None  # no learned checks
