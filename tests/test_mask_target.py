"""What the learned map is trained to draw (train --mask-target) and how its boundary is measured (issue 18)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from dfdemo_lab.metrics import MAP_GRID, binary, boundary_band, boundary_target, mask_iou, mask_target
from dfdemo_lab.train import mask_targets, soft_dice_loss, target_map


def _soft_disc(size=224, centre=(112, 112), r=40, blur=9):
    yy, xx = np.mgrid[:size, :size]
    m = ((yy - centre[1]) ** 2 + (xx - centre[0]) ** 2 < r * r).astype(np.float32)
    return cv2.GaussianBlur(m, (0, 0), blur)


def test_boundary_target_is_zero_inside_and_outside_and_peaks_at_the_edge():
    assert boundary_target(np.float32(0.0)) == 0.0 and boundary_target(np.float32(1.0)) == 0.0
    assert boundary_target(np.float32(0.5)) == pytest.approx(1.0)
    disc = _soft_disc()
    b = boundary_target(disc / disc.max())
    assert b[112, 112] < 0.01 and b[2, 2] < 0.01  # centre (fully replaced) and corner (untouched)
    profile = b[112, 112:]  # from the centre outwards
    peak = int(np.argmax(profile))
    assert abs(peak - 40) <= 3 and profile[peak] > 0.95  # on the disc's edge (radius 40)


def test_mask_targets_on_the_grid_region_ignores_the_blend_ratio_and_reals_are_zero():
    disc = torch.from_numpy(_soft_disc())
    faint = disc * 0.25  # a blend at ratio 0.25: same region, a quarter of the strength
    for target in ("region", "boundary"):
        a, b = mask_target(disc[None], target, MAP_GRID), mask_target(faint[None], target, MAP_GRID)
        assert a.shape == (1, MAP_GRID, MAP_GRID)
        assert torch.allclose(a, b, atol=1e-5), target
    blend = mask_target(faint[None], "blend", MAP_GRID)
    assert float(blend.max()) <= 0.26  # the v1-v3 target: the strength of the blend
    region = mask_target(faint[None], "region", MAP_GRID)
    assert float(region[0, 7, 7]) > 0.95
    boundary = mask_target(disc[None], "boundary", MAP_GRID)
    assert float(boundary[0, 7, 7]) < 0.05 and float(boundary[0, 0, 0]) < 0.05 and float(boundary.max()) > 0.5
    t = mask_targets(torch.stack([disc, faint]), 3, (MAP_GRID, MAP_GRID), "boundary")
    assert t.shape == (5, 1, MAP_GRID, MAP_GRID) and float(t[:3].abs().max()) == 0.0
    with pytest.raises(ValueError):
        mask_target(disc[None], "outline", MAP_GRID)


def test_boundary_band_is_a_ring_and_the_two_ious_tell_a_filled_map_from_a_ring():
    disc = _soft_disc()
    band = boundary_band(disc)
    assert band.shape == disc.shape
    ring = binary(band)
    assert not ring[112, 112] and not ring[2, 2] and ring[112, 112 + 40]
    filled, outline = (disc / disc.max() > 0.5).astype(np.float32), ring.astype(np.float32)
    # a map of the region is right for the region measure and wrong for the band one, and vice versa
    assert mask_iou(filled, disc) > 0.9 > mask_iou(outline, disc)
    assert mask_iou(outline, target_map(disc, "boundary")) == pytest.approx(1.0)
    assert mask_iou(filled, target_map(disc, "boundary")) < 0.6
    assert target_map(disc, "region") is disc


def test_soft_dice_rewards_overlap_whatever_the_size_of_the_region():
    target = torch.zeros(1, 1, MAP_GRID, MAP_GRID)
    target[..., 9:11, 6:9] = 1.0  # a mouth: 6 of 196 cells
    right = torch.where(target > 0, 6.0, -6.0)
    empty = torch.full_like(target, -6.0)  # "nothing here": what plain BCE settles for on small regions
    everywhere = torch.full_like(target, 6.0)
    assert soft_dice_loss(right, target) < 0.05
    assert soft_dice_loss(empty, target) > 0.8 and soft_dice_loss(everywhere, target) > 0.8


def _tiny_cache(root, face68):
    """A crop cache of the astronaut's face only (3 train + 2 val copies), in the cache's layout."""
    crop, marks = face68
    (root / "crops").mkdir(parents=True)
    names = [f"p{i}.jpg" for i in range(5)]
    for n in names:
        cv2.imwrite(str(root / "crops" / n), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    np.savez(root / "index.npz", name=np.array(names), group=np.array([f"g{i}" for i in range(5)]),
             kind=np.array(["photo"] * 5), split=np.array(["train"] * 3 + ["val"] * 2),
             landmarks=np.stack([marks] * 5).astype(np.float32), keypoints=np.zeros((5, 6, 2), np.float32),
             face_size=np.full(5, 100.0))
    return root


@pytest.mark.parametrize("target", ["boundary"])
def test_head_only_training_on_a_new_target_keeps_the_classifier_and_records_the_target(tmp_path, face68, target):
    from dfdemo.detector import DetectorConfig, load_detector, save_detector
    from dfdemo.model import add_mask_head, create_model
    from dfdemo_lab.train import main

    torch.manual_seed(0)
    model = create_model("tf_efficientnet_lite0")
    start = save_detector(model, tmp_path / "start", DetectorConfig(mask_head=add_mask_head(model, "blocks.4", "bn2"),
                                                                    extra={"faithfulness": {"learned_map_iou": 0.4}}))
    cache = _tiny_cache(tmp_path / "cache", face68)
    out = tmp_path / "out"
    args = ["--cache", str(cache), "--init", str(start), "--mask-weight", "1", "--head-only", "--mask-target", target,
            "--mask-dice", "0.5", "--mask-real-weight", "4", "--new-mask-head", "--blend-kinds", "mouth:1",
            "--run-dir", str(tmp_path / "run"), "--out", str(out), "--batch", "2", "--eval-every", "2", "--val-pairs", "2",
            "--workers", "0", "--threads", "1", "--steps", "3"]
    main(args + ["--minutes", "0.0001"])  # out of time after the first step: saved there
    first = load_detector(out)
    assert json.loads((out / "config.json").read_text())["dfdemo"]["extra"]["mask_head_steps"] == 1
    main(args)  # resumes from the run folder's checkpoint at step 1
    assert not torch.equal(dict(first.model.named_parameters())["mask_head.net.0.weight"],
                           dict(load_detector(out).model.named_parameters())["mask_head.net.0.weight"])
    before, after = load_detector(start), load_detector(out)
    b, a = dict(before.model.named_parameters()), dict(after.model.named_parameters())
    for name in ("conv_stem.weight", "blocks.4.0.conv_pw.weight", "classifier.weight"):
        assert torch.equal(b[name], a[name]), name  # the classifier is frozen
    assert not torch.equal(b["mask_head.net.0.weight"], a["mask_head.net.0.weight"])
    cfg = json.loads((out / "config.json").read_text())["dfdemo"]
    assert cfg["mask_head"]["deep_layer"] == "bn2"
    extra = cfg["extra"]
    assert extra["mask_head_target"] == target and extra["mask_head_dice"] == 0.5 and extra["mask_head_start"] == "new"
    assert "faithfulness" not in extra  # the old map's numbers do not describe the new one
    assert extra["mask_head_real_weight"] == 4.0 and extra["mask_head_steps"] == 3
    assert [h["step"] for h in extra["mask_head_history"]] == [1, 2, 3] and "mask_iou" in extra["mask_head_history"][-1]


def test_explain_eval_measures_the_learned_map_against_the_region_and_the_boundary_band(tmp_path, face68):
    from dfdemo.detector import DetectorConfig, load_detector, save_detector
    from dfdemo.model import add_mask_head, create_model
    from dfdemo_lab.explain_eval import sbi_eval

    torch.manual_seed(0)
    model = create_model("tf_efficientnet_lite0")
    w = save_detector(model, tmp_path / "w", DetectorConfig(mask_head=add_mask_head(model, "blocks.4", "bn2"), target_layer="blocks.5"))
    s = sbi_eval(load_detector(w), _tiny_cache(tmp_path / "cache", face68), n=2, deletion_n=0, kinds=("mouth", "eyes"))
    for key in ("learned_map_iou_region", "learned_map_band_iou_region", "learned_map_band_heat_in_mask_ratio_mouth",
                "learned_map_real_mean", "learned_map_real_mean_shown", "learned_map_sanity_spearman"):
        assert np.isfinite(s[key]), key
    assert "learned_map_band_sanity_spearman" not in s  # the same maps: one sanity number
    assert s["learned_map_real_mean_shown"] <= s["learned_map_real_mean"] + 1e-9  # the overlay scales by P(fake) <= 1
