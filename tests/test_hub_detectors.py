"""Any image classifier of the Hub as a detector (issue 28): tiny random timm and transformers
models (tests/hubkit.py) loaded by folder and through the Hub code path from a hand-filled cache
(offline), their P(fake) checked against the libraries' own forward passes, the layout, label and
pickle refusals, and the sidecar that holds what dfdemo measured for them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ASTRONAUT_FACE, DEV_EVAL, ROOT, astronaut, needs_shared

import hubkit
from dfdemo.detector import load_detector
from dfdemo.errors import WeightsError
from dfdemo.foreign import NOT_CALIBRATED, NOT_MEASURED
from dfdemo.labels import fake_classes, side
from dfdemo.sidecar import read_sidecar, update_settings
from dfdemo.weights import detect_layout


@pytest.fixture(scope="module")
def hub_models(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("hub_models")
    return {"timm-efficientnet": hubkit.timm_folder(base / "timm-efficientnet"),
            "timm-convnext": hubkit.timm_folder(base / "timm-convnext", "test_convnext", labels=("authentic", "deepfake")),
            "vit": hubkit.vit_folder(base / "vit"),
            "convnext": hubkit.convnext_folder(base / "convnext")}


def face_crops(size: int, n: int = 2) -> np.ndarray:
    """The astronaut's face (a real photo) cut square at ``size``, and its mirror image."""
    import cv2

    x0, y0, x1, y1 = ASTRONAUT_FACE
    face = cv2.resize(astronaut()[y0 - 30:y1 + 30, x0 - 30:x1 + 30], (size, size), interpolation=cv2.INTER_AREA)
    return np.stack([face, face[:, ::-1]][:n])


def softmax_fake(logits: torch.Tensor, fake: int) -> np.ndarray:
    return torch.softmax(logits.float(), 1)[:, fake].detach().numpy()


def test_layouts_are_told_by_their_files(hub_models, tiny_weights):
    assert detect_layout(tiny_weights).family == "dfdemo"
    assert detect_layout(hub_models["timm-efficientnet"]).family == "timm"
    assert detect_layout(hub_models["vit"]).family == "transformers"


def test_transformers_vit_scores_as_its_own_processor_and_model_do(hub_models):
    """P(fake) of a transformers ViT = softmax of its own forward pass on its own image
    processor's pixel values (the input contract is the model's), class "Fake" by id2label."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    det = load_detector(hub_models["vit"])
    assert det.origin.family == "transformers" and det.origin.fake_classes == ["Fake"] and det.config.input_size == 64
    crops = face_crops(64)
    ref_model = AutoModelForImageClassification.from_pretrained(hub_models["vit"]).eval()
    pixels = AutoImageProcessor.from_pretrained(hub_models["vit"])(list(crops), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        ref = softmax_fake(ref_model(pixel_values=pixels).logits, 1)
    np.testing.assert_allclose(det.predict(crops), ref, atol=1e-4)
    assert not det.learned_heads and not det.has_mask_head and det.temporal is None


@pytest.mark.parametrize("name,fake", [("timm-efficientnet", 1), ("timm-convnext", 1), ("convnext", 1)])
def test_timm_and_convnext_score_as_the_model_does(hub_models, name, fake):
    """P(fake) = the model's softmax at the fake class on the crop normalised with the model's
    own mean and std (timm's data config, the image processor's)."""
    det = load_detector(hub_models[name])
    crops = face_crops(det.config.input_size)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in _model_mean_std(hub_models[name]))
    with torch.no_grad():
        logits = det.model.class_logits((x - mean) / std)
    np.testing.assert_allclose(det.predict(crops), softmax_fake(logits, fake), atol=1e-4)


def _model_mean_std(folder: Path):
    raw = json.loads((folder / "config.json").read_text())
    if "pretrained_cfg" in raw:
        return raw["pretrained_cfg"]["mean"], raw["pretrained_cfg"]["std"]
    pre = json.loads((folder / "preprocessor_config.json").read_text())
    return pre["image_mean"], pre["image_std"]


def test_cam_layers_by_family(hub_models):
    """CNNs: the last stage (a (N, C, h, w) map); ViT: the last block's first norm, its tokens
    reshaped to a grid with the class token dropped."""
    vit = load_detector(hub_models["vit"])
    assert vit.cam_layer_names == ["vit.layers.1.layernorm_before"]
    grid = vit.cam_reshape
    tokens = torch.arange(2 * 17 * 3, dtype=torch.float32).view(2, 17, 3)  # 1 class token + 4x4 patches
    out = grid(tokens)
    assert out.shape == (2, 3, 4, 4) and torch.equal(out[:, :, 0, 0], tokens[:, 1])  # the class token is gone
    assert load_detector(hub_models["convnext"]).cam_reshape is None
    assert load_detector(hub_models["timm-convnext"]).cam_layer_names == ["stages.3"]


@pytest.mark.parametrize("family,layer,prefix,side", [("deit", "deit.layers.1.layernorm_before", 2, 4),
                                                       ("swin", "swin.encoder.layers.1.blocks.0.layernorm_before", 0, 8)])
def test_token_models_map_their_tokens_to_a_grid(tmp_path, family, layer, prefix, side):
    """DeiT (class and distillation tokens) and Swin (no class token): the last block's first
    norm, its prefix tokens dropped, the rest on a grid; maps of the crop's size with heat."""
    from dfdemo.explain import cam_maps

    det = load_detector(hubkit.token_folder(tmp_path / family, family))
    assert det.cam_layer_names == [layer] and (det.cam_reshape.prefix, det.cam_reshape.side) == (prefix, side)
    maps, _ = cam_maps(det, "blending", face_crops(64))
    assert maps.shape == (2, 64, 64) and np.ptp(maps[0]) > 0


def test_label_words():
    assert [side(x) for x in ("Fake", "DEEPFAKE", "AI-generated", "spoof", "Real", "bona fide", "bonafide", "not fake", "cat")] \
        == ["fake", "fake", "fake", "fake", "real", "real", "real", "", ""]
    c = fake_classes(["real", "deepfake", "ai generated"], 3)
    assert c.fake == (1, 2) and c.real == (0,)
    assert fake_classes(["cat", "dog"], 2, fake_label="dog").fake == (1,)
    assert fake_classes([], 2, fake_label="0").fake == (0,)
    assert fake_classes([], 1).single_logit


def test_several_fake_classes_sum(tmp_path):
    """Labels with two fake classes: P(fake) is the softmax mass of both."""
    folder = hubkit.vit_folder(tmp_path / "three", {0: "real", 1: "deepfake", 2: "AI-generated"})
    det = load_detector(folder)
    crops = face_crops(64)
    with torch.no_grad():
        p = torch.softmax(det.model.class_logits(det.preprocess(crops)), 1)
    np.testing.assert_allclose(det.predict(crops), (p[:, 1] + p[:, 2]).numpy(), atol=1e-5)


def test_refusals(tmp_path, hub_models):
    """Unclear labels are listed, fake_label= settles them; pickled weights only: one line;
    an unknown layout names what was found."""
    unclear = hubkit.vit_folder(tmp_path / "unclear", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(WeightsError, match=r"unclear from the labels \(0: 'LABEL_0', 1: 'LABEL_1'\).*fake_label="):
        load_detector(unclear)
    flipped = load_detector(hub_models["vit"], fake_label="Real")
    np.testing.assert_allclose(flipped.predict(face_crops(64)), 1 - load_detector(hub_models["vit"]).predict(face_crops(64)), atol=1e-5)
    with pytest.raises(WeightsError, match="fake_label='dog' is none of"):
        load_detector(hub_models["vit"], fake_label="dog")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((hub_models["vit"] / "config.json").read_text())
    torch.save({"w": torch.zeros(1)}, pickled / "pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"only pickled weights \(pytorch_model.bin\)"):
        load_detector(pickled)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"hidden": 3}))
    (odd / "model.safetensors").write_bytes((hub_models["vit"] / "model.safetensors").read_bytes())
    with pytest.raises(WeightsError, match=r"config.json of no kind dfdemo knows.*\(found: config.json, model.safetensors\)"):
        load_detector(odd)


def test_sidecar_holds_what_was_measured(tmp_path, hub_models):
    """Without a sidecar: the model's own 0.5 and the notes that nothing was measured; the lab's
    writer (update_settings) puts cuts and accuracy into dfdemo.json beside a local folder, and
    the detector reads them back; dfdemo's own weights keep their config.json."""
    folder = tmp_path / "mine"
    hubkit.timm_folder(folder, "test_convnext")
    det = load_detector(folder)
    assert (det.config.threshold, det.config.uncertain_band) == (0.5, (0.5, 0.5))
    assert NOT_MEASURED in det.notes and NOT_CALIBRATED in det.notes
    acc = {"fakes": 10, "reals": 12, "tpr": 0.7, "fpr": 0.1, "unit": "clip"}
    path = update_settings(folder, {"accuracy": acc}, threshold=0.61, uncertain_band=(0.55, 0.7))
    assert path == folder / "dfdemo.json" and json.loads(path.read_text())["dfdemo"]["threshold"] == 0.61
    det = load_detector(folder)
    assert det.config.threshold == 0.61 and det.config.uncertain_band == (0.55, 0.7) and det.config.accuracy == acc
    assert det.notes == ()
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "dfdemo.json", "model.safetensors"]
    update_settings(folder, target_layer="stages.2")  # a setting names Grad-CAM's layer
    assert load_detector(folder).cam_layer_names == ["stages.2"] and load_detector(folder).config.threshold == 0.61


HUB_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from dfdemo.detector import load_detector
    from dfdemo.errors import WeightsError
    from dfdemo.sidecar import update_settings
    from dfdemo.weights import resolve_weights
    out = {}
    for spec in sys.argv[1:]:
        try:
            d = load_detector(spec)
            x = np.full((1, d.config.input_size, d.config.input_size, 3), 128, "uint8")
            out[spec] = {"ok": True, "p": float(d.predict(x)[0]), "family": d.origin.family, "sidecar": str(d.origin.sidecar),
                         "layers": d.cam_layer_names, "model_id": d.config.model_id}
            if spec.endswith("vit"):
                out["written"] = str(update_settings(resolve_weights(spec), {"accuracy": {"auc": 0.5}}, threshold=0.7))
                out["reread"] = load_detector(spec).config.threshold
        except WeightsError as e:
            out[spec] = {"ok": False, "error": str(e)}
    print(json.dumps(out))
""")


def test_hub_ids_load_offline_from_a_filled_cache(tmp_path, hub_models):
    """owner/name of a timm and a transformers repo load from huggingface_hub's cache with
    HF_HUB_OFFLINE=1, the same weights as their folders; the sidecar of a Hub repo is written
    under $DFDEMO_HOME, never in the cache; a repo of pickles only is refused in one line."""
    cache, home = tmp_path / "hub", tmp_path / "dfdemo-home"
    hubkit.fill_hub_cache(cache, "someone/deepfake-vit", hub_models["vit"])
    hubkit.fill_hub_cache(cache, "someone/deepfake-timm", hub_models["timm-efficientnet"])
    pickles = tmp_path / "pickles"
    pickles.mkdir()
    (pickles / "config.json").write_text((hub_models["vit"] / "config.json").read_text())
    torch.save({"w": torch.zeros(1)}, pickles / "pytorch_model.bin")
    hubkit.fill_hub_cache(cache, "someone/pickled", pickles)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "DFDEMO_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("DFDEMO_WEIGHTS", None)
    specs = ["someone/deepfake-vit", "someone/deepfake-timm", "someone/pickled"]
    run = subprocess.run([sys.executable, "-c", HUB_PROBE, *specs], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for spec, name in zip(specs, ("vit", "timm-efficientnet")):
        assert out[spec]["ok"], out[spec]
        local = load_detector(hub_models[name])
        s = local.config.input_size
        assert out[spec]["p"] == pytest.approx(float(local.predict(np.full((1, s, s, 3), 128, np.uint8))[0]), abs=1e-5)
        assert out[spec]["layers"] == local.cam_layer_names and out[spec]["model_id"] == spec
    sidecar = home / "detectors" / "someone--deepfake-vit" / "dfdemo.json"
    assert out["written"] == str(sidecar) and out["reread"] == 0.7
    assert json.loads(sidecar.read_text())["revision"] == hubkit.COMMIT
    assert not list(cache.rglob("dfdemo.json"))  # nothing written into the Hub cache
    assert not out["someone/pickled"]["ok"] and "only pickled weights (pytorch_model.bin)" in out["someone/pickled"]["error"]


def test_a_sidecar_of_another_commit_is_not_used(tmp_path, hub_models, monkeypatch):
    monkeypatch.setenv("DFDEMO_HOME", str(tmp_path / "home"))
    old = hubkit.fill_hub_cache(tmp_path / "hub", "someone/model", hub_models["vit"], commit="a" * 40)
    update_settings(old, {"accuracy": {"auc": 0.9}}, threshold=0.8)
    new = hubkit.fill_hub_cache(tmp_path / "hub", "someone/model", hub_models["vit"], commit="b" * 40)
    assert read_sidecar(old).settings["threshold"] == 0.8
    det = load_detector(new)
    assert det.config.threshold == 0.5 and "measured on commit aaaaaaaaaaaa" in det.notes[0] and NOT_MEASURED in det.notes


def test_measured_here_is_kept_outside_the_hub_cache(tmp_path, tiny_weights, hub_models, monkeypatch):
    """dfdemo's own weights from the Hub too: what the lab measures goes to the sidecar (the
    cache's files are never written) and is read over config.json; the measured Hub detectors
    are listed for the app."""
    from dfdemo.sidecar import measured_detectors

    monkeypatch.setenv("DFDEMO_HOME", str(tmp_path / "home"))
    snap = hubkit.fill_hub_cache(tmp_path / "hub", "dfdemo-test/detector", tiny_weights)
    before = (snap / "config.json").read_text()
    assert measured_detectors() == []
    written = update_settings(snap, {"accuracy": {"auc": 0.61, "fakes": 3, "reals": 4}}, threshold=0.77)
    assert (snap / "config.json").read_text() == before and written.is_relative_to(tmp_path / "home")
    det = load_detector(snap)
    assert det.config.threshold == 0.77 and det.config.accuracy["auc"] == 0.61 and det.config.model_id == "test:untrained"
    vit = hubkit.fill_hub_cache(tmp_path / "hub", "someone/vit", hub_models["vit"])
    update_settings(vit, threshold=0.6)  # calibrated, accuracy not measured: not listed
    assert [(m.repo, m.revision, m.accuracy["auc"]) for m in measured_detectors()] == [("dfdemo-test/detector", hubkit.COMMIT, 0.61)]



@pytest.mark.parametrize("name", ["vit", "timm-convnext"])
def test_a_photo_and_a_clip_are_analysed_with_grad_cam(hub_models, name, photo, clip):
    """The analysis of a photo and a clip with a Hub classifier: its score per face, Grad-CAM
    maps of the crop's size with heat on them (a ViT's tokens on a grid), no learned map; the
    report says what the detector is and that it was not measured here, and the page shows no
    panel for what it lacks."""
    from dfdemo import Analyzer
    from dfdemo.analyzer import Settings
    from dfdemo.explain import cam_maps
    from dfdemo.page import heatmap_columns, heatmap_rows, verdict_card
    from dfdemo.words import NOT_MEASURED_LINE, plain_words

    with Analyzer.load(hub_models[name]) as analyzer:
        det, size = analyzer.detector, analyzer.detector.config.input_size
        maps, learned = cam_maps(det, "blending", face_crops(size))
        assert maps.shape == (2, size, size) and learned is None
        assert maps.max() > 0 and np.ptp(maps) > 0  # heat, not a flat map
        for media in (photo, clip):
            analysis = analyzer.analyze(media, Settings(frames=6, heatmaps=2))
            r = analysis.report
            assert r.faces and r.heatmaps and r.threshold == 0.5
            assert all(analysis.images[h.overlay_path].shape == (size, size, 3) for h in r.heatmaps)
            assert all(h.learned_map_path is None and sum(h.region_shares.values()) == pytest.approx(1, abs=1e-3) for h in r.heatmaps)
            assert r.detector["family"] == det.origin.family and r.detector["measured"] is False
            assert NOT_MEASURED in r.notes and [c.label for c in r.checks] == ["Deepfake classifier"]
            assert json.loads(r.to_json())["detector"]["fake_classes"] == det.origin.fake_classes
            card = verdict_card(r)
            assert NOT_MEASURED_LINE in card and "no learned blend map" in card and "face swaps" not in card
            assert len(heatmap_columns(r)) == 4 and all(len(row) == 4 for row in heatmap_rows(r))
            words = plain_words(r)
            assert "not measured here" in words and "pasted" not in words + card and "trained elsewhere" in words


def test_scan_cli_on_a_transformers_and_a_timm_folder(tmp_path, hub_models, clip):
    """``python -m dfdemo scan --weights <transformers folder>`` (and a timm folder) analyses a clip
    and writes its Grad-CAM overlays; a detector measured here (its sidecar) shows its accuracy instead."""
    folder = tmp_path / "vit"
    hubkit.vit_folder(folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "dfdemo", "scan", str(clip), "--weights", str(folder), "--frames", "6", "--heatmaps", str(tmp_path / "maps")]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "detector: transformers ViTForImageClassification, fake = 'Fake'" in run.stdout
    assert "note: accuracy of this detector not measured here" in run.stdout
    assert len(list((tmp_path / "maps").glob("*.png"))) >= 1
    timm_cmd = [*cmd[:5], "--weights", str(hub_models["timm-efficientnet"]), "--frames", "6", "--heatmaps", str(tmp_path / "timm")]
    timm_run = subprocess.run(timm_cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert timm_run.returncode == 0, timm_run.stderr
    assert "detector: timm test_efficientnet, fake = 'fake'" in timm_run.stdout and list((tmp_path / "timm").glob("*.png"))
    update_settings(folder, {"accuracy": {"fakes": 20, "reals": 30, "tpr": 0.5, "fpr": 0.1, "unit": "clip"}}, threshold=0.52,
                    uncertain_band=(0.5, 0.55))
    run = subprocess.run([*cmd[:-2], "--json", "-"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    r = json.loads(run.stdout)[0]
    assert r["threshold"] == 0.52 and r["accuracy"]["tpr"] == 0.5 and r["detector"]["measured"] is True
    assert not any("not measured" in n or "not calibrated" in n for n in r["notes"])


APP_PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from dfdemo.analyzer import Settings
    from webapp import WebApp, weights_info
    web = WebApp()
    source = web.weights_source(sys.argv[2])  # what the Settings' weights box takes
    analysis = web.analyse(Path(sys.argv[1]), Settings(frames=6, heatmaps=2), source, lambda *a, **k: None, None)
    Path(sys.argv[3]).mkdir()
    view = web.page_view(analysis, Path(sys.argv[3]), None)
    print(json.dumps({"card": view.card, "learned": view.learned_maps, "rows": view.heatmap_rows,
                      "maps": [str(p) for p, _ in view.heatmaps], "detector": analysis.report.detector,
                      "info": weights_info(web.settings.visitor_weights)}))
    web.models.close()
""")


def test_the_app_analyses_a_clip_with_a_hub_detector(tmp_path, hub_models, tiny_weights, clip):
    """The app's Settings → Weights with a Hub id of a timm classifier (from the filled cache,
    offline): the pool loads it, the page shows its Grad-CAM overlays and no blend-map column,
    and the weights box lists the Hub detectors measured here."""
    cache, home = tmp_path / "hub", tmp_path / "home"
    snap = hubkit.fill_hub_cache(cache, "someone/deepfake-timm", hub_models["timm-convnext"])
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "DFDEMO_HOME": str(home), "DFDEMO_WEIGHTS": str(tiny_weights), "PYTHONPATH": str(ROOT)}
    with pytest.MonkeyPatch.context() as mp:  # the sidecar of the Hub repo, as eval --record-accuracy writes it
        mp.setenv("DFDEMO_HOME", str(home))
        update_settings(snap, {"accuracy": {"fakes": 5, "reals": 6, "tpr": 0.4, "fpr": 0.2, "unit": "file"}})
    run = subprocess.run([sys.executable, "-c", APP_PROBE, str(clip), "someone/deepfake-timm", str(tmp_path / "page")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["detector"]["family"] == "timm" and out["detector"]["measured"] is True
    assert out["maps"] and all(Path(p).is_file() for p in out["maps"]) and not out["learned"]
    assert all(len(row) == 4 for row in out["rows"])
    assert "Deepfake classifier" in out["card"] and "caught 40%" in out["card"].replace(" %", "%")
    assert out["info"].endswith("measured here: someone/deepfake-timm")


@needs_shared()
def test_lab_eval_records_a_hub_detectors_accuracy_and_the_card_shows_it(tmp_path, hub_models, photo):
    """``dfdemo_lab eval --weights owner/name --record-accuracy`` on dev-eval files (two real, two
    fake) with a transformers ViT from the Hub cache: the row goes into its sidecar under
    $DFDEMO_HOME (the cache is not written), and the card of the next analysis shows it."""
    from test_deveval import dev_eval_rows, pick

    from dfdemo import Analyzer
    from dfdemo.analyzer import Settings
    from dfdemo.page import verdict_card

    rows = pick(dev_eval_rows(), 4)
    index = tmp_path / "index.csv"
    index.write_text("path,label,method,kind\n" + "".join(
        f"{DEV_EVAL.parent / r['path']},{r['label']},{r['method'].replace(',', ' ')},{r['kind']}\n" for r in rows))
    cache, home = tmp_path / "hub", tmp_path / "home"
    snap = hubkit.fill_hub_cache(cache, "someone/deepfake-vit", hub_models["vit"])
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "DFDEMO_HOME": str(home), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "dfdemo_lab", "eval", str(index), "--frames", "4", "--weights",
                          "someone/deepfake-vit", "--record-accuracy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    sidecar = home / "detectors" / "someone--deepfake-vit" / "dfdemo.json"
    assert f"recorded in {sidecar}" in run.stdout and not list(cache.rglob("dfdemo.json"))
    acc = json.loads(sidecar.read_text())["dfdemo"]["extra"]["accuracy"]
    labels = [r["label"] for r in rows]
    assert (acc["fakes"], acc["reals"]) == (labels.count("fake"), labels.count("real")) and 0 <= acc["auc"] <= 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DFDEMO_HOME", str(home))
        with Analyzer.load(snap) as analyzer:
            report = analyzer.analyze(photo, Settings(heatmaps=1)).report
    card = verdict_card(report)
    assert report.accuracy == acc and report.detector["measured"] is True and NOT_MEASURED not in report.notes
    assert f"on {acc['fakes']} held-out deepfake files" in card and "not measured here" not in card
