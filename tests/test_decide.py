"""The decision rules on numbers alone (dfdemo.decide, config.Cut, report.SEVERITY): no model,
no media. Each rule is fed the numbers on both sides of where it changes its answer."""
from __future__ import annotations

import pytest

from dfdemo import decide
from dfdemo.config import Calibration, Cut, DetectorConfig, SynthesisConfig, TemporalConfig
from dfdemo.report import SEVERITY, FaceReport, Report, blending_check, deciding, judged, make_check, not_checked

CUT = Cut(0.9835, (0.8045, 0.9918))  # the bundled clip cut: the band reaches past the threshold


# ---------------------------------------------------------------- one cut
@pytest.mark.parametrize("p, verdict", [(0.8044, "real"), (0.8045, "uncertain"), (0.9834, "uncertain"),
                                        (0.9835, "uncertain"), (0.9917, "uncertain"), (0.9918, "fake"), (1.0, "fake"),
                                        (0.0, "real"), (None, "no_face")])
def test_a_score_reads_against_the_cut_and_its_band(p, verdict):
    assert CUT.verdict(p) == verdict


@pytest.mark.parametrize("p, verdict", [(0.4999, "real"), (0.5, "fake"), (0.5001, "fake")])
def test_without_a_band_the_threshold_alone_decides(p, verdict):
    assert Cut.at(0.5).verdict(p) == verdict and Cut.at(0.5).band == (0.5, 0.5)


def test_signs_start_where_the_verdicts_change():
    assert CUT.signs == (0.8045, 0.9918)  # the threshold lies inside the band: "strong" from its top
    assert Cut(0.5, (0.3, 0.45)).signs == (0.3, 0.5)  # a band below the threshold: "strong" from the threshold
    for cut in (CUT, Cut(0.5, (0.3, 0.45)), Cut.manual(0.7)):
        low, strong = cut.signs
        assert cut.verdict(low - 1e-6) == "real" and cut.verdict(low) != "real"
        assert cut.verdict(strong - 1e-6) != "fake" and cut.verdict(strong) == "fake"


def test_a_manual_cut_has_the_manual_band_clipped_to_0_1():
    assert Cut.manual(0.5) == Cut(0.5, (0.45, 0.55))
    assert Cut.manual(0.02).band == (0.0, 0.07) and Cut.manual(0.99).band == (0.94, 1.0)
    assert Cut.at(None) is None


def test_one_calibration_block_gives_photos_their_own_cut_and_videos_the_clip_one():
    cal = Calibration(Cut(0.8, (0.7, 0.9)), Cut(0.95, (0.9, 0.975)))
    assert cal.cut("video") == Cut(0.8, (0.7, 0.9)) and cal.cut("image") == Cut(0.95, (0.9, 0.975))
    assert Calibration(Cut(0.8, (0.7, 0.9))).cut("image") == Cut(0.8, (0.7, 0.9))
    assert Calibration(None, Cut(0.95, (0.9, 0.975))).cut("video") is None
    stored = {"threshold": None, "uncertain_band": None, "photo_threshold": 0.8, "photo_uncertain_band": [0.7, 0.9]}
    assert Calibration.read(stored) == Calibration(None, Cut(0.8, (0.7, 0.9))) and Calibration.read(stored).write() == stored
    assert Calibration.read({}) == Calibration(Cut(0.5, (0.4, 0.6)))  # older configs: the default cut


def test_the_blending_score_and_a_learned_check_read_the_same_block():
    det = DetectorConfig(threshold=0.8, uncertain_band=(0.7, 0.9), photo_threshold=0.95, photo_uncertain_band=(0.9, 0.975))
    head = SynthesisConfig(("a",), (), 4, threshold=0.8, uncertain_band=(0.7, 0.9), photo_threshold=0.95,
                           photo_uncertain_band=(0.9, 0.975))
    for kind in ("video", "image"):
        assert det.cut(kind) == head.cut(kind)
    assert SynthesisConfig(("a",), (), 4, media=("video",)).cut("image") is None  # not judged: no cut


# ---------------------------------------------------------------- cuts → verdicts
def test_the_user_threshold_replaces_every_calibrated_blending_cut():
    cfg = DetectorConfig(threshold=0.8, uncertain_band=(0.7, 0.9), photo_threshold=0.95, photo_uncertain_band=(0.9, 0.975))
    temporal = TemporalConfig(threshold=0.45, uncertain_band=(0.4, 0.5))
    assert decide.choose_cuts(cfg, "image").frame == Cut(0.95, (0.9, 0.975))
    cuts = decide.choose_cuts(cfg, "video", None, temporal)
    assert cuts.frame == Cut(0.8, (0.7, 0.9)) and cuts.combined == Cut(0.45, (0.4, 0.5))
    manual = decide.choose_cuts(cfg, "video", 0.6, temporal)
    assert manual.frame == manual.combined == Cut.manual(0.6) and manual.frame.band == pytest.approx((0.55, 0.65))
    assert decide.choose_cuts(cfg, "video").combined == Cut(0.8, (0.7, 0.9))  # no temporal check: the frame cut


@pytest.mark.parametrize("frame_p, verdict", [(0.6999, "real"), (0.7, "uncertain"), (0.8999, "uncertain"), (0.9, "fake")])
def test_a_face_is_judged_by_its_frame_score_at_the_frame_cut(frame_p, verdict):
    cuts = decide.Cuts(Cut(0.8, (0.7, 0.9)), Cut(0.45, (0.4, 0.5)))
    c = decide.blending_check(frame_p, None, 0.5, cuts)
    assert (c.verdict, c.fake_probability, c.threshold, c.uncertain_band) == (verdict, frame_p, 0.8, (0.7, 0.9))


def test_a_face_with_windows_is_judged_by_the_combined_score_at_the_combined_cut():
    cuts = decide.Cuts(Cut(0.8, (0.7, 0.9)), Cut(0.45, (0.4, 0.5)))
    c = decide.blending_check(0.3, 0.7, 0.25, cuts)  # 0.25 * 0.3 + 0.75 * 0.7 = 0.6
    assert c.fake_probability == pytest.approx(0.6) and c.verdict == "fake" and c.threshold == 0.45
    assert decide.blending_check(0.3, 0.5, 0.5, cuts).verdict == "uncertain"  # 0.4: inside the combined band


def test_a_track_is_scored_by_the_mean_of_its_top_half():
    assert decide.aggregate([0.1, 0.9, 0.5, 0.7]) == pytest.approx(0.8)
    assert decide.aggregate([0.1, 0.9, 0.5]) == pytest.approx(0.7)  # 3 frames: the top 2
    assert decide.aggregate([0.42]) == pytest.approx(0.42)


def test_a_learned_check_abstains_for_want_of_a_cut_a_size_or_frames_and_says_why():
    crop = SynthesisConfig(("a",), (), 4, min_face_px=100.0)
    track = SynthesisConfig(("a",), (), 4, media=("video",), unit="track")
    cut = Cut(0.5, (0.4, 0.6))
    assert decide.abstains(track, None, "image", 200.0, 1) == "needs_video"
    assert decide.abstains(crop, None, "video", 200.0, 5) == "not_calibrated"
    assert decide.abstains(crop, cut, "image", 99.9, 1) == "face_too_small"
    assert decide.abstains(crop, cut, "image", 100.0, 1) is None  # from the calibrated size on
    assert decide.abstains(track, cut, "video", 200.0, 1) == "too_few_frames"
    assert decide.abstains(track, cut, "video", 200.0, 2) is None  # the default: the fewest frames with a spread
    longer = SynthesisConfig(("a",), (), 4, media=("video",), unit="track", min_frames=8)
    assert decide.abstains(longer, cut, "video", 200.0, 7) == "too_few_frames"
    assert decide.abstains(longer, cut, "video", 200.0, 8) is None
    careless = SynthesisConfig(("a",), (), 4, media=("video",), unit="track", min_frames=0)  # a config edited by hand
    assert decide.abstains(careless, cut, "video", 200.0, 1) == "too_few_frames"  # never fewer than the fewest with a spread
    assert "at least 2)" in decide.abstain_warning("animation", careless, "too_few_frames", 200.0, 1)  # what it applies
    assert decide.abstain_warning("animation", longer, "too_few_frames", 200.0, 7) == (
        "seen in 7 sampled frames, too few for the lip-sync / face animation check (it judges a face seen in at least 8): "
        "not checked")
    assert "99 px" in decide.abstain_warning("synthesis", crop, "face_too_small", 99.4, 1)
    assert decide.abstain_warning("synthesis", crop, "not_calibrated", 99.4, 1) is None  # said once, in a note
    checked = decide.learned_check("synthesis", None, 0.55, cut)
    assert (checked.verdict, checked.threshold, checked.reason) == ("uncertain", 0.5, None)
    skipped = decide.learned_check("animation", "too_few_frames", None, cut)
    assert (skipped.verdict, skipped.fake_probability, skipped.reason) == ("not_checked", None, "too_few_frames")


# ---------------------------------------------------------------- the deciding check
def test_severity_has_one_order_and_a_tie_goes_to_blending():
    assert sorted(SEVERITY, key=SEVERITY.get) == ["not_checked", "no_face", "real", "uncertain", "fake"]
    blend = judged("blending", 0.95, Cut(0.9, (0.85, 0.95)))
    synth = judged("synthesis", 0.99, Cut(0.5, (0.4, 0.6)))
    assert blend.verdict == synth.verdict == "fake" and deciding([blend, synth]) is blend  # higher score, same verdict
    uncertain = judged("blending", 0.87, Cut(0.9, (0.85, 0.95)))
    assert deciding([uncertain, synth]) is synth  # a more severe verdict decides
    assert deciding([not_checked("synthesis", "not_calibrated"), judged("blending", 0.1, Cut.at(0.5))]).name == "blending"
    assert deciding([]) is None


def face(tid: int, *checks) -> FaceReport:
    decided = deciding(list(checks))
    return FaceReport(tid, decided.fake_probability, decided.verdict, [], checks=list(checks))


def test_the_file_check_is_the_most_severe_face_then_the_highest_score():
    cut = Cut(0.5, (0.4, 0.6))
    faces = [face(0, judged("blending", 0.45, cut)), face(1, judged("blending", 0.3, cut)),
             face(2, judged("blending", 0.55, cut))]
    assert decide.file_check("blending", faces).fake_probability == 0.55  # two uncertain: the higher score
    faces.append(face(3, judged("blending", 0.9, cut)))
    assert decide.file_check("blending", faces).verdict == "fake"
    assert decide.file_check("blending", []).verdict == "no_face"


def test_a_check_that_judged_no_face_keeps_the_reason_the_faces_share():
    cut = Cut(0.5, (0.4, 0.6))
    small = [face(i, judged("blending", 0.1, cut), not_checked("synthesis", "face_too_small")) for i in range(2)]
    assert decide.file_check("synthesis", small).reason == "face_too_small"
    mixed = [small[0], face(2, judged("blending", 0.1, cut), not_checked("synthesis", "too_few_frames"))]
    c = decide.file_check("synthesis", mixed)
    assert c.verdict == "not_checked" and c.reason is None
    some = [small[0], face(3, judged("blending", 0.1, cut), judged("synthesis", 0.2, cut))]
    assert decide.file_check("synthesis", some).fake_probability == 0.2  # a face it judged decides


def test_the_file_verdict_is_read_at_the_deciding_checks_cut():
    frame = Cut(0.8, (0.7, 0.9))
    cuts = decide.Cuts(frame, frame, {"synthesis": Cut(0.5, (0.4, 0.6))})
    checks = [judged("blending", 0.2, frame), judged("synthesis", 0.55, Cut(0.5, (0.4, 0.6)))]
    assert decide.report_cut(checks, cuts) == Cut(0.5, (0.4, 0.6))
    assert decide.report_cut([make_check("blending", "no_face", None)], cuts) == frame  # no face: the frame cut


def test_the_temporal_check_runs_only_where_it_can():
    t = TemporalConfig(window=8)
    assert decide.temporal_state(False, t, "video", 100) == ("off", None)
    assert decide.temporal_state(True, None, "video", 100)[0] == "unavailable"
    assert decide.temporal_state(True, t, "image", 1)[0] == "not_applicable"
    assert decide.temporal_state(True, t, "video", 7)[0] == "not_applicable"
    assert decide.temporal_state(True, t, "video", 8) == ("used", None)


def test_the_maps_go_first_to_the_face_that_decides_then_to_the_highest_scores():
    cut = Cut(0.5, (0.4, 0.6))
    faces = [face(0, judged("blending", 0.2, cut)), face(1, judged("blending", 0.9, cut)), face(2, judged("blending", 0.3, cut))]
    scores = {0: [(0.1, 0.1), (0.3, 0.3)], 1: [(0.95, 0.95), (0.8, 0.8), (0.85, 0.85)], 2: [(0.2, 0.2)]}
    assert decide.explained_crops(faces, scores, "blending", 1) == [(1, 0)]  # the deciding face, its top crop
    assert decide.explained_crops(faces, scores, "blending", 3) == [(0, 1), (1, 0), (2, 0)]  # one per face
    assert decide.explained_crops(faces, scores, "blending", 5) == [(0, 1), (1, 0), (1, 2), (1, 1), (2, 0)]


# ---------------------------------------------------------------- older reports, read once
def test_an_older_report_reads_as_its_blending_check_at_its_own_cut():
    old = Report("a.mp4", "video", "uncertain", 0.55, 4, 4, [FaceReport(0, 0.55, "uncertain", [])], {}, "m", 0.5,
                 (0.45, 0.6), {})
    assert old.deciding().name == "blending" and old.deciding().verdict == "uncertain"
    assert old.cut_of(old.deciding()) == Cut(0.5, (0.45, 0.6)) == old.blending_cut()
    assert old.faces[0].blending() == blending_check("uncertain", 0.55)
    new = Report("a.mp4", "video", "fake", 0.9, 4, 4, [], {}, "m", 0.8, (0.7, 0.9), {},
                 checks=[judged("blending", 0.9, Cut(0.8, (0.7, 0.9))), not_checked("synthesis", "not_calibrated")])
    assert new.check("synthesis").reason == "not_calibrated"
    assert "reason" not in new.to_dict()["checks"][1]  # the JSON schema is as it was
