"""``python -m dfdemo corpus``: a whole folder on Ray (a real local Ray, and a real 2-node
cluster on this machine), resumable, one Parquet table and one ``scan --json`` report per file.

The corpus is made here: the astronaut photo, a copy of it (a duplicate), a clip, a photo with
no face, a JPEG named ``.dat`` (found by its first bytes), a truncated mp4, garbage named
``.mp4``, an empty ``.jpg`` and a text file (not media: no row). Scores are compared with
``scan --json`` within 1e-4 (Ray's workers run torch on one thread, scan on all of them: the
sums are ordered differently); verdicts and everything else exactly.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ray", reason="the corpus command needs Ray: pip install '.[corpus]' (setup.sh --dev does)")
pq = pytest.importorskip("pyarrow.parquet")

from conftest import astronaut, moving_face_frames, write_clip  # noqa: E402
from dfdemo import cli, corpus  # noqa: E402
from dfdemo.analyzer import Settings  # noqa: E402
from dfdemo.errors import DfdemoError  # noqa: E402

TOL = 1e-4
SCANNED = ("astronaut.png", "clip.mp4", "noface.png", "flipped.dat", "truncated.mp4")


def _png(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    (d / "sub").mkdir()
    _png(d / "astronaut.png", astronaut())
    shutil.copy(d / "astronaut.png", d / "sub" / "copy.png")
    write_clip(d / "clip.mp4", moving_face_frames(12)[0])
    _png(d / "noface.png", np.tile(np.linspace(40, 200, 160, dtype=np.uint8)[None, :, None], (120, 1, 3)))
    flipped = cv2.imencode(".jpg", cv2.cvtColor(astronaut()[:, ::-1], cv2.COLOR_RGB2BGR))[1]
    (d / "sub" / "flipped.dat").write_bytes(flipped.tobytes())  # a JPEG by its first bytes, not by its name
    (d / "truncated.mp4").write_bytes((d / "clip.mp4").read_bytes()[:3000])
    (d / "broken.mp4").write_bytes(b"not a video at all " * 50)
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.txt").write_text("the leak's cover letter\n")
    return d


def _rows(out: Path) -> dict[str, dict]:
    rows = corpus.read_table(out).to_pylist()
    names = [Path(r["path"]).name for r in rows]
    assert len(names) == len(set(names)), f"a file has two rows: {sorted(names)}"
    return {Path(r["path"]).name: r for r in rows}


@pytest.fixture(scope="module")
def first_run(corpus_dir, tmp_path_factory):
    """The corpus through the CLI with the bundled weights, a local Ray and 2 workers."""
    out = tmp_path_factory.mktemp("out") / "run"
    code = cli.main(["corpus", str(corpus_dir), "--out", str(out), "--frames", "4", "--workers", "2"])
    assert code == 0
    return out


def _close(a, b, where="") -> None:
    """``a`` equals ``b``: floats within TOL, everything else exactly; ``timings_s`` apart."""
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys differ: {set(a) ^ set(b)}"
        for k in a:
            if k != "timings_s":
                _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= TOL, f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_every_row_is_what_scan_json_says_and_bad_files_are_rows(first_run, corpus_dir, tmp_path, capsys):
    rows = _rows(first_run)
    assert set(rows) == {*SCANNED, "copy.png", "broken.mp4", "empty.jpg"}  # notes.txt: not media, no row
    # the reference: scan --json on the same files (the misnamed JPEG under a .jpg name elsewhere)
    shutil.copy(corpus_dir / "sub" / "flipped.dat", tmp_path / "flipped.jpg")
    names = [corpus_dir / "astronaut.png", corpus_dir / "clip.mp4", corpus_dir / "noface.png", tmp_path / "flipped.jpg",
             corpus_dir / "truncated.mp4"]
    capsys.readouterr()
    assert cli.main(["scan", *map(str, names), "--json", str(tmp_path / "scan.json"), "--frames", "4"]) == 2
    scan_errors = [line.removeprefix("error: ") for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    scanned = {Path(r["file"]).name: r for r in json.loads((tmp_path / "scan.json").read_text())}
    scanned["flipped.dat"] = {**scanned.pop("flipped.jpg"), "file": str(corpus_dir / "sub" / "flipped.dat")}
    for name, ref in scanned.items():
        row = rows[name]
        report = json.loads((first_run / row["report"]).read_text())  # the per-file JSON: scan's schema, field for field
        _close(report, ref, name)
        assert (row["verdict"], row["kind"], row["faces"], row["error"]) == (ref["verdict"], ref["kind"], len(ref["faces"]), None)
        assert row["fake_probability"] == pytest.approx(ref["fake_probability"], abs=TOL) if ref["fake_probability"] is not None \
            else row["fake_probability"] is None
        checks = {c["name"]: c for c in ref["checks"]}
        assert row["synthesis_verdict"] == checks["synthesis"]["verdict"] and row["blending_verdict"] == checks["blending"]["verdict"]
        assert row["node_id"] and row["attempts"] == 1 and row["worker_peak_rss_mb"] > 100
    assert rows["noface.png"]["verdict"] == "no_face" and rows["astronaut.png"]["faces"] == 1
    # bad files are rows with the error text scan gives for the same file
    assert rows["truncated.mp4"]["error"] == next(e for e in scan_errors if "truncated.mp4" in e)
    assert rows["truncated.mp4"]["report"] is None and rows["truncated.mp4"]["verdict"] is None
    assert "not a video or photo" in rows["broken.mp4"]["error"] and "empty" in rows["empty.jpg"]["error"]
    # the duplicate was scanned once: its row copies the analysis and names the scanned file
    copy, orig = rows["copy.png"], rows["astronaut.png"]
    assert copy["duplicate_of"] == orig["path"] and copy["sha256"] == orig["sha256"] and copy["report"] == orig["report"]
    assert copy["fake_probability"] == orig["fake_probability"]
    assert len(list((first_run / "reports").rglob("*.json"))) == len(SCANNED) - 1  # truncated.mp4 has none


def test_the_parquet_schema_is_stable(first_run):
    import pyarrow as pa

    string, double, int32, int64 = pa.string(), pa.float64(), pa.int32(), pa.int64()
    expected = [("path", string), ("sha256", string), ("size_bytes", int64), ("mtime_ns", int64), ("kind", string),
                ("verdict", string), ("fake_probability", double), ("threshold", double),
                ("blending_probability", double), ("blending_verdict", string),
                ("synthesis_probability", double), ("synthesis_verdict", string),
                ("animation_probability", double), ("animation_verdict", string),
                ("faces", int32), ("frames_analyzed", int32), ("frames_with_face", int32), ("notes", pa.list_(string)),
                ("error", string), ("seconds", double), ("timings_s", pa.map_(string, double)), ("model", string),
                ("settings", string), ("config_key", string), ("report", string), ("duplicate_of", string),
                ("node_id", string), ("attempts", int32), ("worker_peak_rss_mb", double),
                ("finished_at", pa.timestamp("ms", tz="UTC"))]
    parts = sorted((first_run / "parts").glob("part-*.parquet"))
    assert parts
    for part in parts:
        s = pq.read_schema(part)
        assert [f.name for f in s] == [name for name, _ in expected]
        assert all(s.field(name).type == t for name, t in expected), [(f.name, f.type) for f in s]
    t = pq.read_table(parts[0])
    row = t.to_pylist()[0]
    assert json.loads(row["settings"])["frames"] == 4 and row["model"].startswith("dfdemo/")


def test_running_again_scans_nothing_and_adds_no_row(first_run, corpus_dir):
    before = sorted(p.name for p in (first_run / "parts").iterdir())
    s = corpus.run([str(corpus_dir)], first_run, Settings(frames=4, heatmaps=0), workers=2, progress=False)
    assert (s.scanned, s.duplicates, s.errors, s.already_done, s.startup_s) == (0, 0, 0, 8, 0.0)  # Ray not even started
    assert sorted(p.name for p in (first_run / "parts").iterdir()) == before
    # another setting is another key: the same files would be scanned again (not run here)


@pytest.mark.slow  # Ray starts (a cluster, a restarted worker) take most of its time
def test_a_run_that_stops_resumes_without_a_row_twice(corpus_dir, tiny_weights, tmp_path, monkeypatch):
    out = tmp_path / "out"

    def run():
        return corpus.run([str(corpus_dir)], out, Settings(frames=4, heatmaps=0), weights=str(tiny_weights), workers=2,
                          progress=False)

    monkeypatch.setenv(corpus.STOP_AFTER_ENV, "2")  # the run is stopped after 2 scanned files (Ctrl-C, a kill)
    with pytest.raises(DfdemoError, match="STOP_AFTER: stopping the run after 2 file"):
        run()
    monkeypatch.delenv(corpus.STOP_AFTER_ENV)
    first = _rows(out)
    assert {"broken.mp4", "empty.jpg"} <= set(first)  # rows made before the scan are written too
    done_before = {n for n in first if n in SCANNED}
    assert len(done_before) == 2
    s = run()
    rows = _rows(out)  # asserts no file twice
    assert set(rows) == {*SCANNED, "copy.png", "broken.mp4", "empty.jpg"}
    assert s.scanned == len(SCANNED) - len(done_before) and s.already_done == len(first)
    assert all(rows[n] == first[n] for n in first)  # the finished rows are kept as they were


@pytest.mark.slow  # Ray starts (a cluster, a restarted worker) take most of its time
def test_a_file_that_kills_its_worker_is_retried_then_marked(tiny_weights, tmp_path, monkeypatch):
    d = tmp_path / "in"
    d.mkdir()
    _png(d / "astronaut.png", astronaut())
    img = astronaut().copy()
    img[0, 0] = 0
    _png(d / "crashme.png", img)
    monkeypatch.setenv(corpus.CRASH_ON_ENV, "crashme")  # the worker dies (os._exit) on that file, as in a segfault
    s = corpus.run([str(d)], tmp_path / "out", Settings(frames=4, heatmaps=0), weights=str(tiny_weights), workers=1,
                   tries=2, progress=False)
    rows = _rows(tmp_path / "out")
    assert rows["crashme.png"]["error"].endswith("the worker died 2 times while analysing this file (out of memory or a "
                                                 "decoder crash); not tried again")
    assert rows["crashme.png"]["attempts"] == 3 and rows["astronaut.png"]["error"] is None
    assert (s.scanned, s.errors) == (2, 1)


@pytest.mark.slow  # Ray starts (a cluster, a restarted worker) take most of its time
def test_a_two_node_cluster_gives_the_same_rows_from_both_nodes(first_run, corpus_dir, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "object_store_memory": 100 * 2**20})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=100 * 2**20)
        cluster.wait_for_nodes()
        out = tmp_path / "cluster"
        code = cli.main(["corpus", str(corpus_dir), "--out", str(out), "--frames", "4", "--workers", "2",
                         "--address", cluster.address])
        assert code == 0
    finally:
        cluster.shutdown()
    rows, local = _rows(out), _rows(first_run)
    assert set(rows) == set(local)
    assert len({r["node_id"] for r in rows.values() if r["node_id"]}) == 2, "every row came from one node"
    for name, row in rows.items():
        for k in ("verdict", "kind", "faces", "error", "sha256", "duplicate_of", "synthesis_verdict"):
            assert row[k] == local[name][k], (name, k)
        if row["fake_probability"] is not None:
            assert row["fake_probability"] == pytest.approx(local[name]["fake_probability"], abs=TOL)


def test_listing_finds_media_by_their_first_bytes_and_reads_lists(corpus_dir, tmp_path):
    walked, listed = corpus.list_inputs([str(corpus_dir)])
    assert listed == [] and {Path(p).name for p in walked} >= {"flipped.dat", "notes.txt"}
    found = {Path(f["path"]).name: f for f in map(corpus.identify, walked)}
    assert (found["flipped.dat"]["kind"], found["flipped.dat"]["ext"]) == ("image", ".jpg")
    assert found["clip.mp4"]["kind"] == "video" and found["notes.txt"]["kind"] is None
    assert corpus.sniff(b"BM" + b"\x00" * 20) is None  # "BM" alone is not a bitmap
    (tmp_path / "list.csv").write_text(f"id,path\n1,{corpus_dir / 'clip.mp4'}\n2,missing.mp4\n")
    _, listed = corpus.list_inputs([str(tmp_path / "list.csv")])
    assert listed == [str(corpus_dir / "clip.mp4"), str(tmp_path / "missing.mp4")]
    assert corpus.identify(listed[1])["error"].endswith("missing.mp4: file not found")
    walked, _ = corpus.list_inputs([str(corpus_dir)], glob="*.png")
    assert {Path(p).name for p in walked} == {"astronaut.png", "copy.png", "noface.png"}


def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().endswith("nowhere: not found (give a folder, a text/CSV list of paths, or a video or photo)")
    assert cli.main(["corpus", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit):
        cli.main(["corpus", str(tmp_path), "--out", str(tmp_path / "o"), "--frames", "0"])  # scan's own check
    assert "--frames must be at least 1" in capsys.readouterr().err
