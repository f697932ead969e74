"""Plain-language explanation of a ``Report``: what the numbers say, and no more.

``evidence_rows(report)`` names each kind of evidence looked for and what it found ("Face-swap
blending: strong signs / some signs / none found"), ``finding_sentence`` says what that means
(never that a face is real), and ``accuracy_line(report.accuracy)`` how well the check measured
on held-out fakes (the weights' model card numbers). Each sentence is built from the numbers it
states; tests feed every sentence the case that would contradict it.

``plain_words(report)`` returns Markdown with 2–4 sentences per face: the verdict with its
probability and threshold, how consistent the frames were (``score_spread``, frames above
the threshold), which face regions hold most of the Grad-CAM heat, and the reliability
warnings the analyzer attached to the face (small, blurry, dark, turned away). It always
ends with a caveat that a detector can be wrong. ``how_it_works()`` is the text of the app's
"How it works" tab. Standard library only (plus ``report``).
"""
from __future__ import annotations

from pathlib import Path

from .report import CHECK_LABELS, Check, FaceReport, Report, deciding

REGION_NAMES = {"eyes": "the eyes", "nose": "the nose", "mouth": "the mouth", "forehead": "the forehead",
                "cheeks_jaw": "the cheeks and jaw", "background": "the outline and background"}
MIN_SHARE = 0.2  # a region is named when it holds at least this share of the heat
OFF_FACE = 0.5  # "most of the heat is off the face" only above this background share
FAINT_SCORE = 0.3  # maps of crops scored below this are drawn faint (overlay = map x score) and said so
CONSISTENT_SPREAD = 0.08
VARIED_SPREAD = 0.2
TEMPORAL_GAP = 0.1  # temporal score this far from the frame score: the temporal check moved the verdict

CAVEAT = ("**Keep in mind:** a detector can be wrong. It can miss fakes made another way than by blending "
          "(whole images made by a generator) and flag real footage that was heavily compressed or retouched: "
          "one clue among others, not proof.")
CAVEAT_TWO_CHECKS = ("**Keep in mind:** a detector can be wrong. Both checks miss many fakes (re-enacted expressions "
                     "and lip-sync on a real face most of all) and can flag real footage that was heavily compressed "
                     "or retouched: one clue among others, not proof.")


def checks_of(report: Report) -> list[Check]:
    """The report's checks, the deciding one first (reports of older versions: the blending one)."""
    checks = report.all_checks()
    first = deciding(checks)
    return [first] + [c for c in checks if c is not first]


def evidence_rows(report: Report) -> list[tuple[str, str, float | None]]:
    """(check label, what it found in words, fake probability) per kind of evidence looked for,
    the check that decided the verdict first."""
    return [(c.label, c.strength, c.fake_probability) for c in checks_of(report)]


def headline(report: Report) -> str:
    """The card's first line: what the deciding check found, e.g. "Face-swap blending: strong signs"."""
    if report.verdict == "no_face":
        return "No face found"
    label, strength, _ = evidence_rows(report)[0]
    return f"{label}: {strength}"


FINDINGS = {
    "fake": "This check found strong signs that a face was pasted into the picture. A detector can be wrong: "
            "treat it as a clue, not as proof.",
    "uncertain": "This check found some signs of a pasted face, too few to decide either way.",
    "real": "No sign of a pasted face was found by this check. That is not proof that the face is real: the check "
            "misses many fakes (see how well it works) and does not look for faces made entirely by a generator.",
    "no_face": "No face was found, so nothing was checked.",
}
SYNTHESIS_FINDINGS = {
    "fake": "The generator-traces check found strong signs that a face was drawn by a generator (a GAN still or an "
            "animated face). A detector can be wrong: treat it as a clue, not as proof.",
    "uncertain": "The generator-traces check found some signs that a face was drawn by a generator, too few to "
                 "decide either way.",
}
CLASSIFIER_FINDINGS = {  # a Hub classifier: what it was trained to find is its authors' to say, not "a pasted face"
    "fake": "This detector found strong signs that a face is a deepfake. A detector can be wrong: treat it as a clue, "
            "not as proof.",
    "uncertain": "This detector found some signs that a face is a deepfake, too few to decide either way.",
    "real": "This detector found no sign of a deepfake. That is not proof that the face is real: it misses the fakes "
            "it was not trained on (see how well it works).",
}
CAVEAT_CLASSIFIER = ("**Keep in mind:** a detector can be wrong. This one was trained elsewhere, on fakes dfdemo does "
                     "not know; it can miss other kinds and flag real footage that was heavily compressed or retouched: "
                     "one clue among others, not proof.")
NEITHER_FOUND = ("Neither check found signs of a pasted face or of a generator's traces. That is not proof that the "
                 "face is real: both checks miss many fakes (see how well they work).")


def finding_sentence(report: Report) -> str:
    """What the file-level verdict means, worded so that "nothing found" never reads as "authentic"."""
    decided = checks_of(report)[0]
    if report.detector and report.verdict in CLASSIFIER_FINDINGS:
        return CLASSIFIER_FINDINGS[report.verdict]
    if decided.name == "synthesis" and report.verdict in SYNTHESIS_FINDINGS:
        return SYNTHESIS_FINDINGS[report.verdict]
    if report.verdict == "real" and any(c.name == "synthesis" and c.verdict != "not_checked" for c in report.checks):
        return NEITHER_FOUND
    return FINDINGS.get(report.verdict, FINDINGS["uncertain"])


def caveat(report: Report) -> str:
    if report.detector:
        return CAVEAT_CLASSIFIER
    return CAVEAT_TWO_CHECKS if any(c.name == "synthesis" and c.verdict != "not_checked" for c in report.checks) else CAVEAT


NOT_MEASURED_LINE = "Accuracy of this detector not measured here."  # a Hub classifier without dfdemo's eval


def accuracy_line(accuracy: dict | None) -> str:
    """How well the check works, from the weights' model card numbers (``config.json`` →
    ``dfdemo.extra.accuracy``: ``fakes``, ``reals``, ``tpr``, ``fpr``, optionally ``auc``, ``unit``)."""
    a = accuracy or {}
    if not all(k in a for k in ("fakes", "reals", "tpr", "fpr")):
        return ("How well it works: no measurement on held-out fakes is recorded with these weights, so treat the "
                "result with extra care.")
    unit = a.get("unit", "video")
    auc = f" (AUC {a['auc']:.2f}; 0.50 is chance, 1.00 perfect)" if "auc" in a else ""
    line = (f"How well it works: on {a['fakes']} held-out deepfake {unit}s made with other tools it caught "
            f"{percent(a['tpr'])}, and it wrongly flagged {percent(a['fpr'])} of {a['reals']} real ones{auc}")
    if "reals_data" in a:
        line += f" ({a['reals_data']})"
    if all(k in a for k in ("other_fpr", "other_reals", "other_data")):
        line += f"; {percent(a['other_fpr'])} of {a['other_reals']} {a['other_data']}"
    return line + "."


# what each check looks for, as a visitor names the kinds of fake; a check a later version adds
# (lip-sync, say) names its kind here and leaves KINDS_OF_FAKE's "not checked" list by itself
COVERS = {"blending": "face swaps", "synthesis": "generated faces", "animation": "lip-sync"}
KINDS_OF_FAKE = ("face swaps", "generated faces", "lip-sync")
NEEDS_MOTION = ("lip-sync",)  # not a question a photo can answer
RAN = ("fake", "uncertain", "real")  # a check with one of these verdicts judged the file


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def media_word(report: Report) -> str:
    return "photo" if report.kind == "image" else "video"


def covers(check: Check, report: Report) -> str:
    """What a check looks for, as a visitor names it (a Hub classifier: deepfakes, as it was trained)."""
    return "deepfakes" if report.detector and check.name == "blending" else COVERS.get(check.name, check.label.lower())


def detector_sentence(report: Report) -> str | None:
    """What a detector from outside dfdemo is and is not (None for dfdemo's own weights)."""
    d = report.detector
    if not d:
        return None
    fake = d.get("fake_classes") or []
    read = f"; its class{'es' if len(fake) > 1 else ''} {_join([repr(x) for x in fake])} read as fake" if fake else ""
    return (f"This detector is a {d.get('family', '')} image classifier ({d.get('architecture', '').removeprefix('transformers:')}){read}. "
            "It gives one score per face and its Grad-CAM; it has no learned blend map and no generator-traces or "
            "lip-sync check, so none is shown.")


def coverage_sentence(report: Report) -> str:
    """What the file was checked for and, as plainly, what it was not, e.g. "This video was checked
    for face swaps only; generated faces and lip-sync were not checked." (from ``report.checks``:
    any number of checks). A Hub classifier: checked for the fakes it was trained on."""
    if not report.faces:
        return "No face was found, so nothing was checked."
    if report.detector:
        return (f"This {media_word(report)} was checked by one deepfake classifier from outside dfdemo, for the kinds "
                "of fake it was trained on.")
    covered = [covers(c, report) for c in checks_of(report) if c.verdict in RAN]
    missing = [k for k in KINDS_OF_FAKE if k not in covered and not (report.kind == "image" and k in NEEDS_MOTION)]
    if not covered:
        return f"This {media_word(report)} was not checked: no check could judge it."
    said = f"This {media_word(report)} was checked for {_join(covered)}"
    if missing:
        said += f" only; {_join(missing)} {'was' if missing == ['lip-sync'] else 'were'} not checked"
    if report.kind == "image" and not any(k in covered for k in NEEDS_MOTION):
        said += f" ({_join(list(NEEDS_MOTION))} needs a video)"
    return said + "."


def check_accuracy(accuracy: dict | None, name: str, kind: str) -> dict:
    """The measured accuracy of check ``name`` on media of ``kind`` (``extra.accuracy``: the
    blending check's numbers at the top level, another check's under its name; a block's
    ``photo`` / ``video`` sub-block is used for that kind of media where recorded)."""
    a = accuracy or {}
    block = a if name == "blending" else a.get(name) or {}
    sub = block.get("photo" if kind == "image" else "video")
    return sub if isinstance(sub, dict) and sub else block


def cut_text(value: float) -> str:
    """A cut as stored (4 decimals), never rounded further: 0.5 -> "0.50", 0.9835 -> "0.9835"."""
    return f"{round(value, 4):.4f}".rstrip("0").ljust(4, "0")


def score_text(score: float, cuts: list[float]) -> str:
    """``score`` with 2 decimals, more where 2 would make it look equal to (or on the wrong side
    of) a shown cut, so that the shown score and cut always agree with the verdict."""
    for d in (2, 3, 4, 5, 6):
        shown = round(score, d)
        if all((shown >= round(c, 4)) == (score >= c) and (shown != round(c, 4) or score == c) for c in cuts):
            return f"{shown:.{d}f}"
    return f"{score:.6f}"


def check_scale(check: Check, report: Report) -> tuple[str, float, float] | None:
    """(score as shown, where "some signs" start, where "strong signs" start) of a check that
    judged the file: its score read against its own cut, never as a bare probability."""
    if check.verdict not in RAN or check.fake_probability is None:
        return None
    low, strong = report.cut_of(check).signs
    return score_text(check.fake_probability, [low, strong]), low, strong


def scale_sentence(check: Check, report: Report) -> str | None:
    """e.g. "score 0.85 (some signs from 0.8045, strong signs from 0.9918)"."""
    scale = check_scale(check, report)
    if scale is None:
        return None
    shown, low, strong = scale
    some = f"some signs from {cut_text(low)}, " if low < strong else ""
    return f"score {shown} ({some}strong signs from {cut_text(strong)})"


# why a check judged no face (``Check.reason``, set by the analyzer where it abstains)
REASON_WORDS = {"needs_video": "it reads how a face moves over the frames of a video, and a photo has none",
                "face_too_small": "every face was smaller than the size this check is calibrated for",
                "too_few_frames": ("no face was seen in enough of the sampled frames for this check (sampling more frames may "
                                   "let it judge one)")}


def not_checked_reason(check: Check, report: Report) -> str:
    """Why a check judged no face of the file (``check.reason``; none given: no calibrated cut)."""
    return REASON_WORDS.get(check.reason) or f"these weights have no calibrated threshold for {media_word(report)}s for this check"


def check_meaning(check: Check, report: Report) -> str:
    """What one check's finding means, on the card: "none found" with the check's measured catch
    rate on this kind of media; "not checked" with the reason."""
    what, kind = covers(check, report), media_word(report)
    if check.verdict == "not_checked":
        return f"Not checked: {not_checked_reason(check, report)}, so {what} {'was' if what == 'lip-sync' else 'were'} not looked for in this {kind}."
    if check.verdict == "no_face":
        return "Not checked: no face was found."
    if check.verdict != "real":
        return ""
    acc = check_accuracy(report.accuracy, check.name, report.kind)
    if "tpr" in acc and "fakes" in acc:
        weak = "so this is weak evidence that the face is genuine" if acc["tpr"] < 0.5 else "but it misses some"
        fakes = f"{what} fakes" if what == "lip-sync" else what  # "71 lip-sync fakes", "69 face swaps"
        return (f"None found means this check saw no sign of {what}, which is not proof that the face is real. It caught {percent(acc['tpr'])} of "
                f"{acc['fakes']} {fakes} it was tested on, {weak}.")
    return (f"None found means this check saw no sign of {what}, which is not proof that the face is real; how many "
            f"it misses was not measured.")


def face_label(track_id: int) -> str:
    """How the app names a face track to people: 1-based ("face 1" is ``track_id`` 0)."""
    return f"face {track_id + 1}"


def crop_caption(face: FaceReport) -> str:
    """The caption of a face's thumbnail in the app: its label and score."""
    return f"{face_label(face.track_id)} · score {face.fake_probability:.2f}"


UPLOAD_KEPT_NOTE = ("Your upload stays on this server while it is selected (to re-run with other Settings); it is "
                    "deleted when you choose another file, close the tab or leave it unused for a while.")


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


def _numbers(check: Check, report: Report) -> tuple[str, str, str, str]:
    """A check's score, threshold and "some signs" range as shown (its cut, ``Report.cut_of``): cuts
    as stored, the score never rounded onto the other side of one (``score_text``)."""
    cut = report.cut_of(check)
    (low, high), t = cut.band, cut.threshold
    return score_text(check.fake_probability, [t, low, high]), cut_text(t), cut_text(low), cut_text(high)


def _verdict_sentence(face: FaceReport, report: Report) -> str:
    """The blending check's finding on this face."""
    check = face.blending()
    verdict, (ps, ts, lows, highs) = check.verdict, _numbers(check, report)
    over = f" over {len(face.frames)} frames" if report.kind == "video" and len(face.frames) > 1 else ""
    who, what = ("The deepfake classifier", "of a deepfake") if report.detector else ("The face-swap blending check", "of a pasted face")
    if verdict == "fake":
        return (f"{who} found **strong signs** on this face: its score is "
                f"{ps}{over}, above the decision threshold of {ts}.")
    if verdict == "real":
        return (f"{who} found **no sign** {what} here: its score is "
                f"{ps}{over}, below the decision threshold of {ts}.")
    return (f"{who} found **some signs** on this face, too few to decide: its score of "
            f"{ps}{over} lies in the in-between range {lows}–{highs} around the threshold of {ts}.")


def _synthesis_sentence(face: FaceReport, report: Report) -> str | None:
    """The generator-traces check's finding on this face (weights with that check)."""
    check = next((c for c in face.checks if c.name == "synthesis"), None)
    if check is None or check.verdict == "not_checked":  # the report's note says why
        return None
    ps, ts, lows, highs = _numbers(check, report)
    if check.verdict == "fake":
        return (f"The generator-traces check found **strong signs** that this face was drawn by a generator: its "
                f"score is {ps}, above its threshold of {ts}.")
    if check.verdict == "real":
        return (f"The generator-traces check found **no sign** of a generator here: its score is {ps}, below its "
                f"threshold of {ts}.")
    return (f"The generator-traces check found **some signs** of a generator, too few to decide: its score of "
            f"{ps} lies in its in-between range {lows}–{highs}.")


def _consistency_sentence(face: FaceReport, report: Report) -> str | None:
    scores = [f.fake_probability for f in face.frames]
    if report.kind != "video" or len(scores) < 3:
        return None
    threshold = report.cut_of(face.blending()).threshold
    verdict = face.blending().verdict
    n, above = len(scores), sum(s >= threshold for s in scores)
    counted = f"{above} of {n} frames score above the threshold"
    if face.score_spread < CONSISTENT_SPREAD:
        return f"Its frames agree with each other ({counted}, typical swing ±{face.score_spread:.2f})."
    if face.score_spread < VARIED_SPREAD:
        return f"Its frames vary somewhat ({counted}, typical swing ±{face.score_spread:.2f})."
    if above == 0:
        so = "but none of them reaches the threshold"
    elif above == n:
        so = "but every one of them is above the threshold"
    elif verdict == "fake":
        so = "so the verdict rests on part of the clip only"
    elif verdict == "real":
        so = "so parts of the clip look suspicious even though the whole does not"
    else:
        so = "so parts of the clip look suspicious and others do not"
    return f"Its frames disagree a lot (scores from {min(scores):.2f} to {max(scores):.2f}; {counted}), {so}."


def _temporal_sentence(face: FaceReport) -> str | None:
    """What the temporal check added, when it ran on this face: the direction from the two
    scores, the meaning from the face's verdict (a raised score that stays below the threshold
    is not called a sign of a blend)."""
    tp, fp = face.temporal_probability, face.frame_probability
    if tp is None or fp is None:
        return None
    n = len(face.windows)
    runs = f"{n} run{'s' if n != 1 else ''} of consecutive frames"
    scores = f"(temporal score {tp:.2f}, frames alone {fp:.2f})"
    verdict = face.blending().verdict
    if tp >= fp + TEMPORAL_GAP:
        if verdict == "fake":
            return (f"The temporal check raised the score: over {runs}, the face changes from frame to frame in a way "
                    f"a single frame does not show {scores}, as a flickering or drifting blend would.")
        return (f"The temporal check scored this face higher than its frames alone {scores} over {runs}, but not "
                f"enough to call it manipulated.")
    if tp <= fp - TEMPORAL_GAP:
        if verdict == "fake":
            return (f"The temporal check scored this face lower than its frames alone {scores} over {runs}, but the "
                    f"combined score stays above the threshold.")
        return (f"The temporal check lowered the score: over {runs}, the face moves consistently from frame to "
                f"frame {scores}.")
    return f"The temporal check over {runs} agrees with the frames {scores}."


def _regions_sentence(face: FaceReport, report: Report) -> str | None:
    """Where the Grad-CAM heat lies. Maps of crops that scored low are drawn faint and said to
    explain a low score; "off the face" only when most of the heat (over half) is outside the
    inner face; the maps of a face judged as a whole below the threshold whose explained crops
    scored high are said to explain those frames, not the face."""
    shares = mean_shares(report, face.track_id)
    if shares is None:
        return None
    if not shares:
        return "Its heatmaps show no face region that pushes the score towards fake."
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    off = shares.get("background", 0.0)
    where = f"most of it, {percent(off)}, lies off the face" if off > OFF_FACE else "it sits mostly on " + _places(ranked)
    top_p = max(h.fake_probability for h in report.heatmaps if h.track_id == face.track_id)
    if top_p < FAINT_SCORE:
        return (f"Its heatmaps are drawn faint because the crops they explain scored low (at most {top_p:.2f}): they "
                f"show the little that pushed the score up ({where}), not evidence of a swap.")
    explained = next((h.check for h in report.heatmaps if h.track_id == face.track_id), "blending")
    verdict = next((c.verdict for c in face.checks if c.name == explained), None) or face.blending().verdict
    if verdict == "real":
        return (f"Its heatmaps explain its most suspicious frames (scores up to {top_p:.2f}), not the face as a whole, "
                f"which stays below the threshold: in those frames {where}.")
    if off > OFF_FACE:  # a Hub classifier has no blending edge to speak of
        edge, kind = ("", "a fake") if report.detector else ("the blending edge of a swap can sit on the outline, but ", "a swap")
        return (f"Most of what pushed the score towards fake ({percent(off)}) lies off the face (hair, outline, "
                f"background): {edge}heat away from the face is no sign of {kind}, so look at the heatmaps before "
                f"trusting this score.")
    return (f"What pushed the score towards fake sits mostly on {_places(ranked)}; the heatmaps show where the "
            f"detector looked, not proof that this region was edited.")


def _places(ranked: list[tuple[str, float]]) -> str:
    named = [(r, s) for r, s in ranked if s >= MIN_SHARE][:2] or ranked[:1]
    return " and ".join(f"{REGION_NAMES.get(r, r)} ({percent(s)})" for r, s in named)


def _warnings_sentence(face: FaceReport) -> str | None:
    if not face.warnings:
        return None
    return "Less reliable here: " + "; ".join(face.warnings) + "."


def face_words(face: FaceReport, report: Report) -> str:
    """2–4 sentences about one face, from its numbers only: each check's finding, then what
    applies of the temporal check, frame consistency, heatmap regions and warnings."""
    parts = [s for s in (_verdict_sentence(face, report), _synthesis_sentence(face, report)) if s]
    # in reading order; when more apply than fit, the frame-consistency sentence goes first
    # (warnings say how far to trust the score, and the temporal check already speaks of time)
    consistency = _consistency_sentence(face, report)
    optional = [s for s in (_temporal_sentence(face), consistency, _regions_sentence(face, report),
                            _warnings_sentence(face)) if s]
    if len(parts) + len(optional) > 4 and consistency in optional:
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
    if any(h.check == "synthesis" for h in report.heatmaps):
        return ("**Heatmaps.** The generator-traces check decided this file, so Grad-CAM shows *what drove that "
                "check's score*: the parts of the face whose pixels made it look drawn by a generator; it does not "
                "show that those parts were generated. Every map is drawn on one scale, its heat times that check's "
                "score of the crop it explains, so a crop scored low shows a faint map.")
    text = ("**Heatmaps.** Grad-CAM shows *what drove the score*: the parts of the face whose pixels pushed the "
            "fake probability up; it does not show that those parts were edited. Every map is drawn on one scale, "
            "its heat times the fake probability of the crop it explains, so a crop scored low shows a faint map.")
    if any(h.learned_map_mean is not None for h in report.heatmaps):
        text += (" The learned map shows *where the model thinks blending happened*: a second output trained to "
                 "outline the pasted region of self-blended faces; it is the same model's guess, not a proof, "
                 "and a dark map means it sees no blended region.")
    return text


def face_line(face: FaceReport, report: Report) -> str:
    """One line per face, up front: what the checks found on it and its score against the cut."""
    decided = face.deciding()
    scale = check_scale(decided, report)
    if decided.verdict not in RAN:
        return f"- **{face_label(face.track_id).capitalize()}**: not checked"
    score = f", score {scale[0]}" if scale else ""
    return f"- **{face_label(face.track_id).capitalize()}**: {decided.strength} ({decided.label.lower()}{score})"


def missing_heatmaps(report: Report) -> str | None:
    """Which faces have no heatmap (more faces than the Heatmaps setting allows), or None."""
    if not report.heatmaps:
        return None
    mapped = {h.track_id for h in report.heatmaps}
    left = [face_label(f.track_id).removeprefix("face ") for f in report.faces if f.track_id not in mapped]
    if not left:
        return None
    return (f"No heatmap for face{'s' if len(left) > 1 else ''} {_join(left)}: 'Heatmaps to compute' in Settings allows "
            f"{len(report.heatmaps)}, given first to the face that decides the file, then one per face.")


def plain_words(report: Report) -> str:
    """Markdown: one line per face up front, then, folded (HTML ``<details>``), a paragraph per face
    (2–4 sentences), the analysis notes and what the heatmaps mean; the caveat last, short."""
    paras = []
    if not report.faces:
        frames = f"{report.frames_analyzed} analysed frame{'s' if report.frames_analyzed != 1 else ''}"
        paras.append(f"No face was found in the {frames}, so there is nothing to judge: dfdemo only examines faces. "
                     "A clip where a face is visible, reasonably large and turned towards the camera works best.")
    else:
        paras.append("\n".join(face_line(f, report) for f in report.faces))
    missing = missing_heatmaps(report)
    paras += [missing] if missing else []
    details = [f"**{face_label(face.track_id).capitalize()}.** " + face_words(face, report) for face in report.faces]
    if len(report.faces) > 1:
        details.append(f"The file as a whole is judged by its most suspicious face ({headline(report).lower()}).")
    details += [detector_sentence(report)] if report.detector else []
    details += [f"Note: {n}." for n in report.notes]
    maps = maps_words(report)
    details += [maps] if maps else []
    if details:
        paras.append("<details><summary>Why: each face in detail" + (", notes" if report.notes else "")
                     + (" and the heatmaps" if maps else "") + "</summary>\n\n" + "\n\n".join(details) + "\n\n</details>")
    paras.append(caveat(report))
    return "\n\n".join(paras)


def how_it_works(faithfulness: dict | None = None, extra: dict | None = None) -> str:
    """Markdown for the app's "How it works" tab (``howto.md`` beside this module), followed by
    how well the detector measured (``extra``: the weights' ``config.json`` → ``dfdemo.extra``,
    its ``accuracy`` and calibration blocks) and the measured faithfulness of its heatmaps,
    each where the weights record it."""
    text = (Path(__file__).resolve().parent / "howto.md").read_text(encoding="utf-8")
    measured = measured_words(extra or {})
    text += "\n\n" + measured if measured else ""
    return text + ("\n\n" + faithfulness_words(faithfulness) if faithfulness and "n" in faithfulness else "")


def measured_words(extra: dict) -> str:
    """How well these weights did on media nobody trained on, from their config's numbers."""
    acc, clips, photos = extra.get("accuracy") or {}, extra.get("calibration") or {}, extra.get("photo_calibration") or {}
    lines = []
    if all(k in acc for k in ("fakes", "reals", "tpr", "fpr")):
        said = accuracy_line(acc).removeprefix("How well it works: ").rstrip(".")
        lines.append(f"- {said[:1].upper() + said[1:]}. "
                     "Ranking all of them by score, a fake comes before a real one in "
                     f"{percent(acc['auc']) if 'auc' in acc else 'an unmeasured share'} of pairs.")
    photo = acc.get("photo") or {}
    if all(k in photo for k in ("fakes", "reals", "tpr", "fpr")):
        said = accuracy_line(photo).removeprefix("How well it works: ").rstrip(".")
        lines.append(f"- Photos, at their own threshold: {said}.")
    if "cross_fold_clip_fpr" in clips:
        lines.append(f"- Real camera clips from sources it never saw: {percent(clips['cross_fold_clip_fpr'])} of "
                     f"{clips['clips']} called fake (cross-validated over {clips.get('sources', clips['clips'])} sources).")
    if "cross_fold_clip_fpr" in photos:
        lines.append(f"- Real photos of people it never saw: {percent(photos['cross_fold_clip_fpr'])} of "
                     f"{photos['clips']} called fake (photos have their own threshold).")
    learned = [(name, acc[name]) for name in ("synthesis", "animation")
               if all(k in (acc.get(name) or {}) for k in ("fakes", "reals", "tpr", "fpr"))]
    for name, row in learned:
        fold = ", sources it never learned from" if row.get("out_of_fold") else ""
        lines.append(f"- {CHECK_LABELS[name]}, on {row['fakes']} fakes and {row['reals']} real {row.get('unit', 'file')}s"
                     f"{' (' + row['data'] + ')' if row.get('data') else ''}{fold}: it caught {percent(row['tpr'])} and "
                     f"wrongly flagged {percent(row['fpr'])}"
                     + (f"; ranking them by its score, a fake comes first in {percent(row['auc'])} of pairs." if "auc" in row else "."))
        within = (row.get("within_source") or {}).get("auc") or {}
        if "auc" in within:
            lines.append(f"  On more faces of a generator it did learn from (thispersondoesnotexist, dealt file by file), "
                         f"a fake comes first in {percent(within['auc'])} of pairs: it knows the generators it was shown, "
                         "not others.")
    if not lines:
        return ""
    names = [n for n, _ in learned]
    closing = ("It looks for three kinds of evidence: the blending of a pasted face, the traces of the generators it "
               "learned from, and a redrawn mouth or face in a video (lip-sync and face animation); each is weak "
               "on makers it has not seen." if "animation" in names else
               "It looks for two traces, the blending of a pasted face and a generator's traces; re-enacted and "
               "lip-synced faces are what both checks miss most." if names else
               "It looks for one trace, the blending of a pasted face; faces made entirely by a generator "
               "are not what it checks.")
    return "### How well this detector did on media it was never trained on\n" + "\n".join(lines) + "\n\n" + closing


def faithfulness_words(f: dict) -> str:
    """The numbers of ``python -m dfdemo_lab explain-eval`` for these weights, in plain terms."""
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
