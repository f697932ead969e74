"""The result page as plain data: the evidence card (HTML), the heatmap gallery in pairs, the
heatmap details, the faces table and the colour bar of the overlays. No gradio here: ``app.py``
only hands these values to its components, and tests read them without a server.

Every number shown comes from the ``Report``; every sentence from ``dfdemo.words``.
"""
from __future__ import annotations

import html
from typing import Mapping

from .explain import colour_bar_stops
from .report import STRENGTHS, Check, Report
from .words import (NOT_MEASURED_LINE, accuracy_line, check_accuracy, check_meaning, check_scale, checks_of,
                    coverage_sentence, cut_text, detector_sentence, face_label, finding_sentence, headline, scale_sentence)

CARD_STYLE = {  # background, text colour; "nothing found" is neutral, never the green of "authentic"
    "fake": ("#fde2e1", "#8a1c14"),
    "uncertain": ("#fff1cc", "#6b4e00"),
    "real": ("#e8eef5", "#1f3346"),
    "no_face": ("#e8e8ec", "#33343a"),
}
HEATMAP_COLUMNS = ["face", "time (s)", "score", "what drove the score", "where blending may be"]
HEATMAP_WIDTHS = {5: ["12%", "10%", "12%", "33%", "33%"], 4: ["14%", "12%", "14%", "60%"]}
HEATMAP_LABELS = {True: "Heatmaps, a pair per row: left, what drove the score; right, the blend map (where the model "
                        "thinks a face was blended in)",
                  False: "Heatmaps: what drove the score (these weights have no learned blend map, so none is shown)"}
FACE_COLUMNS = ["face", "frames seen", "score", "finding", "heatmap", "warnings"]


def _div(text: str, cls: str = "", style: str = "margin-top:4px") -> str:
    return f'<div class="{cls}" style="{style}">{text}</div>' if cls else f'<div style="{style}">{text}</div>'


def score_bar(check: Check, report: Report) -> str:
    """A check's score on its own scale: a 0-1 bar with where "some signs" (amber) and "strong
    signs" (red) start, and a mark at the score."""
    scale = check_scale(check, report)
    if scale is None:
        return ""
    _, low, strong = scale

    def at(v: float) -> str:
        return f"{100 * min(max(v, 0.0), 1.0):.1f}%"
    return (f'<div class="score-bar" style="position:relative;height:10px;max-width:360px;margin:4px 0 2px;'
            f'background:#d5dbe3;border-radius:3px">'
            f'<div style="position:absolute;left:{at(low)};width:{at(strong - low)};top:0;bottom:0;background:#f0c04a"></div>'
            f'<div style="position:absolute;left:{at(strong)};right:0;top:0;bottom:0;background:#d9675b"></div>'
            f'<div class="score-mark" style="position:absolute;left:calc({at(check.fake_probability)} - 2px);top:-3px;'
            f'width:4px;height:16px;background:#111;border-radius:1px"></div></div>')


def _check_block(check: Check, report: Report, first: bool) -> str:
    """One check: what it found, its score against its own cut (bar), what that means, how well it works."""
    size = "font-size:1.5em;font-weight:700" if first else "font-size:1.2em;font-weight:600"
    ran = check.verdict in ("fake", "uncertain", "real")
    scale = scale_sentence(check, report)
    parts = [_div(f"{html.escape(check.label)}: {html.escape(check.strength)}", "check", size)]
    if scale:
        parts.append(_div(html.escape(scale), "scale", "margin-top:2px;font-size:0.95em"))
        parts.append(score_bar(check, report))
    meaning = check_meaning(check, report)
    if meaning:
        parts.append(_div(html.escape(meaning), "meaning", "margin-top:2px"))
    if ran:
        acc = check_accuracy(report.accuracy, check.name, report.kind)
        said = NOT_MEASURED_LINE if report.detector and not acc else accuracy_line(acc)
        parts.append(_div(html.escape(said), "accuracy", "margin-top:2px;font-size:0.9em"))
    box = ("margin-top:10px;padding:6px 10px;border:2px dashed currentColor;border-radius:8px" if not ran
           else "margin-top:10px")
    return (f'<div class="check-block" data-check="{html.escape(check.name)}" data-verdict="{check.verdict}" '
            f'style="{box}">{"".join(parts)}</div>')


def faces_line(report: Report) -> str:
    """How many faces were found and how many analysed (all of them, or the clearest up to the limit)."""
    n = len(report.faces)
    if report.faces_left_out:
        where = "" if report.kind == "image" else " in one frame"
        return (f"<b>{report.faces_found} faces found{where}, {report.face_limit} analysed</b> (the clearest; "
                f"raise 'Faces to analyse' in Settings to analyse more)")
    return f"{n} face{'s' if n != 1 else ''} analysed"


def verdict_card(report: Report, upload_note: str | None = None) -> str:
    """The card: the strongest finding, what was and was not checked, then each check (any number)
    with its score against its own cut, what "none found" means and how well it works on this kind
    of media, then the numbers behind it."""
    bg, fg = CARD_STYLE.get(report.verdict, ("#eee", "#222"))
    if report.verdict == "no_face":
        rows = [_div(html.escape(headline(report)), "check", "font-size:1.5em;font-weight:700"),
                _div(html.escape(finding_sentence(report)), "finding")]
    else:
        rows = [_div(html.escape(coverage_sentence(report)), "coverage", "margin-top:6px;font-weight:600;font-size:1.05em")]
        rows[:0] = [_check_block(c, report, k == 0) for k, c in enumerate(checks_of(report))][:1]
        rows += [_check_block(c, report, False) for c in checks_of(report)[1:]]
        if report.verdict in ("fake", "uncertain"):
            rows.append(_div(html.escape(finding_sentence(report)), "finding", "margin-top:8px"))
        if report.detector:
            rows.append(_div(html.escape(detector_sentence(report)), "detector", "margin-top:6px;font-size:0.9em"))
    what = "frame" if report.kind == "image" else "frames"
    numbers = [f"{report.frames_analyzed} {what} analysed, a face in {report.frames_with_face} &nbsp;·&nbsp; "
               f"{faces_line(report)}" if report.kind == "video" else faces_line(report),
               f'Model: <code style="white-space:nowrap">{html.escape(report.model)}</code> &nbsp;·&nbsp; '
               f"{html.escape(report.file)} &nbsp;·&nbsp; {report.timings_s.get('total', 0):.1f} s"]
    rows += [_div(r, "numbers", "margin-top:6px;font-size:0.9em") for r in numbers]
    if upload_note:
        rows.append(_div(html.escape(upload_note), style="margin-top:4px;font-size:0.85em"))
    return (f'<div class="verdict-card" data-verdict="{report.verdict}" style="background:{bg};color:{fg};'
            f'border-radius:10px;padding:14px 18px">{"".join(rows)}</div>')


def message_card(text: str, kind: str = "info") -> str:
    """A card without a verdict: the placeholder, "cancelled", or an error that stays on screen."""
    style = "background:#fde2e1;color:#8a1c14;" if kind == "error" else "opacity:0.7;"
    return (f'<div class="verdict-card message" data-kind="{kind}" style="{style}border-radius:10px;'
            f'padding:14px 18px">{html.escape(text)}</div>')


def heatmap_items(report: Report, images: Mapping[str, object]) -> list[tuple[object, str]]:
    """(image, caption) in pairs: each Grad-CAM overlay, then the learned map of the same crop
    (weights with a mask head), so a two-column gallery shows a pair per row. ``images`` gives
    each image the report names (``Heatmap.overlay_path``, ``learned_map_path``): a file the app
    wrote or the array itself. Captions are short enough to show whole; the regions are in
    ``heatmap_rows``."""
    items = []
    several = len(report.faces) > 1
    for h in report.heatmaps:
        if not h.overlay_path or h.overlay_path not in images:
            continue
        where = ([face_label(h.track_id)] if several else []) + ([f"{h.time_s:.1f} s"] if report.kind == "video" else [])
        items.append((images[h.overlay_path], " · ".join(where + [f"score {h.fake_probability:.2f}"])))
        if h.learned_map_path and h.learned_map_path in images:
            items.append((images[h.learned_map_path], " · ".join(where + ["blend map"])))
    return items


def _top(shares: dict[str, float] | None, k: int = 2) -> str:
    if not shares:
        return "no evidence for fake"
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{r.replace('_', '/')} {100 * s:.0f} %" for r, s in top)


def learned_maps(report: Report) -> bool:
    """Whether the report has learned maps beside its Grad-CAM maps (weights with a mask head)."""
    return any(h.learned_map_mean is not None for h in report.heatmaps)


def heatmap_layout(with_learned_maps: bool) -> tuple[str, list[str], list[str]]:
    """The heatmap gallery's label, the table's columns and their widths: without learned maps,
    no column or caption for them (no empty panel)."""
    n = 5 if with_learned_maps else 4
    return HEATMAP_LABELS[with_learned_maps], HEATMAP_COLUMNS[:n], HEATMAP_WIDTHS[n]


def heatmap_columns(report: Report) -> list[str]:
    """The heatmap table's columns of this report (``heatmap_layout``)."""
    return heatmap_layout(learned_maps(report))[1]


def heatmap_rows(report: Report) -> list[list]:
    """One row per explained crop: where it is, its score and where each map puts its heat."""
    rows = [[face_label(h.track_id), f"{h.time_s:.1f}", f"{h.fake_probability:.2f}", _top(h.region_shares),
             "–" if h.learned_map_mean is None else f"mean {h.learned_map_mean:.2f}; {_top(h.learned_map_shares)}"]
            for h in report.heatmaps]
    return rows if learned_maps(report) else [r[:4] for r in rows]


def faces_rows(report: Report) -> list[list]:
    """One row per analysed face (its finding, whether it has a heatmap), then one row for the
    faces left out by the limit, if any."""
    mapped = {h.track_id for h in report.heatmaps}
    rows = [[face_label(f.track_id), len(f.frames), f"{f.fake_probability:.2f}", STRENGTHS.get(f.verdict, f.verdict),
             "yes" if f.track_id in mapped else "none", "; ".join(f.warnings)] for f in report.faces]
    if report.faces_left_out:
        n = len(report.faces_left_out)
        rows.append([f"{n} more", 0, "–", "not analysed", "none",
                     f"over the limit of {report.face_limit} faces (grey boxes in the overview)"])
    return rows


def faces_overview(photo, report: Report):
    """The photo with a box per face: analysed faces numbered and coloured by their finding,
    faces left out by the limit in grey with no number (RGB uint8), or None for a video."""
    import cv2
    import numpy as np

    if photo is None or report.kind != "image" or not (len(report.faces) > 1 or report.faces_left_out):
        return None
    img = np.ascontiguousarray(photo).copy()
    side = max(img.shape[:2])
    thick, scale = max(2, side // 400), max(0.5, side / 1400)
    colours = {"fake": (200, 40, 30), "uncertain": (230, 170, 0), "real": (40, 110, 200)}
    for box in (o["box"] for o in report.faces_left_out):
        x0, y0, x1, y1 = map(int, box)
        cv2.rectangle(img, (x0, y0), (x1, y1), (150, 150, 150), thick)
    for f in report.faces:
        x0, y0, x1, y1 = map(int, f.frames[0].box)
        c = colours.get(f.verdict, (40, 110, 200))
        cv2.rectangle(img, (x0, y0), (x1, y1), c, thick + 1)
        label = str(f.track_id + 1)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(img, (x0, y0), (x0 + tw + 6, y0 + th + 8), c, -1)
        cv2.putText(img, label, (x0 + 3, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick)
    return img


def face_gallery(photo, report: Report, crops: list) -> list:
    """The face crops' gallery items, after the photo's overview where there is one."""
    overview = faces_overview(photo, report)
    return ([(overview, overview_caption(report))] if overview is not None else []) + list(crops)


def overview_caption(report: Report) -> str:
    left = len(report.faces_left_out)
    return ("where the faces are: numbered = analysed" + (f", grey = not analysed ({left} over the limit)" if left else ""))


def colour_bar() -> str:
    """HTML colour bar of the overlays' one scale (the colours as they look over mid-grey)."""
    stops = ", ".join(f"{c} {100 * v:.0f}%" for v, c in colour_bar_stops())
    return ('<div id="colour-bar" style="display:flex;align-items:center;gap:8px;font-size:0.85em">'
            '<span>none</span><div style="flex:1;max-width:320px;height:12px;border-radius:3px;'
            f'background:linear-gradient(to right, {stops})"></div><span>strong</span>'
            '<span style="opacity:0.8">colour = heat × the score of that crop, the same scale for every '
            'face and frame</span></div>')


def with_gaps(times: list[float], values: list[float], step: float) -> tuple[list[float], list[float]]:
    """The points of one face over time with a break (NaN) wherever the face was absent from
    sampled frames: two points further apart than 1.5 sampling steps are not joined by a line."""
    xs, ys = [], []
    for k, (t, v) in enumerate(zip(times, values)):
        if k and t - times[k - 1] > 1.5 * step:
            xs.append((t + times[k - 1]) / 2)
            ys.append(float("nan"))
        xs.append(t)
        ys.append(v)
    return xs, ys


def timeline_figure(report: Report):
    """The blending check's score per face over time, with where "some signs" and "strong signs"
    start, and a gap where a face was absent (a matplotlib ``Figure``, drawn without a display);
    None without faces or for a photo (one frame: its scores are on the card and in the faces table)."""
    if not report.faces or report.kind == "image":
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    low, strong = report.blending_cut().signs  # the frame scores are the blending check's
    ax.axhspan(low, strong, color="#f5c542", alpha=0.3, label=f"some signs from {cut_text(low)}", lw=0)
    ax.axhspan(strong, 1.03, color="#d9675b", alpha=0.2, label=f"strong signs from {cut_text(strong)}", lw=0)
    last = max(s.time_s for f in report.faces for s in f.frames)
    span = max(report.media.get("duration_s") or 0, last) or 1
    step = span / max(1, report.frames_analyzed)  # frames are sampled evenly
    for f in report.faces:
        t, v = with_gaps([s.time_s for s in f.frames], [s.fake_probability for s in f.frames], step)
        line, = ax.plot(t, v, marker="o", ms=4, lw=1.5, label=face_label(f.track_id))
        if f.windows:  # the temporal head's score per window of consecutive frames: a bar over its span,
            # at least 1/50 of the axis wide so that a third of a second stays visible on a long clip
            half = [max(w.end_s - w.start_s, span / 50) / 2 for w in f.windows]
            mid = [(w.start_s + w.end_s) / 2 for w in f.windows]
            ax.hlines([w.fake_probability for w in f.windows], [m - h for m, h in zip(mid, half)],
                      [m + h for m, h in zip(mid, half)], colors=line.get_color(), lw=7, alpha=0.45,
                      label=f"{face_label(f.track_id)}: temporal windows")
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, span)
    ax.set_ylim(-0.03, 1.03)
    label = (report.check("blending") or report.all_checks()[0]).label
    ax.set_title(f"{label} score per face over time (a gap: the face was not in view)", fontsize=10)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
