"""The result page as plain data: the evidence card (HTML), the heatmap gallery in pairs, the
heatmap details, the faces table and the colour bar of the overlays. No gradio here: ``app.py``
only hands these values to its components, and tests read them without a server.

Every number shown comes from the ``Report``; every sentence from ``dfdemo.words``.
"""
from __future__ import annotations

import html
from pathlib import Path

from .explain import colour_bar_stops
from .report import STRENGTHS, Report
from .words import accuracy_line, blending_cut, blending_verdict, evidence_rows, face_label, finding_sentence, headline

CARD_STYLE = {  # background, text colour; "nothing found" is neutral, never the green of "authentic"
    "fake": ("#fde2e1", "#8a1c14"),
    "uncertain": ("#fff1cc", "#6b4e00"),
    "real": ("#e8eef5", "#1f3346"),
    "no_face": ("#e8e8ec", "#33343a"),
}
HEATMAP_COLUMNS = ["face", "time (s)", "fake probability", "Grad-CAM: most heat", "learned map"]
FACE_COLUMNS = ["face", "frames seen", "fake probability", "face-swap blending", "warnings"]


def _div(text: str, cls: str = "", style: str = "margin-top:4px") -> str:
    return f'<div class="{cls}" style="{style}">{text}</div>' if cls else f'<div style="{style}">{text}</div>'


def verdict_card(report: Report, upload_note: str | None = None) -> str:
    """The card: what each check found (one row per kind of evidence), what that means, how well
    the check works (the weights' measured accuracy), then the numbers behind it."""
    bg, fg = CARD_STYLE.get(report.verdict, ("#eee", "#222"))
    if report.verdict == "no_face":
        rows = [_div(html.escape(headline(report)), "check", "font-size:1.5em;font-weight:700")]
    else:
        rows = [_div(f"{html.escape(label)}: {html.escape(strength)}", "check",
                     "font-size:1.5em;font-weight:700" if k == 0 else "font-size:1.2em;font-weight:600")
                for k, (label, strength, _) in enumerate(evidence_rows(report))]
    rows.append(_div(html.escape(finding_sentence(report)), "finding"))
    rows.append(_div(html.escape(accuracy_line(report.accuracy)), "accuracy", "margin-top:4px;font-size:0.9em"))
    p = "n/a" if report.fake_probability is None else f"{report.fake_probability:.2f}"
    low, high = report.uncertain_band
    what = "frame" if report.kind == "image" else "frames"
    faces = len(report.faces)
    numbers = [
        f"Fake probability <b>{p}</b> &nbsp;·&nbsp; threshold {report.threshold:.2f} (uncertain {low:.2f}–{high:.2f})",
        f"{report.frames_analyzed} {what} analysed, a face in {report.frames_with_face} &nbsp;·&nbsp; "
        f"{faces} face{'s' if faces != 1 else ''} followed",
        f"Model: <code>{html.escape(report.model)}</code> &nbsp;·&nbsp; {html.escape(Path(report.file).name)} "
        f"&nbsp;·&nbsp; {report.timings_s.get('total', 0):.1f} s",
    ]
    rows += [_div(r, style="margin-top:4px;font-size:0.9em") for r in numbers]
    if upload_note:
        rows.append(_div(html.escape(upload_note), style="margin-top:4px;font-size:0.85em"))
    return (f'<div class="verdict-card" data-verdict="{report.verdict}" style="background:{bg};color:{fg};'
            f'border-radius:10px;padding:14px 18px">{"".join(rows)}</div>')


def message_card(text: str, kind: str = "info") -> str:
    """A card without a verdict: the placeholder, "cancelled", or an error that stays on screen."""
    style = "background:#fde2e1;color:#8a1c14;" if kind == "error" else "opacity:0.7;"
    return (f'<div class="verdict-card message" data-kind="{kind}" style="{style}border-radius:10px;'
            f'padding:14px 18px">{html.escape(text)}</div>')


def heatmap_items(report: Report, overlay_dir: Path) -> list[tuple[str, str]]:
    """(image path, caption) in pairs: each Grad-CAM overlay, then the learned map of the same
    crop (weights with a mask head), so a two-column gallery shows a pair per row. Captions are
    short enough to show whole; the regions are in ``heatmap_rows``."""
    items = []
    several = len(report.faces) > 1
    for h in report.heatmaps:
        if not h.overlay_path:
            continue
        where = ([face_label(h.track_id)] if several else []) + ([f"{h.time_s:.1f} s"] if report.kind == "video" else [])
        items.append((str(overlay_dir / Path(h.overlay_path).name), " · ".join(where + [f"p {h.fake_probability:.2f}", "Grad-CAM"])))
        if h.learned_map_path:
            items.append((str(overlay_dir / Path(h.learned_map_path).name), " · ".join(where + ["learned map"])))
    return items


def _top(shares: dict[str, float] | None, k: int = 2) -> str:
    if not shares:
        return "no evidence for fake"
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{r.replace('_', '/')} {100 * s:.0f} %" for r, s in top)


def heatmap_rows(report: Report) -> list[list]:
    """One row per explained crop: where it is, its score and where each map puts its heat."""
    return [[face_label(h.track_id), f"{h.time_s:.1f}", f"{h.fake_probability:.2f}", _top(h.region_shares),
             "–" if h.learned_map_mean is None else f"mean {h.learned_map_mean:.2f}; {_top(h.learned_map_shares)}"]
            for h in report.heatmaps]


def faces_rows(report: Report) -> list[list]:
    return [[face_label(f.track_id), len(f.frames), f"{f.fake_probability:.3f}", STRENGTHS.get(f.verdict, f.verdict),
             "; ".join(f.warnings)] for f in report.faces]


def colour_bar() -> str:
    """HTML colour bar of the overlays' one scale (the colours as they look over mid-grey)."""
    stops = ", ".join(f"{c} {100 * v:.0f}%" for v, c in colour_bar_stops())
    return ('<div id="colour-bar" style="display:flex;align-items:center;gap:8px;font-size:0.85em">'
            '<span>none</span><div style="flex:1;max-width:320px;height:12px;border-radius:3px;'
            f'background:linear-gradient(to right, {stops})"></div><span>strong</span>'
            '<span style="opacity:0.8">colour = map × the fake probability of that crop, the same scale for every '
            'face and frame</span></div>')


def timeline_figure(report: Report):
    """The blending check's fake probability per face over time (per face for a photo), its threshold and band
    (a matplotlib ``Figure``, drawn without a display), or None without faces."""
    if not report.faces:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    threshold, (low, high) = blending_cut(report)  # the frame scores are the blending check's
    ax.axhspan(low, high, color="#f5c542", alpha=0.25, label="uncertain", lw=0)
    ax.axhline(threshold, color="#c0392b", ls="--", lw=1.5, label=f"threshold {threshold:.2f}")
    if report.kind == "image":
        names = [face_label(f.track_id) for f in report.faces]
        ax.bar(names, [blending_verdict(f)[0] for f in report.faces], color="#4a6fa5", width=0.5)
        ax.set_xlabel("face")
    else:
        last = max(s.time_s for f in report.faces for s in f.frames)
        span = max(report.media.get("duration_s") or 0, last) or 1
        for f in report.faces:
            t = [s.time_s for s in f.frames]
            line, = ax.plot(t, [s.fake_probability for s in f.frames], marker="o", ms=4, lw=1.5, label=face_label(f.track_id))
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
    ax.set_title("Fake probability per face" + ("" if report.kind == "image" else " over time"), fontsize=10)
    ax.set_ylabel("fake probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
