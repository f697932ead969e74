"""Scan a whole corpus on Ray Data: ``python -m dfdemo corpus INPUT --out OUT``.

The same analysis as ``scan``, over thousands of files, on this machine (a local Ray started
here) or on an existing cluster (``--address`` / ``$RAY_ADDRESS``):

1. **list** (driver): a folder is walked recursively; a file is a candidate when its first bytes
   are a format dfdemo reads (``sniff``) or its name says it is one (then a row says it is not);
   a text/CSV file lists paths (one a line, or a ``path`` column).
2. **identify** (driver, threads): size, mtime, first bytes, sha256. A path whose row already
   exists with the same size and mtime is skipped unread.
3. **plan**: a file is scanned once per key (sha256, model id, settings): a key that has a row
   (this run or an earlier one) gives a duplicate row that points at the scanned path.
4. **scan** (Ray Data): ``map_batches`` with ``CorpusWorker``, an actor that loads the
   ``Analyzer`` once and analyses one file per call. Bad files are rows with their error; a
   worker that dies (memory, a decoder crash) is restarted by Ray and the call retried, and a
   file that killed it ``tries`` times gets an error row instead of another try.
5. **write** (driver): each file's JSON report (``Report.to_json``: the ``scan --json`` schema)
   as soon as it arrives, rows in Parquet parts (``parts/part-RUN-NNNNN.parquet``, written to a
   temporary name and renamed) every ``FLUSH_ROWS`` rows or ``FLUSH_S`` seconds, and at the end or
   when the run stops. The parts are the index: re-running the same command reads them and skips
   what is done, so a killed run loses at most the rows of its last few seconds.

Ray, pyarrow and tqdm are imported here only when a corpus runs (``pip install .[corpus]``).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePath

from .errors import DfdemoError
from .media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .report import CHECK_LABELS

FLUSH_ROWS = 64  # a part is written after this many rows ...
FLUSH_S = 10.0  # ... or this many seconds, whichever comes first
HEAD_BYTES = 64
WORKERS_START_S = 600  # a cluster that cannot start --workers workers in this time: one line, exit 2
MAX_TRIES = 3  # a file that kills its worker this many times gets an error row
# test hooks (never set in normal use), read by the driver: the driver stops after N rows of
# scanned files (a run killed half-way); a worker dies (os._exit, as a decoder segfault would)
# on every file whose path contains the text
STOP_AFTER_ENV = "DFDEMO_CORPUS_STOP_AFTER"
CRASH_ON_ENV = "DFDEMO_CORPUS_CRASH_ON"


def schema():
    """The Parquet table's columns and types (one row per file): stable, tested."""
    import pyarrow as pa

    checks = [f for name in CHECK_LABELS for f in (pa.field(f"{name}_probability", pa.float64()),
                                                   pa.field(f"{name}_verdict", pa.string()))]
    return pa.schema([
        pa.field("path", pa.string(), nullable=False), pa.field("sha256", pa.string()),
        pa.field("size_bytes", pa.int64()), pa.field("mtime_ns", pa.int64()), pa.field("kind", pa.string()),
        pa.field("verdict", pa.string()), pa.field("fake_probability", pa.float64()), pa.field("threshold", pa.float64()),
        *checks,
        pa.field("faces", pa.int32()), pa.field("frames_analyzed", pa.int32()), pa.field("frames_with_face", pa.int32()),
        pa.field("notes", pa.list_(pa.string())), pa.field("error", pa.string()),
        pa.field("seconds", pa.float64()), pa.field("timings_s", pa.map_(pa.string(), pa.float64())),
        pa.field("model", pa.string(), nullable=False), pa.field("settings", pa.string(), nullable=False),
        pa.field("config_key", pa.string(), nullable=False), pa.field("report", pa.string()),
        pa.field("duplicate_of", pa.string()), pa.field("node_id", pa.string()), pa.field("attempts", pa.int32()),
        pa.field("worker_peak_rss_mb", pa.float64()), pa.field("finished_at", pa.timestamp("ms", tz="UTC")),
    ])


# ---------------------------------------------------------------- listing and identifying files
def sniff(head: bytes) -> str | None:
    """The extension dfdemo reads a file as, from its first bytes; None when no format matches."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 108, 124):
        return ".bmp"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI "):
        return ".webp" if head[8:12] == b"WEBP" else ".avi"
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # a QuickTime file without ftyp
        return ".mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska or WebM
        return ".webm" if b"webm" in head else ".mkv"
    return None


def _kind(ext: str | None) -> str | None:
    return "image" if ext in IMAGE_EXTENSIONS else "video" if ext in VIDEO_EXTENSIONS else None


def _read_list(path: Path) -> list[str]:
    """Paths named by a text file (one a line, # comments) or a CSV file (its ``path`` column,
    else its first), relative ones taken from the list's folder."""
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".csv":
        rows = [r for r in csv.reader(text.splitlines()) if r and r[0].strip()]
        col = rows[0].index("path") if rows and "path" in rows[0] else 0
        names = [r[col] for r in rows[1 if rows and "path" in rows[0] else 0:] if len(r) > col]
    else:
        names = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [str((path.parent / n.strip()).absolute()) for n in names if n.strip()]


def list_inputs(inputs: list[str], glob: str | None = None, skip: Path | None = None) -> tuple[list[str], list[str]]:
    """(walked, listed): files found in folders (every file: ``identify`` keeps the media) and
    paths named by list files or given directly. ``glob`` filters both (``PurePath.match``:
    ``*.mp4`` matches at any depth); ``skip`` is a folder left out of the walk (the output)."""
    walked, listed = [], []
    for arg in inputs:
        p = Path(arg).expanduser()
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if skip is None or Path(root, d).absolute() != skip)
                walked += [str(Path(root, f).absolute()) for f in sorted(files)]
        elif p.is_file():
            with open(p, "rb") as f:
                media = sniff(f.read(HEAD_BYTES)) is not None or p.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
            listed += [str(p.absolute())] if media else _read_list(p)
        else:
            raise DfdemoError(f"{arg}: not found (give a folder, a text/CSV list of paths, or a video or photo)")
    keep = (lambda s: PurePath(s).match(glob)) if glob else (lambda s: True)
    return [s for s in walked if keep(s)], [s for s in listed if keep(s)]


def identify(path: str) -> dict:
    """Size, mtime, the format by the first bytes (``ext``, ``kind``) and sha256 of one file;
    ``error`` says why not where it cannot be read."""
    out = {"path": path, "size_bytes": None, "mtime_ns": None, "sha256": None, "ext": None, "kind": None, "error": None}
    try:
        st = os.stat(path)
        out.update(size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)
        if not os.path.isfile(path):
            out["error"] = f"{path}: not a file"
            return out
        h = hashlib.sha256()
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            h.update(head)
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        out["error"] = f"{path}: file not found"
        return out
    except OSError as e:
        out["error"] = f"{path}: cannot be read ({(e.strerror or str(e)).lower()})"
        return out
    out["sha256"] = h.hexdigest()
    out["ext"] = sniff(head)
    out["kind"] = _kind(out["ext"])
    if out["kind"] is None:
        out["error"] = (f"{path}: the file is empty" if not head else
                        f"{path}: not a video or photo (its first bytes match no format dfdemo reads)")
    return out


# ---------------------------------------------------------------- the worker (a Ray actor)
class Ledger:
    """How many times each file was started and finished, across worker restarts (a Ray actor
    on the driver's node): started minus finished is how often a file killed its worker."""

    def __init__(self):
        self.started: dict[str, int] = {}
        self.finished: dict[str, int] = {}

    def start(self, key: str) -> int:
        crashes = self.started.get(key, 0) - self.finished.get(key, 0)
        self.started[key] = self.started.get(key, 0) + 1
        return crashes

    def finish(self, key: str) -> None:
        self.finished[key] = self.finished.get(key, 0) + 1


def _row(item: dict, common: dict, report=None, error: str | None = None) -> dict:
    """One Parquet row (``schema()``) for a file and its report or its error."""
    checks = {c.name: c for c in (report.checks if report else [])}
    row = {k: item.get(k) for k in ("path", "sha256", "size_bytes", "mtime_ns", "kind")}
    row.update(common, error=error, finished_at=datetime.now(timezone.utc), report=None)
    for name in CHECK_LABELS:
        row[f"{name}_probability"] = checks[name].fake_probability if name in checks else None
        row[f"{name}_verdict"] = checks[name].verdict if name in checks else None
    if report is not None:
        row.update(kind=report.kind, verdict=report.verdict, fake_probability=report.fake_probability,
                   threshold=report.threshold, faces=len(report.faces), frames_analyzed=report.frames_analyzed,
                   frames_with_face=report.frames_with_face, notes=list(report.notes), report=item.get("report"),
                   seconds=report.timings_s.get("total"), timings_s=dict(report.timings_s))
    return row


class CorpusWorker:
    """Ray Data ``map_batches`` class: loads the ``Analyzer`` once per actor, then analyses one
    file per call and returns its row and JSON report (strings: the driver writes both)."""

    def __init__(self, weights: str, settings: dict, model: str, config_key: str, ledger, tries: int = MAX_TRIES,
                 threads: int = 1, crash_on: str | None = None):
        from .runtime import configure_process

        configure_process(threads)  # before torch loads in this worker process
        import ray

        from .analyzer import Analyzer, Settings

        self.analyzer = Analyzer.load(weights)
        if self.analyzer.model_id != model:
            raise DfdemoError(f"the weights {weights} load as {self.analyzer.model_id} on this node, but as {model} "
                              "where the run started: give every node the same weights")
        self.settings = Settings(**settings)
        self.common = {"model": model, "settings": json.dumps(settings, sort_keys=True), "config_key": config_key,
                       "node_id": ray.get_runtime_context().get_node_id()}
        self.ledger, self.tries, self.crash_on = ledger, tries, crash_on

    def __call__(self, batch: dict) -> dict:
        import ray

        rows, reports = [], []
        for i in range(len(batch["path"])):
            item = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in batch.items()}
            crashes = ray.get(self.ledger.start.remote(item["sha256"]))
            common = {**self.common, "attempts": crashes + 1}
            if crashes >= self.tries:
                row, report = _row(item, common, error=f"{item['path']}: the worker died {crashes} times while analysing "
                                                       "this file (out of memory or a decoder crash); not tried again"), None
            else:
                if self.crash_on and self.crash_on in item["path"]:
                    os._exit(1)
                row, report = self._analyze(item, common)
            ray.get(self.ledger.finish.remote(item["sha256"]))
            rows.append(json.dumps(row, default=str))
            reports.append(report.to_json() if report is not None else "")
        return {"row": rows, "report": reports}

    def _analyze(self, item: dict, common: dict):
        """(row, report or None). A file whose name says another kind than its first bytes is
        analysed through a link with the right suffix (the library reads media by suffix)."""
        path = item["path"]
        if _kind(Path(path).suffix.lower()) == item["kind"]:
            return self._analyze_as(path, item, common)
        with tempfile.TemporaryDirectory(prefix="dfdemo-corpus-") as folder:
            link = os.path.join(folder, f"{item['sha256'][:32]}{item['ext']}")
            os.symlink(path, link)
            return self._analyze_as(link, item, common)

    def _analyze_as(self, target: str, item: dict, common: dict):
        path = item["path"]
        try:
            report = self.analyzer.analyze(target, self.settings).report
        except DfdemoError as e:
            return _row(item, common, error=str(e).replace(target, path)), None
        except OSError as e:
            return _row(item, common, error=f"{path}: {(e.strerror or str(e)).lower()}"), None
        except Exception as e:  # a decoder or model failure on one file must not stop the corpus
            return _row(item, common, error=f"{path}: analysis failed ({type(e).__name__}: {e})"), None
        report = dataclasses.replace(report, file=path)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        return _row(item, {**common, "worker_peak_rss_mb": round(rss, 1)}, report), report


# ---------------------------------------------------------------- output: parts + JSON reports
class PartWriter:
    """Rows into Parquet parts under ``out/parts`` and JSON reports under ``out/reports``.
    Every file is written to a temporary name and renamed: a killed run leaves whole files."""

    def __init__(self, out: Path, run_id: str):
        self.out, self.run_id, self.seq = out, run_id, 0
        self.rows: list[dict] = []
        self.last = time.monotonic()
        (out / "parts").mkdir(parents=True, exist_ok=True)

    def report_path(self, sha256: str, config_key: str) -> str:
        return f"reports/{sha256[:2]}/{sha256}.{config_key}.json"

    def add(self, row: dict, report_json: str = "") -> None:
        if report_json:
            _atomic_write(self.out / row["report"], (report_json + "\n").encode())
        self.rows.append(row)
        if len(self.rows) >= FLUSH_ROWS or time.monotonic() - self.last >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        self.last = time.monotonic()
        if not self.rows:
            return
        buf = io.BytesIO()
        rows = [{**r, "timings_s": list((r.get("timings_s") or {}).items()) or None} for r in self.rows]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema()), buf)
        _atomic_write(self.out / "parts" / f"part-{self.run_id}-{self.seq:05d}.parquet", buf.getvalue())
        self.seq += 1
        self.rows = []


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_table(out: str | os.PathLike):
    """Every row written so far under ``out`` (all parts), as one pyarrow Table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(Path(out, "parts").glob("part-*.parquet"))
    tables = []
    for p in parts:
        t = pq.read_table(p)
        if not t.schema.equals(schema(), check_metadata=False):
            raise DfdemoError(f"{p}: a part with other columns than this version writes; use another --out")
        tables.append(t)
    return pa.concat_tables(tables) if tables else schema().empty_table()


# ---------------------------------------------------------------- the run
@dataclass
class Summary:
    listed: int = 0  # candidate files after listing
    not_media: int = 0  # walked files that are no video or photo (no row)
    already_done: int = 0  # files that had a row from an earlier run
    scanned: int = 0  # files analysed in this run (one per key)
    duplicates: int = 0  # rows that copy the analysis of a file with the same content
    errors: int = 0
    faces: int = 0
    verdicts: dict = dataclasses.field(default_factory=dict)
    startup_s: float = 0.0  # ray.init (0 when nothing was left to scan)
    scan_s: float = 0.0  # from the scan stage's start to its last row
    total_s: float = 0.0
    out: str = ""

    @property
    def files_per_s(self) -> float:
        return self.scanned / self.scan_s if self.scan_s > 0 else 0.0

    def text(self) -> str:
        v = self.verdicts
        return (f"{self.listed} file(s): {self.scanned} scanned, {self.duplicates} duplicate(s), {self.already_done} already "
                f"done, {self.not_media} not media; {self.faces} face(s); called fake {v.get('fake', 0)}, uncertain "
                f"{v.get('uncertain', 0)}, none found {v.get('real', 0)}, no face {v.get('no_face', 0)}, errors {self.errors}; "
                f"{self.files_per_s:.2f} files/s over {self.scan_s:.1f} s (Ray startup {self.startup_s:.1f} s, total "
                f"{self.total_s:.1f} s); table: {self.out}/parts, reports: {self.out}/reports")


def _model_of(weights: str | None) -> tuple[str, str]:
    """(the weights as every worker must name them, the model id) without loading the model."""
    from .config import load_config
    from .weights import ENV_WEIGHTS, resolve_weights

    folder = resolve_weights(weights)
    source = weights or os.environ.get(ENV_WEIGHTS)
    worker_source = str(folder.absolute()) if Path(source or folder).expanduser().is_dir() else source
    return worker_source, load_config(folder).model_id or str(worker_source)


def run(inputs: list[str], out: str | os.PathLike, settings, weights: str | None = None, workers: int | None = None,
        address: str | None = None, glob: str | None = None, tries: int = MAX_TRIES, progress: bool = True) -> Summary:
    """Scan every media file of ``inputs`` with ``settings`` (an ``analyzer.Settings``) into ``out``.
    Raises DfdemoError for bad input or a run that stopped (what was written stays)."""
    t_start = time.perf_counter()
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise DfdemoError(f"{out}: --out must be a folder")
    summary = Summary(out=str(out))
    walked, listed = list_inputs(inputs, glob, skip=out)
    worker_weights, model = _model_of(weights)
    settings_json = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    common = {"model": model, "settings": settings_json,
              "config_key": hashlib.sha256(f"{model}\n{settings_json}".encode()).hexdigest()[:16]}
    table = read_table(out)
    index = _Index.of(table, common["config_key"])
    found = _identify_new(walked, listed, index, summary)
    writer = PartWriter(out, f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}")
    try:
        to_scan, twins = _plan(found, index, table, common, writer, summary)
        if to_scan:
            _scan(to_scan, twins, writer, summary, worker_weights, json.loads(settings_json), common, workers, address,
                  tries, progress)
    finally:
        writer.flush()
        summary.total_s = time.perf_counter() - t_start
    return summary


@dataclass
class _Index:
    """What the table already holds for one configuration."""

    rows: set  # (path, sha256) of every row
    unchanged: set  # (path, size, mtime) of rows of files that were read
    scanned: dict  # sha256 → the path it was scanned (or refused) under

    @classmethod
    def of(cls, table, config_key: str) -> "_Index":
        mine = [r for r in table.select(["path", "sha256", "size_bytes", "mtime_ns", "config_key"]).to_pylist()
                if r["config_key"] == config_key]
        return cls({(r["path"], r["sha256"]) for r in mine},
                   {(r["path"], r["size_bytes"], r["mtime_ns"]) for r in mine if r["sha256"] is not None},
                   {r["sha256"]: r["path"] for r in mine if r["sha256"] is not None})


def _identify_new(walked: list[str], listed: list[str], index: _Index, summary: Summary) -> list[dict]:
    """``identify`` every candidate that the table does not hold with its size and mtime (8
    threads: reading is I/O); walked files that are no media by bytes nor by name are dropped."""
    def fresh(p: str) -> bool:
        try:
            st = os.stat(p)
        except OSError:
            return True
        return (p, st.st_size, st.st_mtime_ns) not in index.unchanged

    candidates = sorted(set(walked) | set(listed))
    todo = [p for p in candidates if fresh(p)]
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(identify, todo))
    from_walk = set(walked) - set(listed)
    kept = [f for f in found if not (f["path"] in from_walk and f["kind"] is None
                                     and Path(f["path"]).suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)]
    summary.not_media = len(found) - len(kept)
    summary.listed = len(candidates) - summary.not_media
    summary.already_done = len(candidates) - len(todo)
    return kept


def _plan(found: list[dict], index: _Index, table, common: dict, writer: PartWriter, summary: Summary):
    """(files to scan, twins): one file per new key is scanned; files that cannot be read get
    their error row now, files whose content an earlier run scanned a copy of that row now;
    twins (sha256 → files) wait for the row of the file of this run with the same content."""
    to_scan, twins = [], {}
    for f in found:
        if (f["path"], f["sha256"]) in index.rows:
            summary.already_done += 1
        elif f["error"]:
            _count(summary, writer, _row(f, common, error=f["error"]))
        elif f["sha256"] in index.scanned:
            twins.setdefault(f["sha256"], []).append(f)
        else:
            index.scanned[f["sha256"]] = f["path"]
            to_scan.append({**f, "report": writer.report_path(f["sha256"], common["config_key"])})
    now = {f["sha256"] for f in to_scan}
    earlier = {sha: twins.pop(sha) for sha in list(twins) if sha not in now}
    if earlier:
        for row in table.filter(_in(table, common["config_key"], list(earlier))).to_pylist():
            for f in earlier.pop(row["sha256"], []):
                _count(summary, writer, _duplicate(row, f))
    return to_scan, twins


def _in(table, config_key: str, shas: list[str]):
    """The rows of files analysed (not copied) with this configuration whose sha256 is in ``shas``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.and_(pc.and_(pc.equal(table["config_key"], config_key), pc.is_null(table["duplicate_of"])),
                   pc.is_in(table["sha256"], value_set=pa.array(shas)))


def _duplicate(row: dict, f: dict) -> dict:
    """The row of ``f``: the analysis of ``row``'s file, which has the same content."""
    dup_of = row.get("duplicate_of") or row["path"]
    return {**row, "path": f["path"], "size_bytes": f["size_bytes"], "mtime_ns": f["mtime_ns"], "duplicate_of": dup_of,
            "finished_at": datetime.now(timezone.utc),
            "timings_s": dict(row["timings_s"]) if isinstance(row["timings_s"], list) else row["timings_s"]}


def _count(summary: Summary, writer: PartWriter, row: dict, report_json: str = "") -> None:
    writer.add(row, report_json)
    if row["error"]:
        summary.errors += 1
    else:
        summary.verdicts[row["verdict"]] = summary.verdicts.get(row["verdict"], 0) + 1
        summary.faces += row["faces"] or 0
    if row.get("duplicate_of"):
        summary.duplicates += 1


def _start_ray(ray, address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``, or start one on this machine with ``workers`` CPUs."""
    import logging

    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
        else:
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, logging_level=logging.WARNING,
                     object_store_memory=256 * 2**20)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise DfdemoError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {e}") from None


def _dataset(ray, items: list[dict], workers: int | None, worker_kwargs: dict):
    """The files as a Ray dataset mapped by a pool of ``CorpusWorker`` actors, one file a call."""
    import logging

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one bar, ours, with the files left and an ETA
    ctx.print_on_execution_start = False
    ctx.wait_for_min_actors_s = WORKERS_START_S  # every worker up before the first file: all of them share the work
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ledger = ray.remote(num_cpus=0)(Ledger).remote()
    blocks = len(items) if len(items) <= 16 * n else math.ceil(len(items) / 4)  # a crash retries one block
    columns = ("path", "sha256", "size_bytes", "mtime_ns", "kind", "ext", "report")
    ds = ray.data.from_items([{k: it[k] for k in columns} for it in items], override_num_blocks=blocks)
    # Ray Data's defaults restart a dead worker and retry its call (max_restarts=-1,
    # max_task_retries=-1); the ledger ends the retries of a file that keeps killing it
    return ds.map_batches(CorpusWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=n), num_cpus=1,
                          batch_format="numpy", fn_constructor_kwargs={**worker_kwargs, "ledger": ledger,
                                                                       "crash_on": os.environ.get(CRASH_ON_ENV) or None})


def _scan(items: list[dict], twins: dict, writer: PartWriter, summary: Summary, weights: str, settings: dict,
          common: dict, workers: int | None, address: str | None, tries: int, progress: bool) -> None:
    """The Ray part: start or join a cluster, stream the rows back, write them as they come."""
    try:
        import ray
        from tqdm import tqdm
    except ImportError as e:
        raise DfdemoError(f"the corpus command needs Ray ({e.name} is missing): pip install '.[corpus]'") from None
    t = time.perf_counter()
    _start_ray(ray, address or os.environ.get("RAY_ADDRESS"), workers)
    try:
        summary.startup_s = time.perf_counter() - t
        ds = _dataset(ray, items, workers, {"weights": weights, "settings": settings, "model": common["model"],
                                            "config_key": common["config_key"], "tries": tries})
        stop_after = int(os.environ[STOP_AFTER_ENV]) if os.environ.get(STOP_AFTER_ENV) else None
        t = time.perf_counter()
        # the batches are closed before Ray is shut down, whatever ends the loop: Ray Data's executor
        # thread must stop first, or it touches a shut-down Ray and Ray ends the whole process
        with tqdm(total=len(items), unit="file", desc="scanning", file=sys.stderr, disable=not progress,
                  mininterval=1.0, smoothing=0.1) as bar, contextlib.closing(iter(ds.iter_batches(batch_size=None, batch_format="numpy"))) as batches:
            for batch in batches:
                for row_json, report_json in zip(batch["row"], batch["report"]):
                    row = json.loads(str(row_json))
                    row["finished_at"] = datetime.fromisoformat(row["finished_at"])
                    _count(summary, writer, row, str(report_json))
                    summary.scanned += 1
                    for f in twins.pop(row["sha256"], []):
                        _count(summary, writer, _duplicate(row, f))
                    bar.update(1)
                    if summary.scanned == stop_after:
                        raise RuntimeError(f"{STOP_AFTER_ENV}: stopping the run after {stop_after} file(s)")
        summary.scan_s = time.perf_counter() - t
    except DfdemoError:
        raise
    except Exception as e:  # a worker that raised, a cluster that went away: what arrived is written
        raise DfdemoError(f"the run stopped after {summary.scanned} file(s): {_first_line(e)}; run the same command "
                          "again to finish (files with a row are skipped)") from None
    finally:
        ray.shutdown()


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    named = [ln for ln in lines if "Error:" in ln and not ln.startswith("Traceback")]
    return (named[-1] if named else lines[0] if lines else type(e).__name__)[:300]
