"""Training data of detector v3 (issue 14): region self-blends, cross-frame blends, the mixture,
the split of the new real clips by source, the dev-eval crops and the photo threshold."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dfdemo.config import Cut
from dfdemo.detector import DetectorConfig
from dfdemo_lab.cache import SOURCE_HOLDOUT_PERCENT, source_of, split_of
from dfdemo_lab.sbi import BLEND_KINDS, align_to, blend_mask, hull_mask, region_mask, self_blend

from conftest import astronaut


@pytest.fixture
def face(face68):
    return face68


def _centre(mask: np.ndarray) -> np.ndarray:
    yy, xx = np.nonzero(mask > 0.5)
    return np.array([xx.mean(), yy.mean()])


def test_each_region_lies_on_its_part_of_the_face(face):
    crop, marks = face
    shape = crop.shape[:2]
    hull = hull_mask(marks, shape)
    areas = {}
    for kind in BLEND_KINDS:
        m = region_mask(marks, shape, kind)
        areas[kind] = m.sum()
        assert m.sum() > 0
        assert (m * (1 - hull)).sum() < 0.25 * m.sum(), kind  # (nearly) inside the face hull
    mouth, eyes, nose_tip = marks[48:60].mean(0), marks[36:48].mean(0), marks[33]
    assert np.linalg.norm(_centre(region_mask(marks, shape, "mouth")) - mouth) < 0.1 * shape[0]
    assert np.linalg.norm(_centre(region_mask(marks, shape, "eyes")) - eyes) < 0.1 * shape[0]
    assert _centre(region_mask(marks, shape, "lower"))[1] > nose_tip[1] - 0.02 * shape[0]  # below the nose
    assert areas["mouth"] < areas["lower"] < areas["face"] and areas["eyes"] < areas["inner"] < areas["face"]
    # the inner face leaves the outline alone: the jaw line points are outside it
    inner = region_mask(marks, shape, "inner")
    jaw = marks[[0, 1, 15, 16]].astype(int)
    assert all(inner[y, x] == 0 for x, y in jaw)


def test_region_blends_change_pixels_in_their_region_only(face):
    crop, marks = face
    rng = np.random.default_rng(0)
    for kind in ("mouth", "eyes", "lower"):
        region = region_mask(marks, crop.shape[:2], kind)
        grown = cv2.dilate(region, np.ones((41, 41), np.uint8))
        for _ in range(3):
            fake, mask = self_blend(crop, marks, rng, kind)
            assert mask.max() > 0.2
            assert mask[grown == 0].max() < 0.05, kind  # the soft mask stays near its region
            assert (mask * region).sum() > 0.5 * (mask * grown).sum()


def test_blend_mask_is_soft_and_bounded_for_every_kind(face):
    crop, marks = face
    rng = np.random.default_rng(1)
    for kind in BLEND_KINDS:
        m = blend_mask(marks, crop.shape[:2], rng, kind)
        assert m.dtype == np.float32 and 0 <= m.min() and m.max() == pytest.approx(1.0)
        assert 0 < ((m > 0.05) & (m < 0.95)).mean() < 0.5  # a blurred boundary, not a hard edge


def test_align_to_undoes_a_similarity_transform(face):
    crop, marks = face
    h, w = crop.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.07)
    m[:, 2] += (5, -4)
    moved = cv2.warpAffine(crop, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    moved_marks = marks @ m[:, :2].T + m[:, 2]
    back = align_to(moved, moved_marks, marks)
    inner = hull_mask(marks, (h, w)) > 0
    err = np.abs(back.astype(int) - crop.astype(int))[inner].mean()
    assert err < 6, err  # the same face back in place (interpolation only)
    assert np.abs(moved.astype(int) - crop.astype(int))[inner].mean() > 3 * err


def test_cross_frame_blend_takes_the_other_frame_inside_the_mask(face):
    crop, marks = face
    other = np.full_like(crop, 200)
    other[..., 2] = 20  # a colour the astronaut's face does not have
    fake, mask = self_blend(crop, marks, np.random.default_rng(3), "face", source=other)
    inside, outside = mask > 0.9, mask == 0
    assert np.abs(fake[inside].astype(int) - crop[inside]).mean() > 40
    assert np.abs(fake[outside].astype(int) - crop[outside]).mean() < 1


def test_blend_mix_parses_and_draws_in_proportion():
    from dfdemo_lab.data import BlendMix

    mix = BlendMix.parse("face:2,mouth:1,eyes:1", 0.3)
    assert dict(mix.kinds) == {"face": 0.5, "mouth": 0.25, "eyes": 0.25} and mix.cross_frame == 0.3
    rng = np.random.default_rng(0)
    draws = [mix.draw(rng) for _ in range(4000)]
    assert abs(draws.count("face") / 4000 - 0.5) < 0.03 and abs(draws.count("mouth") / 4000 - 0.25) < 0.03
    from dfdemo_lab.errors import LabError

    with pytest.raises(LabError, match="unknown kind 'nose'"):
        BlendMix.parse("face:1,nose:1", 0)


def test_new_clips_are_split_by_source_repository():
    names = [f"owner{i}__repo{i}__clip{j}" for i in range(200) for j in range(3)]
    splits = {}
    for n in names:
        splits.setdefault(source_of(f"more/{n}"), set()).add(split_of(f"more/{n}"))
    assert all(len(s) == 1 for s in splits.values())  # a source is all train or all held out
    held = sum(s == {"val"} for s in splits.values()) / len(splits)
    assert abs(held - SOURCE_HOLDOUT_PERCENT / 100) < 0.1
    # the first clip folders keep their per-clip split (v1/v2's held-out clips stay held out)
    assert source_of("talking-heads/a__b__c") == "talking-heads/a__b__c"
    assert source_of("lfw/Some_Person") == "lfw/Some_Person"


def test_photo_threshold_applies_to_images_only():
    cfg = DetectorConfig(threshold=0.8, uncertain_band=(0.7, 0.9), photo_threshold=0.95, photo_uncertain_band=(0.9, 0.975))
    assert cfg.cut("image") == Cut(0.95, (0.9, 0.975))
    assert cfg.cut("video") == Cut(0.8, (0.7, 0.9))
    assert DetectorConfig(threshold=0.8, uncertain_band=(0.7, 0.9)).cut("image") == Cut(0.8, (0.7, 0.9))
    again = DetectorConfig.from_json_dict(cfg.to_json_dict())
    assert again.photo_threshold == 0.95 and again.photo_uncertain_band == (0.9, 0.975)
    assert "photo_threshold" not in DetectorConfig().to_json_dict()["dfdemo"]  # older configs are unchanged


def test_the_analyzer_judges_a_photo_by_the_photo_threshold(tiny_weights, photo, tmp_path):
    import shutil

    from dfdemo import Analyzer, Settings
    from dfdemo.detector import load_config

    w = tmp_path / "w"
    shutil.copytree(tiny_weights, w)
    cfg = load_config(w)
    (w / "config.json").write_text(__import__("json").dumps(
        DetectorConfig(**{**cfg.__dict__, "threshold": 0.999, "uncertain_band": (0.99, 0.9995),
                          "photo_threshold": 0.001, "photo_uncertain_band": (0.0005, 0.002)}).to_json_dict()))
    with Analyzer.load(w) as a:
        rep = a.analyze(photo, Settings(frames=1, heatmaps=0)).report
    assert rep.threshold == 0.001 and tuple(rep.uncertain_band) == (0.0005, 0.002)


def test_cross_validated_fpr_holds_whole_sources_out():
    from dfdemo_lab.calibrate import calibration, group_folds
    from dfdemo_lab.evaluate import Scored

    groups = [f"s{i // 3}" for i in range(30)]
    folds = group_folds(groups)
    assert all(len({folds[i] for i in range(30) if groups[i] == g}) == 1 for g in set(groups))
    # one source scores far higher than all others: only a threshold set without it lets it through
    scores = [Scored([], 0.95 if g == "s4" else 0.1 + 0.01 * i) for i, g in enumerate(groups)]
    t, cal = calibration(scores, 0.05, 0.5, groups, sbi_clips=np.array([0.2, 0.97, 0.99]))
    assert cal["clip_fpr"] <= 0.05 + 1e-9 and t > 0.95
    assert cal["cross_fold_clip_fpr"] == pytest.approx(3 / 30)
    assert cal["sources"] == 10 and cal["sbi_clip_tpr"] == pytest.approx(2 / 3)


def test_dev_crops_aggregate_as_the_product_does():
    from dfdemo.analyzer import aggregate
    from dfdemo_lab.evaluate import DevCrops

    dc = DevCrops(np.zeros((7, 4, 4, 3), np.uint8), np.array([0, 0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 0, 0, 0]),
                  np.array([1, 0, 0]), np.array(["a", "a", "b"]))
    frame = np.array([0.9, 0.1, 0.3, 0.4, 0.2, 0.6, 0.5])
    files = dc.file_scores(frame)
    assert files[0] == pytest.approx(max(aggregate(frame[:2]), aggregate(frame[2:4])))
    assert files[1] == pytest.approx(aggregate(frame[4:]))
    assert files[2] == 0.0  # no face found: scored as real, as eval does


def test_eval_from_saved_crops_scores_every_file_like_the_detector(tiny_weights, tmp_path):
    import json

    from dfdemo.analyzer import aggregate
    from dfdemo.detector import load_detector
    from dfdemo_lab.evaluate import DevCrops, main

    img = cv2.resize(astronaut()[60:316, 100:356], (224, 224))
    crops = np.stack([img, img[::-1], np.ascontiguousarray(img[:, ::-1]), 255 - img, img // 2, img])
    dc = DevCrops(crops, np.array([0, 0, 1, 1, 2, 3]), np.zeros(6, int), np.array([1, 0, 1, 0]),
                  np.array(["x", "x", "synthesis", "synthesis"]))
    dc.save(tmp_path / "c.npz")
    out = tmp_path / "e.json"
    assert main(["unused.csv", "--from-crops", str(tmp_path / "c.npz"), "--weights", str(tiny_weights), "--json", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    s = load_detector(tiny_weights).predict(crops)
    files = [aggregate(s[:2]), aggregate(s[2:4]), s[4], s[5]]
    expect = float(files[0] > files[1]) + 0.5 * (files[0] == files[1])
    assert summary["x"]["dfdemo"]["video_auc"] == pytest.approx(expect)
    assert summary["overall"]["n_fake"] == 2 and summary["no-synthesis"]["n_fake"] == 1


def test_eval_from_saved_crops_runs_with_the_bundled_weights_and_their_track_head(tmp_path):
    """The bundled weights have a lip-sync head that judges whole tracks from the mouth too:
    saved crops carry neither, so eval scores them with the blending and crop-level checks."""
    import json

    from dfdemo_lab.evaluate import DevCrops, main

    img = cv2.resize(astronaut()[60:316, 100:356], (224, 224))
    crops = np.stack([img, img[::-1], img // 2, img])
    DevCrops(crops, np.array([0, 1, 2, 3]), np.zeros(4, int), np.array([1, 0, 1, 0]),
             np.array(["x", "x", "synthesis", "synthesis"])).save(tmp_path / "c.npz")
    out = tmp_path / "e.json"
    weights = Path(__file__).resolve().parents[1] / "weights" / "detector"
    assert main(["unused.csv", "--from-crops", str(tmp_path / "c.npz"), "--weights", str(weights), "--json", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert {"dfdemo", "synthesis"} <= set(summary["x"])


def test_record_accuracy_writes_the_headline_row_the_card_reads(tiny_weights, tmp_path):
    import shutil

    from dfdemo.detector import load_config
    from dfdemo_lab.evaluate import record_accuracy

    w = tmp_path / "w"
    shutil.copytree(tiny_weights, w)
    row = {"video_auc": 0.8123, "video_auc_ci95": [0.7, 0.9], "tpr": 0.61, "fpr": 0.09}
    summary = {"overall": {"n_fake": 10, "n_real": 5, "dfdemo": {**row, "tpr": 0.1}},
               "no-synthesis": {"n_fake": 6, "n_real": 4, "dfdemo": row}}
    record_accuracy(w, summary, "dfdemo")
    acc = load_config(w).extra["accuracy"]
    assert (acc["fakes"], acc["reals"], acc["auc"], acc["tpr"], acc["fpr"]) == (6, 4, 0.812, 0.61, 0.09)
    assert load_config(w).threshold == load_config(tiny_weights).threshold  # nothing else changed


def test_summary_judges_each_file_at_its_own_threshold():
    from dfdemo_lab.evaluate import Scored, summarise

    rows = [{"label": "fake", "slice": "a"}, {"label": "real", "slice": "a"}, {"label": "fake", "slice": "b"},
            {"label": "real", "slice": "b"}]
    scores = {"m": [Scored([0.9], 0.9), Scored([0.7], 0.7), Scored([0.6], 0.6), Scored([0.2], 0.2)]}
    one = summarise(rows, scores, {"m": 0.8})
    per_file = summarise(rows, scores, {"m": [0.95, 0.95, 0.5, 0.5]})  # a: clips at 0.95, b: photos at 0.5
    assert (one["overall"]["m"]["tpr"], one["overall"]["m"]["fpr"]) == (0.5, 0.0)
    assert (per_file["overall"]["m"]["tpr"], per_file["overall"]["m"]["fpr"]) == (0.5, 0.0)
    assert per_file["a"]["m"]["tpr"] == 0.0 and per_file["b"]["m"]["tpr"] == 1.0 and per_file["b"]["m"]["fpr"] == 0.0


def test_the_band_reaches_down_to_twice_the_target_false_alarms():
    from dfdemo_lab.calibrate import band_for, threshold_for

    scores = np.r_[np.linspace(0.0, 0.4, 35), [0.60, 0.80, 0.90, 1.0, 1.0]]  # 40 real clips, 5 scoring high
    t = threshold_for(scores, 0.05, 0.5)  # 2 of 40 allowed at or above it: 0.901
    lo, hi = band_for(t, scores, 0.05)
    assert lo == pytest.approx(threshold_for(scores, 0.10, 0.0), abs=1e-4) and lo < t < hi
    assert ((scores >= lo) & (scores < t)).sum() == 2  # twice the target: 2 more clips would be called fake
    assert band_for(0.6) == (0.5, 0.7)  # without scores: the symmetric band, as before
    assert band_for(0.6, np.zeros(40), 0.05) == (0.3, 0.7)  # never below half the threshold
