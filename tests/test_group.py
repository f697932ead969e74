"""Many faces: a 40-face group photo is counted whole (found vs analysed, the ones left out by the
limit listed), the limit is a bounded setting, and the face that decides the file always gets a
heatmap, whatever its place in track order."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT
from dfdemo import Analyzer
from dfdemo.analyzer import MAX_FACES, Settings
from dfdemo.errors import DfdemoError
from dfdemo.page import faces_overview, faces_rows, verdict_card


@pytest.fixture(scope="module")
def bundled():
    with Analyzer.load(ROOT / "weights" / "detector") as a:
        yield a


def test_a_group_photo_says_how_many_faces_were_found_and_which_were_left_out(bundled, group_photo):
    analysis = bundled.analyze(group_photo, Settings(heatmaps=1))
    r = analysis.report
    assert (r.faces_found, r.face_limit, len(r.faces), len(r.faces_left_out)) == (40, 10, 10, 30)
    assert any(n.startswith("40 faces were found; the 10 clearest were analysed") and "Faces to analyse" in n for n in r.notes)
    analysed = [f.frames[0].box for f in r.faces]
    for left in r.faces_left_out:  # a left-out face is none of the analysed ones
        assert all(abs(left["box"][0] - b[0]) > 20 or abs(left["box"][1] - b[1]) > 20 for b in analysed)
    assert "40 faces found, 10 analysed" in verdict_card(r)
    assert faces_rows(r)[-1][:4] == ["30 more", 0, "–", "not analysed"]
    overview = faces_overview(analysis.photo, r)
    assert overview.shape == (838, 1274, 3)
    x0, y0, x1, y1 = map(int, r.faces_left_out[0]["box"])  # drawn grey, the analysed ones in colour
    assert (overview[y0 + 1, (x0 + x1) // 2] == 150).all() or (overview[y0, (x0 + x1) // 2] == 150).all()

    every = bundled.analyze(group_photo, Settings(heatmaps=1, max_faces=MAX_FACES)).report
    assert (every.faces_found, len(every.faces), every.faces_left_out) == (40, 40, [])
    assert not any("clearest" in n for n in every.notes)


def test_the_deciding_face_always_has_a_heatmap(bundled, group_photo):
    r = bundled.analyze(group_photo, Settings(heatmaps=2, max_faces=MAX_FACES)).report
    blending = {f.track_id: next(c for c in f.checks if c.name == "blending").fake_probability for f in r.faces}
    deciding = max(blending, key=blending.get)
    assert deciding not in (0, 1)  # else track order alone would have given it a map: the test would prove nothing
    assert r.heatmaps[0].check == "blending" and deciding in {h.track_id for h in r.heatmaps}
    assert len({h.track_id for h in r.heatmaps}) == 2  # then one per face while the setting allows


@pytest.mark.parametrize("bad", [0, MAX_FACES + 1])
def test_the_face_limit_is_bounded(bad):
    with pytest.raises(DfdemoError, match=f"between 1 and {MAX_FACES}"):
        Settings(max_faces=bad)


def test_scan_max_faces_out_of_range_is_one_line(photo):
    run = subprocess.run([sys.executable, "-m", "dfdemo", "scan", str(photo), "--max-faces", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr == f"error: faces to analyse must be between 1 and {MAX_FACES}, got 0\n"
