"""dfdemo in the browser: upload a clip or a photo, get a verdict, a timeline, heatmaps and words.

Only wiring lives here: ``dfdemo.Analyzer`` does the analysis, ``dfdemo.words`` the plain-language
text; this file turns a ``Report`` into Gradio components. Run ``python app.py``; Gradio reads
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself. dfdemo's own settings (see README, "App"):

DFDEMO_WEIGHTS          weights folder or Hub repo id used for "bundled" (default: weights/detector)
DFDEMO_MAX_UPLOAD_MB    largest upload accepted, in MB (default 200)
DFDEMO_MAX_DURATION_S   longest video accepted, in seconds (default 600)
DFDEMO_CONCURRENCY      analyses running at once (default 1); the others wait in the queue
DFDEMO_QUEUE_SIZE       requests that may wait in the queue (default 32)
DFDEMO_EXAMPLES_DIR     where the example files are built on first run (default ~/.cache/dfdemo/examples)
DFDEMO_HUB_WEIGHTS      1 (default): visitors may name Hub weights in Settings; 0: bundled weights only
DFDEMO_UPLOAD_GRACE_S   an upload no request waits for is deleted after this many seconds (default 60)

Privacy and disk: a page's upload stays on the server while it is selected, so Settings can be
changed and the file analysed again; it is deleted when the page chooses another file, clears the
upload box or is closed (an /analyze upload as soon as its analysis ends, also on error or cancel);
one whose analysis never starts (queue full, cancelled while waiting, never asked for) is deleted
after DFDEMO_UPLOAD_GRACE_S. The images and the JSON report of a browser session live in one
folder, replaced by the session's next analysis and removed when the tab is closed.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import replace
from pathlib import Path

import cv2
import gradio as gr
from gradio.exceptions import InvalidPathError

from dfdemo import Analysis, Analyzer, DfdemoError, Report, Settings
from dfdemo.detector import DetectorConfig, load_config, resolve_weights
from dfdemo.examples import build_examples
from dfdemo.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from dfdemo.page import (FACE_COLUMNS, HEATMAP_COLUMNS, colour_bar, faces_rows, heatmap_items, heatmap_rows,
                         message_card, timeline_figure, verdict_card)
from dfdemo.words import face_label, how_it_works, plain_words

log = logging.getLogger("dfdemo.app")

MAX_UPLOAD_MB = float(os.environ.get("DFDEMO_MAX_UPLOAD_MB", "200"))
MAX_DURATION_S = float(os.environ.get("DFDEMO_MAX_DURATION_S", "600"))
CONCURRENCY = max(1, int(os.environ.get("DFDEMO_CONCURRENCY", "1")))
QUEUE_SIZE = max(1, int(os.environ.get("DFDEMO_QUEUE_SIZE", "32")))
HUB_WEIGHTS = os.environ.get("DFDEMO_HUB_WEIGHTS", "1") != "0"
UPLOAD_GRACE_S = max(1.0, float(os.environ.get("DFDEMO_UPLOAD_GRACE_S", "60")))
DEFAULTS = Settings(max_duration_s=MAX_DURATION_S)  # frames=32, heatmaps=4, calibrated threshold
MAX_LOADED_WEIGHTS = 3  # analyzers kept in memory (one per weights source)
SESSION_MAX_AGE_S = 3 * 3600  # result folders of sessions that never said goodbye
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


# ---------------------------------------------------------------- models, loaded once per process
class _Models:
    """Analyzers by weights source, loaded on first use. Each has a lock: Grad-CAM puts hooks on
    the shared model, so two analyses on the same weights take turns."""

    def __init__(self, size: int = MAX_LOADED_WEIGHTS):
        self.size = size
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str | None, tuple[Analyzer, threading.Lock]] = OrderedDict()

    def get(self, weights: str | None) -> tuple[Analyzer, threading.Lock]:
        with self._lock:
            if weights not in self._loaded:
                self._loaded[weights] = (Analyzer.load(weights), threading.Lock())
                while len(self._loaded) > self.size:
                    _, (old, old_lock) = self._loaded.popitem(last=False)
                    with old_lock:
                        old.close()
            self._loaded.move_to_end(weights)
            return self._loaded[weights]


MODELS = _Models()


def warm_up() -> None:
    """Load the default weights and run one small analysis (an example clip, 2 frames, 1 heatmap),
    so that the first visitor does not pay for the first forward and Grad-CAM passes."""
    t = time.perf_counter()
    try:
        analyzer, lock = MODELS.get(None)
        clip = next((p for p in build_examples() if p.suffix == ".mp4"), None)
        if clip is not None:
            with lock:
                analyzer.analyze(clip, replace(DEFAULTS, frames=2, heatmaps=1, temporal=False))
    except Exception as e:  # the app still starts; the first visitor waits for the load instead
        log.warning("warm-up failed: %s", e)
    log.info("warm-up took %.1f s", time.perf_counter() - t)


def weights_source(text: str | None) -> str | None:
    """'bundled' (or empty) → None (= $DFDEMO_WEIGHTS, then weights/detector); else a Hub repo id.
    Visitors may not name server folders."""
    text = (text or "").strip()
    if text.lower() in ("", "bundled"):
        return None
    if not HUB_WEIGHTS:
        raise gr.Error("This server runs its bundled weights only (DFDEMO_HUB_WEIGHTS=0).", print_exception=False)
    if not HUB_ID.match(text) or ".." in text:
        raise gr.Error(f"Weights must be 'bundled' or a Hugging Face Hub repo id such as owner/name "
                       f"(optionally owner/name@revision), not {text!r}.", print_exception=False)
    return text


# ---------------------------------------------------------------- temporary files
# Gradio stores an upload at <upload folder>/<content hash>/<name>: visitors who send the same
# file share one copy. A copy is deleted when no request needs it any more: not one running
# (counted here), not one waiting in the queue or starting (read from Gradio's queue).
_uploads_lock = threading.Lock()
_uploads_in_use: Counter[str] = Counter()
_upload_taken: dict[str, tuple[int, int] | None] = {}  # path → (inode, ctime) of the copy analysed
HASH_DIR = re.compile(r"[0-9a-f]{32,128}")  # Gradio's folder per upload content


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


def _hold_upload(path: str) -> str:
    path = os.path.abspath(path)
    with _uploads_lock:
        _uploads_in_use[path] += 1
        _upload_taken[path] = _file_id(path)
    return path


def _is_upload(path: str) -> bool:
    """True for a file that came through Gradio's /upload (False for the cached examples)."""
    return path in getattr(demo, "upload_file_set", set())


def _queued_files() -> tuple[Counter[str], Counter[str]]:
    """How many requests name each file: (waiting in Gradio's queue, taken from it and running)."""
    q = getattr(demo, "_queue", None)
    waiting, active = [], []
    for _ in range(5):  # the event loop's thread changes these lists: try again
        try:
            waiting = [e for eq in list(q.event_queue_per_concurrency_id.values()) for e in list(eq.queue)]
            active = [e for job in list(q.active_jobs) if job for e in list(job)]
            break
        except (AttributeError, RuntimeError):
            continue

    def paths(x, out: set) -> set:
        if isinstance(x, dict):
            if isinstance(x.get("path"), str):
                out.add(os.path.abspath(x["path"]))
            for v in x.values():
                paths(v, out)
        elif isinstance(x, (list, tuple)):
            for v in x:
                paths(v, out)
        return out

    def count(events) -> Counter[str]:
        return Counter(p for e in events for p in paths(getattr(e.data, "data", None), set()))

    return count(waiting), count(active)


def _delete_upload(path: str) -> None:
    """Delete an upload and its content-hash folder when empty (caller holds _uploads_lock)."""
    demo.upload_file_set.discard(path)
    _upload_taken.pop(path, None)
    p = Path(path)
    p.unlink(missing_ok=True)
    try:
        p.parent.rmdir()
    except OSError:
        pass  # not empty (another file) or already gone


def _release_upload(path: str) -> None:
    """Delete Gradio's copy of an upload when no request needs it any more: none running, none
    waiting in the queue, and no new upload of the same file since this one took it (that
    visitor's request is on its way). What is left is deleted by ``sweep_uploads``.

    Only files that came through Gradio's /upload are removed (not the cached examples)."""
    waiting, active = _queued_files()
    with _uploads_lock:
        _uploads_in_use[path] -= 1
        if _uploads_in_use[path] > 0:
            return
        del _uploads_in_use[path]
        taken = _upload_taken.pop(path, None)
        if not _is_upload(path) or waiting[path] or active[path] > 1 or _file_id(path) != taken:
            return
        _delete_upload(path)


def sweep_uploads(grace_s: float = UPLOAD_GRACE_S) -> None:
    """Delete what uploads leave when no analysis of them comes: files refused by a full queue,
    cancelled while waiting or never asked for; Gradio's temporary file of an upload it refused
    (a name such as '..'), and empty content-hash folders. Only what is older than ``grace_s``
    and that no request names: an upload is followed by its request within moments."""
    root = Path(gr.utils.get_upload_folder())
    if not root.is_dir():
        return
    waiting, active = _queued_files()
    now = time.time()

    def old(p: Path) -> bool:
        try:
            return now - p.lstat().st_ctime > grace_s
        except OSError:
            return False

    with _uploads_lock:
        for _ in range(5):
            try:
                uploads = list(demo.upload_file_set)
                break
            except RuntimeError:  # added to meanwhile
                uploads = []
        for path in uploads:
            if not (_uploads_in_use[path] or waiting[path] or active[path]) and old(Path(path)):
                log.info("deleting an upload no request asked for: %s", Path(path).name)
                _delete_upload(path)
        for p in root.iterdir():
            if p.is_file() and p.name.startswith("tmp") and old(p):  # an upload Gradio refused or a client dropped
                p.unlink(missing_ok=True)
            elif p.is_dir() and HASH_DIR.fullmatch(p.name) and old(p):
                try:
                    p.rmdir()
                except OSError:
                    pass  # not empty


def _sweep_uploads_forever() -> None:
    while True:
        time.sleep(max(0.5, min(30.0, UPLOAD_GRACE_S / 2)))
        try:
            sweep_uploads()
        except Exception:  # never let the sweeper die
            log.exception("sweeping uploads failed")


def refuse_paths_not_uploaded(blocks: gr.Blocks) -> gr.Blocks:
    """A request that names a server file instead of uploading one is refused by Gradio with an
    exception that reaches the client as ``{"error": null}`` and the log as a traceback; here
    it becomes one line for each."""
    process_api = blocks.process_api

    async def process_api_checked(*args, **kwargs):
        try:
            return await process_api(*args, **kwargs)
        except InvalidPathError as e:
            log.warning("refused a request: %s", str(e).splitlines()[0] if str(e) else "a file that was not uploaded")
            raise gr.Error("Send the file itself (gradio_client's handle_file uploads it): a path on the server "
                           "is not accepted.", print_exception=False) from None

    blocks.process_api = process_api_checked
    return blocks


def without_stray_temp_file(component: gr.File) -> gr.File:
    """gradio 6.31's ``File._process_single_file`` creates an empty temp file in the cache on every
    request and never deletes it; this component hands the upload's path on without it (same
    file-type check). Patched on the instance: a ``gr.File`` subclass would make gradio write an
    ``app.pyi`` stub beside this file."""

    def process(f):
        if component.file_types and not gr.utils.client_utils.is_valid_file(f.path, component.file_types):
            raise gr.Error(f"Unsupported file type: use one of {', '.join(component.file_types)}.",
                           print_exception=False)
        return gr.utils.NamedString(f.path)

    component._process_single_file = process
    return component


_kept_lock = threading.Lock()
_kept: dict[str, str] = {}  # session → its selected upload, kept for re-runs with other Settings


def _keep_upload(session: str, path: str) -> None:
    """Keep the session's selected upload on the server until it selects another file, clears
    the box or closes the tab (the file it replaces is released now)."""
    path = os.path.abspath(path)
    with _kept_lock:
        old = _kept.get(session)
        if old == path:
            return
        _kept[session] = _hold_upload(path)
    if old:
        _release_upload(old)


def _forget_upload(session: str) -> None:
    with _kept_lock:
        old = _kept.pop(session, None)
    if old:
        _release_upload(old)


def _results_root() -> Path:
    # inside Gradio's upload folder, so results are served without a second copy
    return Path(gr.utils.get_upload_folder()) / "dfdemo-results"


def _session_dir(request: gr.Request | None) -> Path:
    session = re.sub(r"[^A-Za-z0-9_-]", "", (request.session_hash if request else None) or "")[:64]
    return _results_root() / (session or "anonymous")


def _new_request_dir(request: gr.Request | None) -> Path:
    """A fresh folder for this request's images and report (folders of sessions idle for hours
    are removed on the way)."""
    root = _results_root()
    if root.is_dir():
        now = time.time()
        for d in root.iterdir():
            try:
                if now - d.stat().st_mtime > SESSION_MAX_AGE_S:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:  # removed meanwhile by its session's end
                pass
    d = _session_dir(request) / uuid.uuid4().hex[:12]
    d.mkdir(parents=True)
    return d


def _keep_only(out_dir: Path) -> None:
    """The session's new results replace its previous ones (kept until then, so that a failed
    analysis leaves the page's previous results working)."""
    for d in out_dir.parent.iterdir():
        if d != out_dir:
            shutil.rmtree(d, ignore_errors=True)


def end_session(request: gr.Request) -> None:
    """Tab closed: remove the session's result folder and its kept upload."""
    shutil.rmtree(_session_dir(request), ignore_errors=True)
    _forget_upload(request.session_hash or "")
    _last_error.pop(request.session_hash or "", None)


# ---------------------------------------------------------------- cancellation
class _Cancelled(Exception):
    pass


_cancel_flags: dict[str, threading.Event] = {}


def request_cancel(request: gr.Request):
    """The Cancel button: Gradio cannot stop a running thread, so the analysis checks this flag
    at every progress step and stops there."""
    flag = _cancel_flags.get(request.session_hash or "")
    if flag is None:  # nothing running: keep the verdict shown
        return gr.skip()
    flag.set()
    return CANCELLED


# ---------------------------------------------------------------- analysis (the library does the work)
def _plain_error(e: Exception, path: str) -> str:
    """The library's message, without the server's temp path."""
    return str(e).replace(path, Path(path).name).replace(str(Path(path).parent) + os.sep, "")


def _analyse(path: str, settings: Settings, weights: str | None, progress, cancel: threading.Event | None) -> Analysis:
    def step(fraction: float, message: str) -> None:
        if cancel is not None and cancel.is_set():
            raise _Cancelled()
        progress(fraction, desc=message)

    try:
        step(0.0, "loading the detector")
        analyzer, lock = MODELS.get(weights)
        step(0.0, "waiting for the detector")
        with lock:
            return analyzer.analyze(path, settings, progress=step)
    except (_Cancelled, gr.Error):
        raise
    except DfdemoError as e:
        raise gr.Error(_plain_error(e, path), print_exception=False) from None
    except Exception:  # a bug or a decoder crash: logged here, a plain message there
        log.exception("analysis of %s failed", path)
        raise gr.Error(f"{Path(path).name} could not be analysed (unexpected error, logged on the server). "
                       "Try another file or format.", print_exception=False) from None


def public_report(report: Report) -> Report:
    """The report without server paths: the file and the heatmap images by name only."""
    heatmaps = [replace(h, overlay_path=Path(h.overlay_path).name if h.overlay_path else None,
                        learned_map_path=Path(h.learned_map_path).name if h.learned_map_path else None)
                for h in report.heatmaps]
    return replace(report, file=Path(report.file).name, heatmaps=heatmaps)


def analyze_api(file: str | None, progress=gr.Progress()) -> dict:
    """Analyse one video or photo with the default settings; returns the JSON report
    (the schema of ``python -m dfdemo scan --json``)."""
    if not file:
        raise gr.Error("Send one video or photo.", print_exception=False)
    path = _hold_upload(file)
    try:
        return public_report(_analyse(path, DEFAULTS, None, progress, None).report).to_dict()
    finally:
        _release_upload(path)


# ---------------------------------------------------------------- Report → components
def bundled_config() -> DetectorConfig | None:
    """The default weights' config.json (read without loading the weights), or None if unreadable."""
    try:
        return load_config(resolve_weights(weights_source("bundled")))
    except DfdemoError:
        return None


def cleared() -> tuple:
    """The result area emptied (a new file, a new run, or an error: never a stale verdict)."""
    hidden = dict(value=None, visible=False)
    return (PLACEHOLDER, "", gr.Plot(value=None, visible=False), gr.HTML(visible=False), gr.Gallery(**hidden), gr.Dataframe(**hidden),
            gr.Dataframe(**hidden), gr.Gallery(**hidden), gr.DownloadButton(visible=False))


_last_error: dict[str, str] = {}  # session → the message of its failed analysis, for the card


def show_failure(request: gr.Request) -> str:
    """After a failed analysis: the error stays in the card (the toast fades)."""
    message = _last_error.pop((request.session_hash if request else None) or "", None)
    return message_card(message, "error") if message else gr.skip()


def forget_upload(request: gr.Request) -> tuple:
    """The upload box was cleared: delete the kept upload and the result shown for it."""
    _forget_upload((request.session_hash if request else None) or "")
    return cleared()


def analyze_ui(file, frames, heatmaps, calibrated, threshold, weights, temporal, request: gr.Request, progress=gr.Progress()):
    """The Analyse button, an upload, or an example: everything the page shows."""
    session = (request.session_hash if request else None) or ""
    try:
        if not file:
            raise gr.Error("Choose a video or a photo first (or click an example).", print_exception=False)
        if not Path(file).is_file():
            raise gr.Error(f"{Path(file).name} is no longer on the server: upload it again.", print_exception=False)
    except gr.Error as e:
        _last_error[session] = e.message
        raise
    _keep_upload(session, file)  # stays selected and on the server for re-runs
    cancel = _cancel_flags[session] = threading.Event()
    path = _hold_upload(file)
    out_dir = None
    try:
        source = weights_source(weights)
        out_dir = _new_request_dir(request)
        settings = replace(DEFAULTS, frames=int(frames), heatmaps=int(heatmaps),
                           threshold=None if calibrated else float(threshold), heatmap_dir=str(out_dir),
                           temporal=bool(temporal))
        analysis = _analyse(path, settings, source, progress, cancel)
        report = public_report(analysis.report)
        json_path = out_dir / f"{Path(report.file).stem}_report.json"
        json_path.write_text(report.to_json() + "\n")
        crops = []
        for f in report.faces:
            thumb = analysis.face_thumbnails.get(f.track_id)
            if thumb is not None:
                crop_path = out_dir / f"face{f.track_id + 1}.png"
                cv2.imwrite(str(crop_path), cv2.cvtColor(thumb, cv2.COLOR_RGB2BGR))
                crops.append((str(crop_path), f"{face_label(f.track_id)} · p {f.fake_probability:.2f}"))
        several = len(report.faces) > 1
        heat, timeline = heatmap_items(report, out_dir), timeline_figure(report)
        _keep_only(out_dir)
        note = ("Your upload stays on this server while it is selected (to re-run with other Settings); it is "
                "deleted when you choose another file or close the tab.") if _is_upload(path) else None
        return (
            verdict_card(report, note),
            plain_words(report),
            gr.Plot(value=timeline, visible=timeline is not None),
            gr.HTML(visible=bool(heat)),
            gr.Gallery(value=heat, visible=bool(heat)),
            gr.Dataframe(value=heatmap_rows(report), visible=bool(heat)),
            gr.Dataframe(value=faces_rows(report), visible=several),
            gr.Gallery(value=crops, visible=several),
            gr.DownloadButton(value=str(json_path), visible=True),
        )
    except BaseException as e:
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(e, _Cancelled):
            raise gr.Error("Analysis cancelled.", print_exception=False) from None
        if isinstance(e, gr.Error):
            _last_error[session] = e.message
        raise
    finally:
        _release_upload(path)
        if _cancel_flags.get(session) is cancel:
            del _cancel_flags[session]


# ---------------------------------------------------------------- layout and events
def _examples() -> list[list[str]]:
    try:
        return [[str(p)] for p in build_examples()]
    except Exception:  # the app still works without examples
        log.exception("cannot build the example files")
        return []


INTRO = """# dfdemo: is this face a deepfake?
Upload a short video or a photo. dfdemo finds each face, scores it with a detector trained to spot the traces
that blending a face into a picture leaves, and shows **where** in the face the evidence is. It runs on a CPU;
an analysis takes a few seconds."""
PLACEHOLDER = message_card("The result appears here.")
CANCELLED = message_card("Analysis cancelled. The file is still selected: press Analyse to run it again.")
FILE_TYPES = list(VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)

BUNDLED = bundled_config()  # read once: the Settings default and the How it works numbers

with gr.Blocks(title="dfdemo: explainable deepfake detection", delete_cache=(1800, 3600),
               analytics_enabled=False) as demo:  # no calls home: the app runs offline
    gr.Markdown(INTRO)
    with gr.Tabs():
        with gr.Tab("Analyse"):
            with gr.Row():
                with gr.Column(scale=2, min_width=300):
                    file_in = without_stray_temp_file(
                        gr.File(label="Video or photo", file_types=FILE_TYPES, elem_id="upload"))
                    with gr.Row():
                        run_btn = gr.Button("Analyse", variant="primary", elem_id="analyse")
                        cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel")
                    examples = gr.Examples(_examples(), inputs=[file_in], label="Examples (made offline from a photo)",
                                           api_visibility="private")
                    with gr.Accordion("Settings", open=False):
                        frames_in = gr.Slider(1, 64, value=DEFAULTS.frames, step=1, elem_id="frames",
                                              label="Frames to sample from a video")
                        heatmaps_in = gr.Slider(0, 12, value=DEFAULTS.heatmaps, step=1, label="Heatmaps to compute",
                                                info="the most suspicious face crops, at least one per face")
                        calibrated_in = gr.Checkbox(value=True, label="Use the threshold calibrated with the weights")
                        threshold_in = gr.Slider(0.05, 0.95, value=0.5, step=0.01, label="Threshold",
                                                 info="used when the box above is unticked")
                        weights_in = gr.Textbox(value="bundled", label="Weights",
                                                info="'bundled', or a Hugging Face Hub repo id (owner/name[@revision])")
                        temporal_in = gr.Checkbox(value=bool(BUNDLED and BUNDLED.temporal.get("default_on")), elem_id="temporal",
                                                  label="Temporal check: also read short runs of consecutive frames",
                                                  info="for weights with a temporal head; checks whether the face "
                                                       "flickers or drifts from frame to frame (slower)")
                with gr.Column(scale=3):
                    verdict_out = gr.HTML(PLACEHOLDER, elem_id="verdict")
                    gr.Markdown("### In plain words")
                    words_out = gr.Markdown(elem_id="words")
                    timeline_out = gr.Plot(label="Timeline", show_label=False, elem_id="timeline", visible=False)
                    bar_out = gr.HTML(colour_bar(), visible=False, elem_id="colour-bar-box")
                    heat_out = gr.Gallery(label="Heatmaps, a pair per row: Grad-CAM (what drove the score) and the "
                                                "learned map of the same crop (where the model thinks blending happened)",
                                          elem_id="heatmaps", columns=2, height="auto", object_fit="contain",
                                          allow_preview=True, visible=False)
                    heat_table = gr.Dataframe(headers=HEATMAP_COLUMNS, label="Heatmap details", visible=False,
                                              interactive=False, wrap=True, elem_id="heatmap-details",
                                              column_widths=["12%", "10%", "12%", "33%", "33%"])
                    faces_table = gr.Dataframe(headers=FACE_COLUMNS, label="Faces", visible=False, interactive=False,
                                               wrap=True, elem_id="faces", column_widths=["11%", "10%", "12%", "15%", "52%"])
                    faces_gallery = gr.Gallery(label="Face crops", visible=False, columns=4, height="auto",
                                               object_fit="contain", elem_id="face-crops")
                    download_out = gr.DownloadButton("Download the JSON report", visible=False, elem_id="download")
        with gr.Tab("How it works"):
            gr.Markdown(how_it_works(BUNDLED.extra.get("faithfulness") if BUNDLED else None, BUNDLED.extra if BUNDLED else None))

    # the API: one file in, the JSON report out (hidden components, named endpoint)
    api_file = without_stray_temp_file(gr.File(visible=False))
    api_json = gr.JSON(visible=False)
    api_btn = gr.Button(visible=False)
    api_btn.click(analyze_api, inputs=api_file, outputs=api_json, api_name="analyze", concurrency_id="analysis")

    ui_inputs = [file_in, frames_in, heatmaps_in, calibrated_in, threshold_in, weights_in, temporal_in]
    ui_outputs = [verdict_out, words_out, timeline_out, bar_out, heat_out, heat_table, faces_table, faces_gallery,
                  download_out]
    runs = []
    for trigger in (file_in.upload, run_btn.click, examples.load_input_event.then):
        # the previous result goes at once, before the analysis waits in the queue
        run = trigger(cleared, None, ui_outputs, queue=False, api_visibility="private").then(
            analyze_ui, ui_inputs, ui_outputs, api_visibility="private", concurrency_id="analysis",
            show_progress_on=[verdict_out])
        run.failure(show_failure, None, verdict_out, queue=False, api_visibility="private")
        runs.append(run)
    file_in.clear(forget_upload, None, ui_outputs, queue=False, api_visibility="private")
    cancel_btn.click(request_cancel, None, verdict_out, cancels=runs, queue=False, api_visibility="private")
    demo.unload(end_session)

demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
refuse_paths_not_uploaded(demo)
# galleries as tall as their rows (every heatmap pair visible, no inner scrollbar)
CSS = "#heatmaps .grid-wrap, #face-crops .grid-wrap {max-height: none !important; overflow-y: visible !important}"
LAUNCH = {"max_file_size": f"{MAX_UPLOAD_MB:g}mb", "show_error": False, "css": CSS}

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    warm_up()  # before the first visitor: load the weights and run one small analysis
    threading.Thread(target=_sweep_uploads_forever, name="dfdemo-upload-sweeper", daemon=True).start()
    demo.launch(**LAUNCH)
