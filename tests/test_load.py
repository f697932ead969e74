"""The app under load (issue 6): six visitors at once, each with a different file, through
gradio_client against ``python app.py`` on localhost. Every visitor must get the analysis of
their own file (same boxes and scores as the library gives directly), nobody waits forever,
a bad file among them gets a plain error, and the server's temporary folder is back to what it
was before."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import app_server
from conftest import moving_face_frames, write_clip
from dfdemo import Settings

VISITORS = 6
TIMEOUT_S = 240  # per visitor, queue wait included
TOL = 1e-4


@pytest.fixture(scope="module")
def server(tiny_weights):
    return app_server.shared(tiny_weights)


def make_clips(folder: Path) -> list[Path]:
    """Six different clips: different lengths, speeds and so different faces positions/scores."""
    clips = []
    for i in range(VISITORS):
        frames, _ = moving_face_frames(n=5 + i, step=4 + 3 * i)
        clips.append(write_clip(folder / f"visitor{i}.mp4", frames, fps=10.0 + i))
    return clips


def temp_state(server) -> tuple[int, int, set[str]]:
    """(files, bytes) of the server's temp folder outside the sessions' folders, and the sessions'
    folders (one per browser session)."""
    results = server.temp_dir / "dfdemo-sessions"
    files = [p for p in server.temp_dir.rglob("*") if p.is_file() and results not in p.parents]
    sessions = {d.name for d in results.iterdir()} if results.is_dir() else set()
    return len(files), sum(p.stat().st_size for p in files), sessions


def visit(server, path: Path):
    """One visitor: own client, one file, the report or the error, and how long it took."""
    from gradio_client import handle_file

    t = time.monotonic()
    try:
        job = app_server.client(server).submit(handle_file(str(path)), api_name="/analyze")
        return path, job.result(timeout=TIMEOUT_S), time.monotonic() - t
    except Exception as e:  # checked by the test
        return path, e, time.monotonic() - t


def test_six_concurrent_visitors_get_their_own_results(server, analyzer, tmp_path):
    from gradio_client.exceptions import AppError

    clips = make_clips(tmp_path)
    bad = tmp_path / "visitor_bad.mp4"
    bad.write_text("a text file, renamed\n" * 100)
    expected = {c.name: analyzer.analyze(c, Settings(heatmaps=0)).report for c in clips}
    assert len({round(r.faces[0].frames[-1].box[0]) for r in expected.values()}) == VISITORS  # really different
    before = temp_state(server)
    warm = visit(server, clips[0])  # model loaded, client code imported
    assert isinstance(warm[1], dict), f"{warm[1]!r}\n{server.log_tail()}"

    t = time.monotonic()
    with ThreadPoolExecutor(VISITORS + 1) as pool:
        results = list(pool.map(lambda p: visit(server, p), clips + [bad]))
    wall = time.monotonic() - t

    for path, got, _ in results[:-1]:
        assert isinstance(got, dict), f"{path.name}: {got!r}\n{server.log_tail()}"
        want = expected[path.name]
        assert got["file"] == path.name  # nobody got somebody else's file
        assert got["verdict"] == want.verdict and got["frames_analyzed"] == want.frames_analyzed
        assert got["fake_probability"] == pytest.approx(want.fake_probability, abs=TOL)
        assert len(got["faces"]) == len(want.faces)
        for gf, wf in zip(got["faces"], want.faces):
            assert [f["index"] for f in gf["frames"]] == [f.index for f in wf.frames]
            for g, w in zip(gf["frames"], wf.frames):
                assert g["box"] == pytest.approx(list(w.box), abs=TOL)
                assert g["fake_probability"] == pytest.approx(w.fake_probability, abs=TOL)
    path, err, took = results[-1]
    assert isinstance(err, AppError) and "not a readable video" in str(err) and "Traceback" not in str(err)
    assert max(r[2] for r in results) < TIMEOUT_S and wall < TIMEOUT_S

    def clean() -> bool:
        now = temp_state(server)
        return now[:2] == before[:2] and now[2] <= before[2] and not list(server.temp_dir.rglob("visitor*"))

    deadline = time.monotonic() + 15  # uploads are deleted as each request ends (a shared copy once the queue stops)
    while not clean() and time.monotonic() < deadline:
        time.sleep(0.2)
    after = temp_state(server)
    assert after[:2] == before[:2], "temporary files left behind"
    assert after[2] <= before[2], "API requests must not leave result folders"
    assert not [p for p in server.temp_dir.rglob("visitor*")], "an upload was left on the server"
