"""Explanation faithfulness measures and the learned manipulation-map head (issue 9)."""
from __future__ import annotations

from collections import defaultdict

import cv2
import numpy as np
import pytest
import torch

from dfdemo.detector import DetectorConfig, load_config, load_detector, save_detector
from dfdemo.model import add_mask_head, create_model
from dfdemo.explain import gradcam
from dfdemo_lab.explain_eval import (boundary_region, explain_crops, heat_in_mask_ratio, kind_summary, map_measures,
                                 pointing_hit, randomised_copy, reinit_from, sanity_rho, with_cam)
from dfdemo_lab.sbi import region_mask, self_blend

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


def _six_keypoints(marks: np.ndarray) -> np.ndarray:
    """BlazeFace's 6 keypoints (eyes, nose, mouth, ears) from dlib's 68 landmarks."""
    m = np.asarray(marks, np.float64)
    return np.stack([m[36:42].mean(0), m[42:48].mean(0), m[30], m[48:68].mean(0), m[0], m[16]])


def test_heat_on_the_mouth_scores_on_mouth_blends_and_not_on_eye_blends(face68):
    """The per-kind table of explain-eval: a map concentrated on the mouth beats a uniform one on
    the mouth blends (and is below chance on the eye blends); a uniform map is chance on both."""
    crop, marks = face68
    kps = _six_keypoints(marks)
    kinds, masks = [], []
    for seed in range(4):
        for kind in ("mouth", "eyes"):
            _, mask = self_blend(crop, marks, np.random.default_rng(seed), kind)
            kinds.append(kind)
            masks.append(mask)
    mouth = region_mask(marks, crop.shape[:2], "mouth")
    mouth_heat = cv2.GaussianBlur(mouth, (0, 0), 4)  # a Grad-CAM-like soft map on the mouth
    uniform = np.ones(crop.shape[:2], np.float32)
    tables = {}
    for name, heat in (("mouth", mouth_heat), ("uniform", uniform)):
        res = defaultdict(list)
        maps = [heat] * len(masks)
        map_measures(res, "", maps, maps, masks, [kps] * len(masks))
        r = {k: np.asarray(v, np.float64) for k, v in res.items()}
        tables[name] = kind_summary(r, np.asarray(kinds), "", "")
    on_mouth, flat = tables["mouth"], tables["uniform"]
    assert on_mouth["heat_in_mask_ratio_mouth"] > 2.0 > flat["heat_in_mask_ratio_mouth"]
    assert flat["heat_in_mask_ratio_mouth"] == pytest.approx(1.0, abs=0.05)
    assert flat["heat_in_mask_ratio_eyes"] == pytest.approx(1.0, abs=0.05)
    assert on_mouth["heat_in_mask_ratio_eyes"] < 0.5  # the kinds are not mixed up
    assert on_mouth["pointing_game_mouth"] == 1.0 and on_mouth["pointing_game_eyes"] == 0.0
    assert on_mouth["heat_in_mask_ratio_region"] == pytest.approx(
        np.mean([on_mouth["heat_in_mask_ratio_mouth"], on_mouth["heat_in_mask_ratio_eyes"]]), rel=1e-6)
    assert on_mouth["sanity_spearman"] == pytest.approx(1.0)  # a map compared with itself


@pytest.fixture(scope="module")
def head_weights(tmp_path_factory):
    """Untrained weights with a learned-map head on blocks.4 (no deep branch) and Grad-CAM on blocks.4."""
    torch.manual_seed(3)
    model = create_model("tf_efficientnet_lite0")
    head = add_mask_head(model, "blocks.4")
    return save_detector(model, tmp_path_factory.mktemp("w") / "head", DetectorConfig(mask_head=head, target_layer="blocks.4"))


def test_reinitialised_model_maps_decorrelate_and_the_same_model_agrees_with_itself(head_weights):
    det = load_detector(head_weights)
    assert reinit_from(det) == 4  # the block the learned map reads, not only the last two
    rnd = randomised_copy(det)
    before, after = dict(det.model.named_parameters()), dict(rnd.model.named_parameters())
    assert torch.equal(before["blocks.3.0.conv_pw.weight"], after["blocks.3.0.conv_pw.weight"])
    for name in ("blocks.4.0.conv_pw.weight", "mask_head.net.0.weight", "classifier.weight"):
        assert not torch.equal(before[name], after[name]), name
    crops = np.stack([astronaut()[60:284, 140:364], astronaut()[40:264, 120:344], astronaut()[90:314, 150:374]])
    x = det.preprocess(crops)
    maps, learned = explain_crops(det, x)
    # the learned map captured in Grad-CAM's pass at the very layer it reads = a pass of its own
    np.testing.assert_allclose(learned, det.predict_masks(crops), atol=1e-5)
    again, learned_again = explain_crops(load_detector(head_weights), x)  # the same model, loaded again
    rand_maps, rand_learned = explain_crops(rnd, x)
    for a, b, r in zip(maps, again, rand_maps):
        assert sanity_rho(a, b) > 0.99
        assert abs(sanity_rho(a, r)) < 0.5
    for a, b, r in zip(learned, learned_again, rand_learned):
        assert sanity_rho(a, b) > 0.99
        assert abs(sanity_rho(a, r)) < 0.5
    # re-initialising only the classifier's last blocks (the old check) leaves the learned map as it was
    old = randomised_copy(det, from_block=len(det.model.blocks) - 2)
    with torch.no_grad():
        old.model.mask_head.load_state_dict(det.model.mask_head.state_dict())
    assert min(sanity_rho(a, b) for a, b in zip(learned, old.predict_masks(crops))) > 0.99


def _kinks_per_row(heat: np.ndarray) -> float:
    """Bends per row of a bilinearly upsampled map: two per cell of the layer's grid."""
    return float(np.median((np.abs(np.diff(heat.astype(np.float64), 2, axis=1)) > 1e-4).sum(1)))


def test_cam_setting_round_trips_through_config_and_sets_the_resolution(tmp_path, tiny_weights):
    old = load_detector(tiny_weights)  # a config without "cam": Grad-CAM on bn2, as before
    assert old.cam_method == "gradcam" and old.cam_layer_names == ["bn2"] and "cam" not in old.config.to_json_dict()["dfdemo"]
    model = create_model("tf_efficientnet_lite0")
    model.load_state_dict(old.model.state_dict())
    save_detector(model, tmp_path / "w", DetectorConfig(target_layer="blocks.4,bn2", cam="layercam"))
    assert load_config(tmp_path / "w").cam == "layercam"
    det = load_detector(tmp_path / "w")
    assert det.cam_method == "layercam" and det.cam_layer_names == ["blocks.4", "bn2"]
    assert [m is det.model.get_submodule(n) for m, n in zip(det.cam_layers, ["blocks.4", "bn2"])] == [True, True]
    x = old.preprocess(astronaut()[60:284, 140:364][None])
    coarse = gradcam(old.model, old.cam_layers, x, old.cam_method)[0]
    fine = gradcam(with_cam(old, "blocks.4").model, with_cam(old, "blocks.4").cam_layers, x)[0]
    assert _kinks_per_row(coarse) <= 2 * 7 < 2 * 12 <= _kinks_per_row(fine)  # 7x7 cells at bn2, 14x14 at blocks.4
    both = gradcam(det.model, det.cam_layers, x, det.cam_method)[0]
    assert _kinks_per_row(both) > _kinks_per_row(fine)  # both grids
    with pytest.raises(ValueError, match="layercam"):
        gradcam(old.model, old.cam_layers, x, "gradcam+++")
    save_detector(model, tmp_path / "bad", DetectorConfig(target_layer="blocks.99"))
    from dfdemo.errors import WeightsError

    with pytest.raises(WeightsError, match="blocks.99"):
        load_detector(tmp_path / "bad")


@pytest.mark.parametrize("deep_layer", [None, "bn2"])
def test_mask_head_output_has_the_crop_shape_and_round_trips(tmp_path, deep_layer):
    torch.manual_seed(0)
    model = create_model("tf_efficientnet_lite0")
    head = add_mask_head(model, deep_layer=deep_layer)
    assert head.deep_channels == (1280 if deep_layer else 0)
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
    from dfdemo_lab.sbi import hull_mask

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


def test_record_stores_the_numbers_and_the_setting_and_how_it_works_shows_them(tmp_path, tiny_weights):
    import shutil

    from dfdemo_lab.explain_eval import record
    from dfdemo.words import how_it_works

    folder = shutil.copytree(tiny_weights, tmp_path / "w")
    det = with_cam(load_detector(folder), "blocks.4", "layercam")
    sbi = {"n": 128, "heat_in_mask_ratio": 1.9, "pointing_game": 0.71, "heat_in_mask_ratio_region": 2.6,
           "heat_in_mask_ratio_mouth": 2.8, "learned_map_iou": 0.5, "sanity_spearman": float("nan")}
    dev = {"slices": {}, "summary": {"background_share_dev_fake": 0.21, "background_share_dev_real": 0.3}}
    record(str(folder), sbi, dev, det)
    cfg = load_config(folder)
    assert (cfg.target_layer, cfg.cam) == ("blocks.4", "layercam")  # the product now explains as measured
    f = cfg.extra["faithfulness"]
    assert f["heat_in_mask_ratio_mouth"] == 2.8 and f["background_share_dev_real"] == 0.3
    assert f["cam_setting"] == "layercam@blocks.4" and "sanity_spearman" not in f  # nan is not stored
    page = how_it_works(f)
    assert "| Heat inside the blended region, relative to chance (1 = chance) | 1.90 |" in page  # old row
    assert "| Heat inside the blended region when only the mouth or the eyes were blended (1 = chance) | 2.60 |" in page
    assert "(dev-eval) | 21% |" in page
    assert load_detector(folder).cam_layer_names == ["blocks.4"]


def test_dev_eval_background_share_covers_fakes_and_reals_per_slice(tiny_weights):
    from dfdemo_lab.explain_eval import deveval_eval
    from dfdemo.faces import FaceDetector, square_crop

    det = load_detector(tiny_weights)
    img = astronaut()
    with FaceDetector() as fd:
        d = fd.detect(img)[0]
    crops, kps = zip(*[square_crop(np.roll(img, shift, 1), (d.box[0] + shift, d.box[1], d.box[2] + shift, d.box[3]),
                                   0.3, 224, d.keypoints + [shift, 0]) for shift in (0, 8, 16)])
    rows = [{"slice": "a", "label": "fake"}, {"slice": "b", "label": "real"}]
    faces = {"crops": np.stack(crops + crops[:1]), "keypoints": np.stack(kps + kps[:1]), "file_row": np.array([0, 0, 0, 1])}
    out = deveval_eval(det, rows, faces, per_file=2)
    assert out["slices"]["a/fake"]["crops"] == 2 and out["slices"]["b/real"]["crops"] == 1  # the 2 most suspicious per file
    p = det.predict(faces["crops"][:3])
    assert out["slices"]["a/fake"]["p_fake"] == pytest.approx(np.sort(p)[-2:].mean(), abs=1e-5)
    s = out["summary"]
    assert 0.2 < s["background_area_dev_fake"] < 0.8  # the face regions cover part of a crop with margin 0.3
    for label in ("fake", "real"):
        assert 0.0 <= s[f"background_share_dev_{label}"] <= 1.0
        assert s[f"background_share_dev_{label}"] == pytest.approx(out["slices"]["a/fake" if label == "fake" else "b/real"]["background"])
