"""Plain-language explanation of a ``Report``: what the numbers say, and no more.

``plain_words(report)`` returns Markdown with 2–4 sentences per face: the verdict with its
probability and threshold, how consistent the frames were (``score_spread``, frames above
the threshold), which face regions hold most of the Grad-CAM heat, and the reliability
warnings the analyzer attached to the face (small, blurry, dark, turned away). It always
ends with a caveat that a detector can be wrong. ``how_it_works()`` is the text of the app's
"How it works" tab. Standard library only (plus ``report``).
"""
from __future__ import annotations

from pathlib import Path

from .report import FaceReport, Report

REGION_NAMES = {"eyes": "the eyes", "nose": "the nose", "mouth": "the mouth", "forehead": "the forehead",
                "cheeks_jaw": "the cheeks and jaw", "background": "outside the inner face"}
MIN_SHARE = 0.2  # a region is named when it holds at least this share of the heat
CONSISTENT_SPREAD = 0.08
VARIED_SPREAD = 0.2
TEMPORAL_GAP = 0.1  # temporal score this far from the frame score: the temporal check moved the verdict

CAVEAT = ("**Keep in mind:** a detector can be wrong. This one learned the traces that blending a face into a "
          "frame leaves; it can miss fakes made another way (for example whole images made by a generator) and "
          "it can flag real footage that was heavily compressed, filtered or retouched. Treat the result as one "
          "clue among others, not as proof.")


def face_label(track_id: int) -> str:
    """How the app names a face track to people: 1-based ("face 1" is ``track_id`` 0)."""
    return f"face {track_id + 1}"


def percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def mean_shares(report: Report, track_id: int) -> dict[str, float] | None:
    """Average region shares over the heatmaps of one face; ``None`` without heatmaps,
    ``{}`` when every heatmap of the face was empty (no positive evidence for fake)."""
    maps = [h.region_shares for h in report.heatmaps if h.track_id == track_id]
    if not maps:
        return None
    maps = [m for m in maps if m]
    if not maps:
        return {}
    keys = sorted({k for m in maps for k in m})
    return {k: sum(m.get(k, 0.0) for m in maps) / len(maps) for k in keys}


def _verdict_sentence(face: FaceReport, report: Report) -> str:
    p, t = face.fake_probability, report.threshold
    low, high = report.uncertain_band
    over = f" over {len(face.frames)} frames" if report.kind == "video" and len(face.frames) > 1 else ""
    if face.verdict == "fake":
        return (f"The detector rates this face as **likely manipulated**: its fake probability is {p:.2f}{over}, "
                f"above the decision threshold of {t:.2f}.")
    if face.verdict == "real":
        return (f"The detector sees **no clear sign of manipulation** on this face: its fake probability is "
                f"{p:.2f}{over}, below the decision threshold of {t:.2f}.")
    return (f"This face is **too close to call**: its fake probability of {p:.2f}{over} lies in the uncertain band "
            f"{low:.2f}–{high:.2f} around the threshold of {t:.2f}.")


def _consistency_sentence(face: FaceReport, report: Report) -> str | None:
    scores = [f.fake_probability for f in face.frames]
    if report.kind != "video" or len(scores) < 3:
        return None
    above = sum(s >= report.threshold for s in scores)
    counted = f"{above} of {len(scores)} frames score above the threshold"
    if face.score_spread < CONSISTENT_SPREAD:
        return f"Its frames agree with each other ({counted}, spread ±{face.score_spread:.2f})."
    if face.score_spread < VARIED_SPREAD:
        return f"Its frames vary somewhat ({counted}, spread ±{face.score_spread:.2f})."
    so = {"fake": "so the verdict rests on part of the clip only",
          "real": "so parts of the clip look suspicious even though the whole does not"}.get(
        face.verdict, "so parts of the clip look suspicious and others do not")
    return f"Its frames disagree a lot (scores from {min(scores):.2f} to {max(scores):.2f}; {counted}), {so}."


def _temporal_sentence(face: FaceReport) -> str | None:
    """What the temporal check added, when it ran on this face."""
    tp, fp = face.temporal_probability, face.frame_probability
    if tp is None or fp is None:
        return None
    n = len(face.windows)
    runs = f"{n} run{'s' if n != 1 else ''} of consecutive frames"
    if tp >= fp + TEMPORAL_GAP:
        return (f"The temporal check raised the score: over {runs}, the face changes from frame to frame in a way a "
                f"single frame does not show (temporal score {tp:.2f}, frames alone {fp:.2f}), as a flickering "
                f"or drifting blend would.")
    if tp <= fp - TEMPORAL_GAP:
        return (f"The temporal check lowered the score: over {runs}, the face moves consistently from frame to "
                f"frame (temporal score {tp:.2f}, frames alone {fp:.2f}).")
    return f"The temporal check over {runs} agrees with the frames (temporal score {tp:.2f}, frames alone {fp:.2f})."


def _regions_sentence(face: FaceReport, report: Report) -> str | None:
    shares = mean_shares(report, face.track_id)
    if shares is None:
        return None
    if not shares:
        return "Its heatmaps show no face region that pushes the score towards fake."
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    named = [(r, s) for r, s in ranked if s >= MIN_SHARE][:2] or ranked[:1]
    places = " and ".join(f"{REGION_NAMES.get(r, r)} ({percent(s)})" for r, s in named)
    if named[0][0] == "background":
        return (f"Much of what pushed the score towards fake ({percent(named[0][1])}) lies outside the inner face "
                f"(hair, face outline, background): the blending edge of a swap can sit on the outline, but heat "
                f"away from the face is no sign of a swap, so look at the heatmaps before trusting this score.")
    weak = " (weak evidence, as the score is low)" if face.verdict == "real" else ""
    return (f"What pushed the score towards fake sits mostly on {places}{weak}; the heatmaps show where the "
            f"detector looked, not proof that this region was edited.")


def _warnings_sentence(face: FaceReport) -> str | None:
    if not face.warnings:
        return None
    return "Less reliable here: " + "; ".join(face.warnings) + "."


def face_words(face: FaceReport, report: Report) -> str:
    """2–4 sentences about one face, from its numbers only."""
    parts = [_verdict_sentence(face, report)]
    # in reading order; when more than three apply, the frame-consistency sentence goes first
    # (warnings say how far to trust the score, and the temporal check already speaks of time)
    consistency = _consistency_sentence(face, report)
    optional = [s for s in (_temporal_sentence(face), consistency, _regions_sentence(face, report),
                            _warnings_sentence(face)) if s]
    if len(optional) > 3:
        optional.remove(consistency)
    parts += optional
    if len(parts) == 1:
        parts.append("This is a single photo, so no other frame can confirm the score." if report.kind == "image"
                     else "It was seen in too few frames to check how stable the score is.")
    return " ".join(parts[:4])


def maps_words(report: Report) -> str | None:
    """One plain sentence per kind of map shown: what it means and what it does not."""
    if not report.heatmaps:
        return None
    text = ("**Heatmaps.** Grad-CAM shows *what drove the score*: the parts of the face whose pixels pushed the "
            "fake probability up; it does not show that those parts were edited.")
    if any(h.learned_map_mean is not None for h in report.heatmaps):
        text += (" The learned map shows *where the model thinks blending happened*: a second output trained to "
                 "outline the pasted region of self-blended faces; it is the same model's guess, not a proof, "
                 "and a dark map means it sees no blended region.")
    return text


def plain_words(report: Report) -> str:
    """Markdown: one paragraph per face (2–4 sentences), the analysis notes, and the caveat."""
    paras = []
    if not report.faces:
        frames = f"{report.frames_analyzed} analysed frame{'s' if report.frames_analyzed != 1 else ''}"
        paras.append(f"No face was found in the {frames}, so there is nothing to judge: dfdemo only examines faces. "
                     "A clip where a face is visible, reasonably large and turned towards the camera works best.")
    for face in report.faces:
        paras.append(f"**{face_label(face.track_id).capitalize()}.** " + face_words(face, report))
    if len(report.faces) > 1:
        paras.append(f"The file as a whole is judged by its most suspicious face ({report.verdict.replace('_', ' ')}).")
    maps = maps_words(report)
    paras += [maps] if maps else []
    paras += [f"Note: {n}." for n in report.notes]
    paras.append(CAVEAT)
    return "\n\n".join(paras)


def how_it_works(faithfulness: dict | None = None) -> str:
    """Markdown for the app's "How it works" tab (``howto.md`` beside this module), followed by
    the measured faithfulness of the model's heatmaps when the weights record it."""
    text = (Path(__file__).resolve().parent / "howto.md").read_text(encoding="utf-8")
    return text + ("\n\n" + faithfulness_words(faithfulness) if faithfulness and "n" in faithfulness else "")


def faithfulness_words(f: dict) -> str:
    """The numbers of ``python -m dfdemo explain-eval`` for these weights, in plain terms."""
    rows = [("Heat inside the blended region, relative to chance (1 = chance)", "heat_in_mask_ratio", "{:.2f}"),
            ("Hottest pixel inside the blended region", "pointing_game", "{:.0%}"),
            ("Similarity to the map of the same model with the layers the map reads scrambled (low = the map depends on training)",
             "sanity_spearman", "{:.2f}"),
            ("Region named in the captions = region where the blend boundary lies", "region_words_agree", "{:.0%}")]
    lines = ["### How far to trust these heatmaps (measured for this model)",
             f"On {f['n']:.0f} self-blended test faces, never seen in training, where the blended region is known exactly:",
             "", "| measure | value |", "|---|---|"]
    rows += [("Heat inside the blended region when only the mouth or the eyes were blended (1 = chance)",
              "heat_in_mask_ratio_region", "{:.2f}"),
             ("Share of the heat off the face, on the faces of real deepfakes (dev-eval)", "background_share_dev_fake", "{:.0%}")]
    rows += [("Learned map: overlap with the blended region (IoU, 1 = exact)", "learned_map_iou", "{:.2f}"),
             ("Learned map: brightest pixel inside the blended region", "learned_map_pointing_game", "{:.0%}"),
             ("Learned map: mean brightness on real faces (0 = dark)", "learned_map_real_mean", "{:.2f}")]
    lines += [f"| {label} | {fmt.format(f[key])} |" for label, key, fmt in rows if key in f]
    lines += ["", "A value near chance means the heatmap often points elsewhere than the manipulation: read it as "
              "*what the score depends on*, not as proof of where a face was edited."]
    return "\n".join(lines)
