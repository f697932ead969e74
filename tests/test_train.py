"""``python -m dfdemo_lab train`` as a recipe: a fresh run from an ImageNet file, stopped and
resumed from its checkpoint; no default ImageNet path outside the repository."""
from __future__ import annotations

import json

import numpy as np
import torch

from test_mask_target import _tiny_cache


def test_a_fresh_run_starts_from_the_imagenet_file_checkpoints_and_resumes(tmp_path, face68, capsys):
    import timm

    from dfdemo.detector import load_detector
    from dfdemo_lab.train import TrainConfig, train

    torch.manual_seed(0)
    imagenet = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()  # stands in for the ImageNet file
    torch.save(imagenet, tmp_path / "imagenet.pth")
    c = TrainConfig(cache=_tiny_cache(tmp_path / "cache", face68), pretrained=tmp_path / "imagenet.pth",
                    run_dir=tmp_path / "run", out=tmp_path / "out", steps=2, batch=2, eval_every=5, val_pairs=2,
                    workers=0, threads=1, model_id="tiny")
    assert train(TrainConfig(**{**c.__dict__, "minutes": 1e-6})) == c.out  # out of time after the first step: saved there
    state = torch.load(c.run_dir / "last.pt", map_location="cpu", weights_only=True)
    assert sorted(state) == ["history", "model", "opt", "sched", "step"] and state["step"] == 1
    first = load_detector(c.out)
    assert first.config.model_id == "tiny" and first.config.extra["steps"] == 1
    moved = dict(first.model.named_parameters())["conv_stem.weight"].float()
    start = imagenet["conv_stem.weight"]
    assert (moved - start).abs().max() < 0.05 < (moved - torch.randn_like(start)).abs().max()  # it started from the file

    capsys.readouterr()
    train(c)  # picks up last.pt at step 1 and ends at step 2
    assert "[train] resumed at step 1" in capsys.readouterr().out
    cfg = json.loads((c.out / "config.json").read_text())["dfdemo"]
    assert cfg["extra"]["steps"] == 2 and [h["step"] for h in cfg["extra"]["history"]] == [1, 2]
    assert json.loads((c.run_dir / "history.json").read_text()) == cfg["extra"]["history"]
    assert (c.run_dir / "export" / "model.safetensors").is_file()


def test_training_from_imagenet_needs_the_file_named(tmp_path, capsys):
    """No --init and no --pretrained: one line naming the option (no silent random start)."""
    from dfdemo_lab.cli import main

    (tmp_path / "cache").mkdir()
    empty = np.array([], dtype=str)
    np.savez(tmp_path / "cache" / "index.npz", name=empty, group=empty, kind=empty, split=empty,
             landmarks=np.zeros((0, 68, 2), np.float32))
    args = ["train", "--cache", str(tmp_path / "cache"), "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --pretrained FILE" in err[0]
    assert main(args + ["--pretrained", str(tmp_path / "nowhere.pth")]) == 2
    assert f"--pretrained {tmp_path / 'nowhere.pth'}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()  # nothing written
