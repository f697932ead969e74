"""Detector stage: the weights folder format, strict safetensors-only loading, Hub ids through
a pre-filled huggingface_hub cache (offline), the resolution order, batched scoring."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from safetensors import safe_open

from dfdemo import weights as det_weights
from dfdemo.detector import DetectorConfig, load_detector, save_detector
from dfdemo.model import create_model, default_target_layer
from dfdemo.weights import resolve_weights
from dfdemo.errors import WeightsError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def crops(n: int, size: int = 224, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    model = create_model("tf_efficientnet_lite0").eval()
    cfg = DetectorConfig(crop_margin=0.25, threshold=0.42, uncertain_band=(0.35, 0.5), target_layer="bn2",
                         model_id="test:roundtrip", extra={"trained_steps": 7})
    folder = save_detector(model, tmp_path / "w", cfg)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert torch.float16 in dtypes and torch.float32 not in dtypes  # fp16 on disk
    raw = json.loads((folder / "config.json").read_text())
    assert raw["architecture"] == "tf_efficientnet_lite0" and raw["num_classes"] == 1
    assert raw["pretrained_cfg"]["input_size"] == [3, 224, 224]
    ours = {"crop_margin": 0.25, "threshold": 0.42, "uncertain_band": [0.35, 0.5],
            "target_layer": "bn2", "model_id": "test:roundtrip", "extra": {"trained_steps": 7}}
    assert {k: raw["dfdemo"].get(k) for k in ours} == ours  # dfdemo's settings in their own block
    assert not set(ours) & set(raw)
    loaded = load_detector(folder)
    assert loaded.config == cfg
    x = crops(3)
    with torch.inference_mode():
        ref = torch.sigmoid(model(loaded.preprocess(x).contiguous())).view(-1).numpy()
    np.testing.assert_allclose(loaded.predict(x), ref, atol=0.02)  # fp16 weights, same model


def test_model_id_defaults_to_the_source(tmp_path, tiny_weights):
    folder = tmp_path / "noid"
    shutil.copytree(tiny_weights, folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["dfdemo"]["model_id"] = ""
    (folder / "config.json").write_text(json.dumps(raw))
    assert load_detector(folder).config.model_id == str(folder)


def test_predict_is_batched_and_checks_its_input(tiny_weights):
    d = load_detector(tiny_weights)
    x = crops(5)
    p = d.predict(x, batch_size=2)
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, d.predict(x, batch_size=32), atol=1e-5)
    np.testing.assert_allclose(p[3], d.predict(x[3:4])[0], atol=1e-5)
    assert d.predict(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match="expected uint8 crops of shape"):
        d.predict(crops(1, size=128))
    with pytest.raises(ValueError, match="expected uint8 crops"):
        d.predict(crops(1).astype(np.float32))


def test_pickled_checkpoint_is_refused(tmp_path, tiny_weights):
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny_weights / "config.json", folder)
    torch.save(create_model("tf_efficientnet_lite0").state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"only pickled weights \(pytorch_model.bin\).*safetensors"):
        load_detector(folder)


def test_missing_files_are_named(tmp_path, tiny_weights):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match="has no model.safetensors"):
        load_detector(empty)
    noconf = tmp_path / "noconf"
    noconf.mkdir()
    shutil.copy(tiny_weights / "model.safetensors", noconf)
    with pytest.raises(WeightsError, match="has no config.json"):
        load_detector(noconf)
    (noconf / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_detector(noconf)


def test_strict_loading_refuses_another_architecture(tmp_path, tiny_weights):
    folder = tmp_path / "wrong"
    shutil.copytree(tiny_weights, folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["architecture"] = "efficientnet_b0"  # same family, other layers: must not load "fine"
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(WeightsError, match="does not load into efficientnet_b0"):
        load_detector(folder)
    raw["architecture"] = "no_such_net"
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(WeightsError, match="unknown architecture 'no_such_net'"):
        load_detector(folder)


def test_strict_loading_refuses_a_missing_tensor(tmp_path, tiny_weights):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "partial"
    shutil.copytree(tiny_weights, folder)
    state = load_file(str(folder / "model.safetensors"))
    state.pop("classifier.weight")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match="classifier.weight"):
        load_detector(folder)


def test_truncated_safetensors_is_a_weights_error(tmp_path, tiny_weights):
    folder = tmp_path / "trunc"
    shutil.copytree(tiny_weights, folder)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(WeightsError, match="does not load"):
        load_detector(folder)


@pytest.mark.parametrize("arch, layer", [("xception", "act4"), ("legacy_xception", "act4"), ("efficientnet_b4", "bn2")])
def test_factory_builds_the_other_families(arch, layer):
    model = create_model(arch)
    assert model.num_classes == 1
    assert default_target_layer(arch, model) == layer
    model.get_submodule(layer)  # the Grad-CAM layer exists


def test_resolution_order(tmp_path, tiny_weights, monkeypatch):
    a, b, bundled = tmp_path / "a", tmp_path / "b", tmp_path / "bundled"
    for p in (a, b, bundled):
        shutil.copytree(tiny_weights, p)
    monkeypatch.setattr(det_weights, "BUNDLED_WEIGHTS", bundled)
    monkeypatch.delenv(det_weights.ENV_WEIGHTS, raising=False)
    assert resolve_weights() == bundled
    monkeypatch.setenv(det_weights.ENV_WEIGHTS, str(a))
    assert resolve_weights() == a  # the environment beats the bundled folder
    assert resolve_weights(b) == b  # an explicit source beats both
    assert load_detector().config.model_id == "test:untrained"
    monkeypatch.setenv(det_weights.ENV_WEIGHTS, str(tmp_path / "gone"))
    with pytest.raises(WeightsError, match="neither a folder nor a Hub repo id"):
        resolve_weights()
    with pytest.raises(WeightsError, match="neither a folder nor a Hub repo id"):
        resolve_weights("a/b/c")


def fill_hub_cache(cache: Path, repo: str, files: dict[str, Path], commit: str = COMMIT,
                   refs: tuple[str, ...] = ("main",)) -> Path:
    """Lay out ``files`` the way huggingface_hub caches a snapshot of ``repo``."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, src in files.items():
        shutil.copy(src, snap / name)
    (repo_dir / "refs").mkdir()
    for ref in refs:
        (repo_dir / "refs" / ref).write_text(commit)
    return snap


HUB_PROBE = textwrap.dedent("""
    import json, sys
    from dfdemo import load_detector, WeightsError
    out = {}
    for spec in sys.argv[1:]:
        try:
            d = load_detector(spec)
            out[spec] = {"ok": True, "model_id": d.config.model_id, "p": float(d.predict(__import__("numpy").full((1, 224, 224, 3), 128, "uint8"))[0])}
        except WeightsError as e:
            out[spec] = {"ok": False, "error": str(e)}
    print(json.dumps(out))
""")


def test_hub_ids_load_offline_from_a_filled_cache(tmp_path, tiny_weights):
    cache = tmp_path / "hub"
    files = {"config.json": tiny_weights / "config.json", "model.safetensors": tiny_weights / "model.safetensors"}
    fill_hub_cache(cache, "dfdemo-test/detector", files, refs=("main", "v1"))
    pickled = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.zeros(1)}, pickled)
    fill_hub_cache(cache, "dfdemo-test/pickled", {"config.json": tiny_weights / "config.json", "pytorch_model.bin": pickled})
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "home")}
    env.pop(det_weights.ENV_WEIGHTS, None)
    specs = ["dfdemo-test/detector", f"dfdemo-test/detector@{COMMIT}", "dfdemo-test/detector@v1",
             "dfdemo-test/detector@v2", "nobody-here/no-such-model", "dfdemo-test/pickled"]
    run = subprocess.run([sys.executable, "-c", HUB_PROBE, *specs], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    ref = load_detector(tiny_weights).predict(np.full((1, 224, 224, 3), 128, np.uint8))[0]
    for spec in specs[:3]:
        assert out[spec]["ok"], out[spec]
        assert out[spec]["model_id"] == "test:untrained"
        assert out[spec]["p"] == pytest.approx(float(ref), abs=1e-5)  # the very same weights
    assert not out["dfdemo-test/detector@v2"]["ok"]
    assert "not in the local cache" in out["dfdemo-test/detector@v2"]["error"]
    missing = out["nobody-here/no-such-model"]
    assert not missing["ok"] and missing["error"].startswith("Hub repo nobody-here/no-such-model is not in the local cache")
    assert "offline" in missing["error"]
    assert not out["dfdemo-test/pickled"]["ok"] and "only pickled weights (pytorch_model.bin)" in out["dfdemo-test/pickled"]["error"]


def test_the_network_is_built_by_timm_from_config_json(tmp_path, tiny_weights):
    """timm's ``local-dir:`` route reads the folder's config.json (architecture, pretrained_cfg);
    a hand-written config.json without a ``pretrained_cfg`` block (timm's legacy format, which
    cannot hold the ``dfdemo`` block) still loads, its architecture built by name."""
    d = load_detector(tiny_weights)
    assert d.model.pretrained_cfg["source"] == "local-dir" and tuple(d.model.pretrained_cfg["mean"]) == d.config.mean
    folder = tmp_path / "legacy"
    shutil.copytree(tiny_weights, folder)
    raw = json.loads((folder / "config.json").read_text())
    del raw["pretrained_cfg"]
    (folder / "config.json").write_text(json.dumps(raw))
    x = crops(2)
    np.testing.assert_array_equal(load_detector(folder).predict(x), d.predict(x))


def test_one_forward_pass_taps_the_layers_hooks_would_see(tiny_weights):
    """``forward_all`` taps layers by name through timm's ``forward_intermediates``: the very
    tensors a forward hook on each module sees, the same logits as ``model(x)``. The probe pass
    that finds the layers changes neither the model's train/eval modes nor its BatchNorm
    statistics; a layer that is no output of ``forward_intermediates`` is named in a WeightsError."""
    from dfdemo.model import create_model, forward_all, tap_indices

    model = create_model("tf_efficientnet_lite0").train()
    model.blocks[0].eval()  # a frozen part: its mode must survive the probe
    layers = ("blocks.1", "blocks.4", "blocks.6", "bn2")
    modes, state = [m.training for m in model.modules()], {k: v.clone() for k, v in model.state_dict().items()}
    assert set(tap_indices(model, layers)) == set(layers)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    seen = {}
    hooks = [model.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in layers]
    x = load_detector(tiny_weights).preprocess(crops(2))
    with torch.no_grad():
        out = forward_all(model.eval(), x, layers, pooled=True)
        assert all(out.taps[n] is seen[n] for n in layers)
        np.testing.assert_array_equal(forward_all(model, x).logits.numpy(), model(x).view(-1).numpy())
    for h in hooks:
        h.remove()
    assert out.pooled.shape == (2, model.num_features)
    with pytest.raises(WeightsError, match="conv_stem"):
        forward_all(model, x, ("conv_stem",))
