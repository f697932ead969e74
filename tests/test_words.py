"""Words from the numbers, never against them: each sentence of dfdemo.words and the evidence card
of dfdemo.page, fed the case that would contradict it (a low score with some heat off the face,
0 frames over the threshold, the temporal check raising a score that stays low, ...)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import ROOT
from dfdemo.page import faces_rows, verdict_card
from dfdemo.report import (FaceReport, FrameScore, Heatmap, Report, WindowScore, blending_check, deciding, make_check,
                           verdict_for)
from dfdemo.words import accuracy_line, evidence_rows, face_words, headline, plain_words

THRESHOLD, BAND = 0.5, (0.45, 0.55)
ACCURACY = {"fakes": 32, "reals": 27, "tpr": 0.56, "fpr": 0.30, "auc": 0.65, "unit": "video"}


def report(scores, shares=None, kind="video", frame_p=None, temporal_p=None, accuracy=None) -> Report:
    """A one-face report whose verdicts follow from the scores, as the analyzer makes them."""
    scores = list(scores)
    top = sorted(scores, reverse=True)[: max(1, (len(scores) + 1) // 2)]
    p = float(np.mean(top)) if temporal_p is None else 0.7 * frame_p + 0.3 * temporal_p
    verdict = verdict_for(p, THRESHOLD, BAND)
    frames = [FrameScore(i, i * 0.5, (10.0, 10.0, 90.0, 90.0), s, 0.9) for i, s in enumerate(scores)]
    wins = [WindowScore(0, 7, 0.0, 0.3, temporal_p, frame_p)] if temporal_p is not None else []
    face = FaceReport(0, p, verdict, frames, 80.0, float(np.std(scores)), [], frame_p if wins else None,
                      temporal_p, wins)
    heat = [Heatmap(0, 0, 0.0, max(scores), dict(shares), max(shares, key=shares.get))] if shares else []
    return Report("clip.mp4", kind, verdict, p, len(scores), len(scores), [face], {"total": 1.0}, "test:model",
                  THRESHOLD, BAND, {}, heat, [], "used" if wins else "off", [blending_check(verdict, p)],
                  accuracy or {})


def words(r: Report) -> str:
    return face_words(r.faces[0], r)


# ---------------------------------------------------------------- the evidence and the card
@pytest.mark.parametrize("scores, found", [([0.9, 0.8, 0.85], "strong signs"), ([0.5, 0.52, 0.48], "some signs"),
                                           ([0.05, 0.1, 0.02], "none found")])
def test_the_card_names_the_evidence_not_real_or_fake(scores, found):
    r = report(scores, accuracy=ACCURACY)
    assert headline(r) == f"Face-swap blending: {found}"
    assert evidence_rows(r) == [("Face-swap blending", found, r.fake_probability)]
    card = verdict_card(r)
    assert f"Face-swap blending: {found}" in card and f'data-verdict="{r.verdict}"' in card
    assert "Likely" not in card
    assert "caught 56 %" in card and "wrongly flagged 30 % of 27 real ones" in card and "AUC 0.65" in card


def test_nothing_found_never_reads_as_authentic():
    card = verdict_card(report([0.01, 0.02, 0.03], accuracy=ACCURACY))
    assert "None found means this check saw no sign of face swaps" in card and "not proof that the face is real" in card
    assert "It caught 56 % of 32 face swaps it was tested on" in card  # what the check misses, on the card itself
    assert "Likely REAL" not in card and "authentic" not in card.lower()
    assert "#dff3e4" not in card  # not the green of the old "Likely REAL"


def test_a_second_check_gets_its_own_row():
    r = report([0.9, 0.8, 0.85])
    two = replace(r, checks=r.checks + [replace(blending_check("real", 0.1), name="synthesis", label="Generator traces")])
    assert [row[:2] for row in evidence_rows(two)] == [("Face-swap blending", "strong signs"), ("Generator traces", "none found")]
    card = verdict_card(two)
    assert card.count('class="check"') == 2 and "Generator traces: none found" in card


def test_accuracy_line_follows_the_recorded_numbers():
    assert accuracy_line({"fakes": 100, "reals": 50, "tpr": 0.9, "fpr": 0.05, "unit": "photo"}) == (
        "How well it works: on 100 held-out deepfake photos made with other tools it caught 90 %, and it wrongly "
        "flagged 5 % of 50 real ones.")
    assert "no measurement" in accuracy_line({}) and "no measurement" in accuracy_line({"auc": 0.9})


def test_bundled_weights_record_the_model_card_numbers():
    """config.json → dfdemo.extra.accuracy = the headline (bold) row of the model card's dev-eval table."""
    acc = json.loads((ROOT / "weights" / "detector" / "config.json").read_text())["dfdemo"]["extra"]["accuracy"]
    card = (ROOT / "weights" / "detector" / "README.md").read_text()
    row = next(line for line in card.splitlines() if line.startswith("| **") and f"({acc['fakes']}/{acc['reals']})" in line)
    assert f"({acc['fakes']}/{acc['reals']})" in row and f"{acc['auc']:.2f} [{acc['auc_ci95'][0]:.2f}, {acc['auc_ci95'][1]:.2f}]" in row
    assert row.rstrip(" |").endswith(f"{acc['fpr']:.2f} / {acc['tpr']:.2f}")


def test_no_face_card():
    r = Report("wall.png", "image", "no_face", None, 1, 0, [], {"total": 0.1}, "m", 0.5, BAND, {},
               checks=[blending_check("no_face", None)])
    assert headline(r) == "No face found" and "nothing was checked" in verdict_card(r)


def test_json_keeps_verdict_and_adds_the_wording():
    d = report([0.9, 0.8, 0.85], accuracy=ACCURACY).to_dict()
    assert d["verdict"] == "fake" and d["fake_probability"] == pytest.approx(0.875)
    assert d["checks"] == [{"name": "blending", "label": "Face-swap blending", "verdict": "fake",
                            "fake_probability": pytest.approx(0.875), "strength": "strong signs",
                            "threshold": None, "uncertain_band": None}]
    assert d["accuracy"]["tpr"] == 0.56


def test_faces_table_says_what_each_face_showed():
    assert faces_rows(report([0.05, 0.1, 0.02]))[0][3] == "none found"


# ---------------------------------------------------------------- heat: said when true, and only then
def test_low_score_with_some_heat_off_the_face():
    text = words(report([0.05, 0.1, 0.02], shares={"background": 0.4, "eyes": 0.35, "mouth": 0.25}))
    assert "drawn faint because the crops they explain scored low (at most 0.10)" in text
    assert "not evidence of a swap" in text
    assert "off the face" not in text  # 40 % is not most of it
    assert "before trusting" not in text  # nothing to distrust in a low score


def test_low_score_with_most_heat_off_the_face():
    text = words(report([0.05, 0.1, 0.02], shares={"background": 0.7, "eyes": 0.3}))
    assert "most of it, 70 %, lies off the face" in text and "drawn faint" in text


def test_a_low_face_whose_explained_frames_scored_high_is_not_called_faint():
    """The maps show the most suspicious crops: a face judged below the threshold can have
    bright maps of frames that scored high (a real FF++ clip: face 0.78, maps of crops at 0.93-1.00)."""
    text = words(report([0.98, 0.05, 0.1, 0.02, 0.03, 0.04], shares={"background": 0.37, "cheeks_jaw": 0.31, "eyes": 0.32}))
    assert "faint" not in text
    assert "explain its most suspicious frames (scores up to 0.98), not the face as a whole" in text
    assert "the outline and background (37 %)" in text and "off the face" not in text


def test_high_score_most_heat_off_the_face_only_when_it_is():
    off = words(report([0.9, 0.8, 0.85], shares={"background": 0.6, "eyes": 0.4}))
    assert "(60 %) lies off the face" in off and "before trusting this score" in off
    on = words(report([0.9, 0.8, 0.85], shares={"background": 0.45, "cheeks_jaw": 0.35, "eyes": 0.2}))
    assert "off the face" not in on and "the outline and background (45 %) and the cheeks and jaw (35 %)" in on


# ---------------------------------------------------------------- frames over the threshold
def test_zero_frames_over_the_threshold_never_look_suspicious():
    text = words(report([0.01, 0.48, 0.02, 0.49, 0.01]))
    assert "0 of 5 frames score above the threshold" in text and "none of them reaches the threshold" in text
    assert "suspicious" not in text


def test_some_frames_over_the_threshold_of_a_low_face():
    text = words(report([0.02, 0.95, 0.03, 0.01, 0.02]))
    assert "1 of 5 frames" in text and "parts of the clip look suspicious even though the whole does not" in text


def test_every_frame_over_the_threshold_is_not_part_of_the_clip():
    text = words(report([0.55, 0.99, 0.6, 0.98]))
    assert "4 of 4 frames" in text and "every one of them is above the threshold" in text
    assert "part of the clip only" not in text


# ---------------------------------------------------------------- the temporal check
def test_temporal_raising_a_score_that_stays_low_is_not_called_a_blend():
    r = report([0.3, 0.35, 0.32], frame_p=0.2, temporal_p=0.5)
    assert r.faces[0].verdict == "real"
    text = words(r)
    assert "higher than its frames alone" in text and "not enough to call it manipulated" in text
    assert "flickering" not in text and "raised the score" not in text


def test_temporal_raising_a_fake():
    r = report([0.6, 0.7, 0.65], frame_p=0.6, temporal_p=0.95)
    assert r.faces[0].verdict == "fake" and "raised the score" in words(r) and "flickering" in words(r)


def test_temporal_lowering_a_score_that_stays_high():
    r = report([0.9, 0.95, 0.9], frame_p=0.95, temporal_p=0.7)
    assert r.faces[0].verdict == "fake"
    text = words(r)
    assert "lower than its frames alone" in text and "stays above the threshold" in text
    assert "moves consistently" not in text


def test_temporal_lowering_to_a_low_score():
    r = report([0.5, 0.55, 0.5], frame_p=0.52, temporal_p=0.1)
    assert r.faces[0].verdict == "real" and "lowered the score" in words(r)


def test_whole_text_ends_with_the_caveat_and_says_the_maps_scale():
    text = plain_words(report([0.05, 0.1, 0.02], shares={"eyes": 1.0}))
    assert "one scale" in text and "a crop scored low shows a faint map" in text
    assert text.split("\n\n")[-1].startswith("**Keep in mind:**")


def test_how_it_works_says_how_well_the_weights_measured_and_only_what_they_record():
    from dfdemo.words import how_it_works

    extra = {"accuracy": {"fakes": 69, "reals": 47, "tpr": 0.116, "fpr": 0.064, "auc": 0.631, "unit": "file"},
             "calibration": {"cross_fold_clip_fpr": 0.05, "clips": 40, "sources": 28},
             "photo_calibration": {"cross_fold_clip_fpr": 0.029, "clips": 376}}
    text = how_it_works(None, extra)
    assert "On 69 held-out deepfake files made with other tools it caught 12 %" in text
    assert "5 % of 40 called fake (cross-validated over 28 sources)" in text and "3 % of 376 called fake" in text
    assert "How well this detector did" not in how_it_works(None, {})  # weights that record nothing say nothing
    partial = how_it_works(None, {"calibration": extra["calibration"]})
    assert "sources" in partial and "held-out deepfake" not in partial
    assert "Generator traces, on" not in text and "It looks for one trace" in text
    synth = {"fakes": 69, "reals": 50, "tpr": 0.0, "fpr": 0.0, "auc": 0.545, "unit": "photo"}
    two = how_it_works(None, {**extra, "accuracy": {**extra["accuracy"], "synthesis": synth}})
    assert "Generator traces, on 69 fakes and 50 real photos: it caught 0 % and wrongly flagged 0 %" in two
    assert "a fake comes first in 55 % of pairs" in two and "two traces" in two
    anim = {"fakes": 71, "reals": 228, "tpr": 0.17, "fpr": 0.03, "auc": 0.8, "unit": "clip", "out_of_fold": True}
    three = how_it_works(None, {**extra, "accuracy": {**extra["accuracy"], "synthesis": synth, "animation": anim}})
    assert ("Lip-sync / face animation, on 71 fakes and 228 real clips, sources it never learned from: it caught 17 % "
            "and wrongly flagged 3 %") in three and "three kinds of evidence" in three


# ---------------------------------------------------------------- two checks: blending and generator traces
def two_checks(blend_scores, synth_p, synth_cut=(0.7, (0.6, 0.8))) -> Report:
    """A one-face report with both checks, combined as the analyzer combines them (``deciding``)."""
    r = report(blend_scores)
    face = r.faces[0]
    blend = make_check("blending", face.verdict, face.fake_probability, THRESHOLD, BAND)
    synth = make_check("synthesis", verdict_for(synth_p, *synth_cut), synth_p, *synth_cut)
    decided = deciding([blend, synth])
    cut = (decided.threshold, decided.uncertain_band)
    face = replace(face, fake_probability=decided.fake_probability, verdict=decided.verdict, checks=[blend, synth])
    return replace(r, faces=[face], verdict=decided.verdict, fake_probability=decided.fake_probability,
                   threshold=cut[0], uncertain_band=cut[1], checks=[blend, synth])


def test_generator_traces_decide_when_the_blending_check_finds_nothing():
    r = two_checks([0.05, 0.1, 0.02], 0.9)
    assert r.verdict == "fake" and r.fake_probability == 0.9 and r.threshold == 0.7
    assert headline(r) == "Generator traces: strong signs"
    assert [row[:2] for row in evidence_rows(r)] == [("Generator traces", "strong signs"), ("Face-swap blending", "none found")]
    text = words(r)
    # each check speaks with its own threshold, whatever decided the file
    assert "blending check found **no sign**" in text and "below the decision threshold of 0.50" in text
    assert "drawn by a generator" in text and "above its threshold of 0.70" in text
    card = verdict_card(r)
    assert "drawn by a generator" in card and "pasted into the picture" not in card


def test_the_blending_check_decides_a_tie_and_a_second_check_changes_nothing_below_it():
    r = two_checks([0.9, 0.8, 0.85], 0.95)
    assert headline(r) == "Face-swap blending: strong signs" and r.threshold == THRESHOLD
    low = two_checks([0.9, 0.8, 0.85], 0.1)
    assert low.verdict == "fake" and low.fake_probability == pytest.approx(0.875)
    assert "no sign** of a generator" in words(low)


def test_neither_check_found_anything_is_not_called_real():
    r = two_checks([0.05, 0.1, 0.02], 0.2)
    assert r.verdict == "real"
    card = verdict_card(r)
    assert card.count("None found means this check saw no sign of") == 2 and "not proof that the face is real" in card
    assert "Both checks miss many fakes" in plain_words(r) and "whole images made by a generator" not in plain_words(r)


def test_some_generator_signs_read_as_undecided():
    r = two_checks([0.05, 0.1, 0.02], 0.65)
    assert r.verdict == "uncertain" and headline(r) == "Generator traces: some signs"
    assert "too few to decide" in verdict_card(r) and "in-between range 0.60–0.80" in words(r)


# ---------------------------------------------------------------- what was not checked, one scale, per-kind numbers
def with_checks(r: Report, *checks) -> Report:
    return replace(r, checks=list(checks), faces=[replace(f, checks=list(checks)) for f in r.faces])


def test_the_card_says_what_was_not_checked_as_plainly_as_what_was():
    from dfdemo.words import coverage_sentence

    r = report([0.05, 0.1, 0.02], accuracy=ACCURACY)
    blend = r.checks[0]
    video = with_checks(r, blend, make_check("synthesis", "not_checked", None))
    said = "This video was checked for face swaps only; generated faces and lip-sync were not checked."
    assert coverage_sentence(video) == said and said in verdict_card(video)
    card = verdict_card(video)  # the check that did not run has a row of its own, marked, with the reason
    assert "Generator traces: not checked" in card and "no calibrated threshold for videos" in card
    photo = with_checks(replace(r, kind="image"), blend, make_check("synthesis", "real", 0.1, 0.7, (0.6, 0.8)))
    assert coverage_sentence(photo) == ("This photo was checked for face swaps and generated faces (lip-sync needs a "
                                        "video).")
    # the third check (issue 23's lip-sync / face animation) needs no code of its own here: it is
    # named, leaves the "not checked" list, and has its own row with its own scale
    third = with_checks(r, blend, make_check("animation", "real", 0.2, 0.78, (0.68, 0.88)))
    assert coverage_sentence(third) == ("This video was checked for face swaps and lip-sync only; generated faces were "
                                        "not checked.")
    card = verdict_card(third)
    assert "Lip-sync / face animation: none found" in card and "score 0.20 (some signs from 0.68, strong signs from 0.88)" in card
    both = with_checks(r, blend, make_check("synthesis", "real", 0.1, 0.5, (0.34, 0.6)), make_check("animation", "real", 0.2, 0.78, (0.68, 0.88)))
    assert coverage_sentence(both) == "This video was checked for face swaps, generated faces and lip-sync."


@pytest.mark.parametrize("score, cut, band", [(0.9831, 0.9835, (0.8045, 0.9918)), (0.98349, 0.9835, (0.9835, 0.9835)),
                                              (0.4999, 0.5, (0.45, 0.55)), (0.5, 0.5, (0.5, 0.5)), (0.85, 0.9835, (0.8045, 0.9918)),
                                              (0.99181, 0.9835, (0.8045, 0.9918)), (0.80449, 0.9835, (0.8045, 0.9918))])
def test_a_shown_score_and_its_shown_cut_agree_with_the_verdict(score, cut, band):
    from dfdemo.words import check_scale, cut_text

    r = report([0.1])
    check = make_check("blending", verdict_for(score, cut, band), score, cut, band)
    shown, low, strong = check_scale(check, r)
    verdict_as_read = ("fake" if float(shown) >= float(cut_text(strong)) else
                       "uncertain" if float(shown) >= float(cut_text(low)) else "real")
    assert verdict_as_read == check.verdict, (shown, cut_text(low), cut_text(strong))
    assert cut_text(cut) == f"{cut:.4f}".rstrip("0").ljust(4, "0")  # never rounded further than stored
    assert "probability" not in verdict_card(with_checks(r, check)).lower()


def test_a_photo_card_quotes_photo_numbers_and_a_video_card_video_numbers():
    acc = {**ACCURACY, "photo": {"fakes": 10, "reals": 50, "tpr": 0.5, "fpr": 0.16, "unit": "photo",
                                 "reals_data": "high-quality portraits", "other_fpr": 0.029, "other_reals": 376,
                                 "other_data": "held-out LFW news photos"}}
    photo = verdict_card(report([0.05], kind="image", accuracy=acc))
    assert "wrongly flagged 16 % of 50 real ones (high-quality portraits); 3 % of 376 held-out LFW news photos" in photo
    assert "32 held-out deepfake videos" not in photo
    video = verdict_card(report([0.05, 0.1], accuracy=acc))
    assert "32 held-out deepfake videos" in video and "16 %" not in video


def test_bundled_weights_record_photo_numbers_including_high_quality_portraits():
    from dfdemo.words import how_it_works

    extra = json.loads((ROOT / "weights" / "detector" / "config.json").read_text())["dfdemo"]["extra"]
    photo = extra["accuracy"]["photo"]
    # the photo cut re-set with FFHQ portraits among the held-out reals (learn-kinds), cross-validated
    assert (photo["fpr"], photo["reals"], photo["reals_data"]) == (0.036, 250, "FFHQ portraits")
    assert "3.6 % of the 250 FFHQ portraits" in (ROOT / "weights" / "detector" / "README.md").read_text()
    assert "4 % of 250 real ones (FFHQ portraits)" in how_it_works(None, extra)


def test_one_line_per_face_up_front_details_folded_and_faces_without_a_heatmap_named():
    r = report([0.9, 0.8, 0.85], shares={"eyes": 1.0})
    two = replace(r, faces=r.faces + [replace(r.faces[0], track_id=1)])
    text = plain_words(two)
    up_front = text.split("<details>")[0]
    assert "- **Face 1**: strong signs (face-swap blending, score 0.88)" in up_front and "- **Face 2**" in up_front
    assert "No heatmap for face 2" in up_front and "**Face 1.**" not in up_front
    assert "**Face 1.**" in text.split("<details>")[1]  # the paragraphs, folded
    assert "No heatmap" not in plain_words(r)  # every face has one


@pytest.mark.parametrize("reason, kind, said", [
    ("needs_video", "image", "it reads how a face moves over the frames of a video, and a photo has none"),
    ("face_too_small", "video", "every face was smaller than the size this check is calibrated for"),
    ("too_few_frames", "video", "no face was seen in enough of the sampled frames for this check (sampling more frames may let it judge one)"),
    ("not_calibrated", "image", "these weights have no calibrated threshold for photos for this check"),
    (None, "video", "these weights have no calibrated threshold for videos for this check")])
def test_a_check_that_did_not_run_says_the_reason_the_analyzer_gave(reason, kind, said):
    from dfdemo.report import not_checked
    from dfdemo.words import check_meaning

    r = report([0.05, 0.1, 0.02])
    skipped = not_checked("animation", reason)
    r = with_checks(replace(r, kind=kind, notes=["a note that names the lip-sync / face animation check and a photo"]),
                    r.checks[0], skipped)
    assert check_meaning(skipped, r).startswith(f"Not checked: {said}, so lip-sync was not looked for in this ")
