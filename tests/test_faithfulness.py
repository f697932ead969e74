"""Explanation faithfulness measures and the learned manipulation-map head (issue 9)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdemo.detector import DetectorConfig, add_mask_head, create_model, load_detector, save_detector
from dfdemo.explain_eval import boundary_region, heat_in_mask_ratio, pointing_hit, randomised_copy
from dfdemo.train.sbi import self_blend

from conftest import astronaut


def _disc_mask(size=64, centre=(32, 32), r=12):
    yy, xx = np.mgrid[:size, :size]
    return ((yy - centre[1]) ** 2 + (xx - centre[0]) ** 2 < r * r).astype(np.float32)


def test_heat_inside_the_mask_beats_chance_and_uniform_heat_is_chance():
    mask = _disc_mask()
    assert heat_in_mask_ratio(mask * 1.0, mask) == pytest.approx(1 / mask.mean(), rel=1e-6)
    assert heat_in_mask_ratio(mask * 1.0, mask) > 1.0
    assert heat_in_mask_ratio(np.ones_like(mask), mask) == pytest.approx(1.0)
    assert heat_in_mask_ratio(1.0 - mask, mask) == 0.0
    assert np.isnan(heat_in_mask_ratio(np.zeros_like(mask), mask))


def test_pointing_game_hits_only_when_the_hottest_pixel_is_inside():
    mask = _disc_mask()
    heat = np.zeros_like(mask)
    heat[32, 32] = 1.0
    assert pointing_hit(heat, mask)
    heat[32, 32], heat[2, 2] = 0.5, 1.0
    assert not pointing_hit(heat, mask)
    assert not pointing_hit(np.zeros_like(mask), mask)


def test_boundary_region_of_a_self_blend_mask_is_a_face_region():
    from dfdemo.faces import FaceDetector, square_crop

    img = astronaut()
    with FaceDetector() as fd:
        d = fd.detect(img)[0]
    crop, kps = square_crop(img, d.box, 0.3, 224, d.keypoints)
    # a mask over the mouth only: its boundary lies in the mouth/cheek area, never the forehead
    mouth = _disc_mask(224, tuple(int(v) for v in kps[3]), 18)
    assert boundary_region(mouth, kps) in ("mouth", "cheeks_jaw", "nose")


def test_sanity_copy_changes_the_last_layers_only(tiny_weights):
    det = load_detector(tiny_weights)
    rnd = randomised_copy(det)
    before, after = dict(det.model.named_parameters()), dict(rnd.model.named_parameters())
    assert torch.equal(before["conv_stem.weight"], after["conv_stem.weight"])
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])
    assert not torch.equal(before["conv_head.weight"], after["conv_head.weight"])


@pytest.mark.parametrize("deep_layer", [None, "bn2"])
def test_mask_head_output_has_the_crop_shape_and_round_trips(tmp_path, deep_layer):
    torch.manual_seed(0)
    model = create_model("tf_efficientnet_lite0")
    head = add_mask_head(model, deep_layer=deep_layer)
    assert head.get("deep_channels") == (1280 if deep_layer else None)
    save_detector(model, tmp_path / "w", DetectorConfig(mask_head=head))
    det = load_detector(tmp_path / "w")
    crops = np.stack([np.zeros((224, 224, 3), np.uint8), astronaut()[100:324, 100:324]])
    maps = det.predict_masks(crops)
    assert det.has_mask_head and maps.shape == (2, 224, 224)
    assert maps.min() >= 0 and maps.max() <= 1
    # the same weights without the head still load, and then there is no learned map
    plain = create_model("tf_efficientnet_lite0")
    save_detector(plain, tmp_path / "plain", DetectorConfig())
    assert load_detector(tmp_path / "plain").predict_masks(crops) is None


@pytest.mark.parametrize("deep_layer", [None, "bn2"])
def test_analyzer_reports_the_learned_map_only_for_weights_with_a_head(tmp_path, clip, deep_layer):
    from dfdemo import Analyzer, Settings
    from dfdemo.explain import gradcam

    torch.manual_seed(1)
    model = create_model("tf_efficientnet_lite0")
    save_detector(model, tmp_path / "w", DetectorConfig(mask_head=add_mask_head(model, deep_layer=deep_layer)))
    with Analyzer.load(tmp_path / "w") as a:
        an = a.analyze(clip, Settings(frames=4, heatmaps=2, heatmap_dir=str(tmp_path / "hm")))
        # the maps captured during Grad-CAM's forward pass equal a separate pass of the head
        crops = np.stack([astronaut()[80:304, 110:334], astronaut()[60:284, 140:364]])
        with a.detector.capturing_mask_features() as captured:
            gradcam(a.detector.model, a.detector.target_layer, a.detector.preprocess(crops))
        np.testing.assert_allclose(captured(), a.detector.predict_masks(crops), atol=1e-5)
    assert len(an.learned_maps) == len(an.report.heatmaps) == 2
    for h in an.report.heatmaps:
        assert 0.0 <= h.learned_map_mean <= 1.0 and (tmp_path / "hm" / h.learned_map_path.split("/")[-1]).is_file()


def test_self_blend_changes_pixels_only_on_one_side_of_the_mask_boundary():
    """Either the source (inside the mask) or the target (outside) was transformed: the change
    rates inside and outside the mask must differ clearly, and the mask stays inside its hull."""
    from dfdemo.train.sbi import hull_mask

    img = astronaut()[60:316, 100:356]
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    lm = np.stack([128 + 60 * np.cos(t), 128 + 70 * np.sin(t)], 1).astype(np.float32)
    hull = hull_mask(lm, (256, 256))
    gaps = []
    for seed in range(6):
        fake, mask = self_blend(img, lm, np.random.default_rng(seed))
        assert fake.shape == img.shape and fake.dtype == np.uint8 and 0 <= mask.min() and mask.max() <= 1
        assert mask[:20, :20].max() == 0 and mask[-20:, -20:].max() == 0  # nothing far outside the face
        assert mask[hull > 0].mean() > 5 * max(mask[hull == 0].mean(), 1e-6)
        changed = np.abs(fake.astype(int) - img.astype(int)).sum(2) > 0
        inside, outside = mask > 0.5 * mask.max(), mask == 0
        gaps.append(abs(changed[inside].mean() - changed[outside].mean()))
    assert np.median(gaps) > 0.3, gaps
