"""What the web app does besides layout: uploads and session files, analyzers per weights source,
cancellation, and turning an ``Analysis`` into the files and values the page shows.

``app.py`` builds the Gradio page and wires its events to a ``WebApp``; everything here is
plain Python over the library (``Analyzer``, ``words``, ``page``) plus the few places where
Gradio's own objects are read (its upload set and queue, its ``Error`` for the visitor's message).
It lives beside ``app.py``, outside the library: the product library never imports gradio. Settings come from the environment once,
when ``WebSettings.from_env()`` is called (see README, "App"):

DFDEMO_WEIGHTS          weights folder or Hub repo id used for "bundled" (default: weights/detector)
DFDEMO_MAX_UPLOAD_MB    largest upload accepted, in MB (default 200)
DFDEMO_MAX_DURATION_S   longest video accepted, in seconds (default 600)
DFDEMO_CONCURRENCY      analyses running at once (default 1); the others wait in the queue
DFDEMO_QUEUE_SIZE       requests that may wait in the queue (default 32)
DFDEMO_EXAMPLES_DIR     where the example files are built on first use (default ~/.cache/dfdemo/examples)
DFDEMO_VISITOR_WEIGHTS  what visitors may name in Settings → Weights: bundled, any (any Hub repo id) or a
                        list (bundled,owner/a,owner/b@v2); default any, on a Space (SPACE_ID set) bundled only
DFDEMO_WEIGHT_LOADS     visitors' weights loading at once (default 1); a request for more is refused at once
HF_HUB_ETAG_TIMEOUT     seconds a Hub request may wait to connect or for an answer (default 10)
DFDEMO_UPLOAD_GRACE_S   an upload no request waits for is deleted after this many seconds (default 60)

Privacy and disk: a page's upload stays on the server while it is selected, so Settings can be
changed and the file analysed again; it is deleted when the page chooses another file, clears the
upload box or is closed (an /analyze upload as soon as its analysis ends, also on error or cancel);
one whose analysis never starts (queue full, cancelled while waiting, never asked for), and a page's
kept upload that no request has named, is deleted after DFDEMO_UPLOAD_GRACE_S; at shutdown every upload
and result folder is. The images and the JSON report of a browser session live in one
folder, replaced by the session's next analysis and removed when the tab is closed.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections import Counter, OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import cv2
import gradio as gr

from dfdemo.analyzer import MAX_FACES, Analysis, Analyzer, Settings
from dfdemo.config import DetectorConfig, load_config
from dfdemo.detector import resolve_weights
from dfdemo.errors import DfdemoError, WeightsError
from dfdemo.examples import build_examples
from dfdemo.page import face_gallery, faces_rows, heatmap_items, heatmap_rows, timeline_figure, verdict_card
from dfdemo.report import Report
from dfdemo.words import plain_words
from dfdemo.words import UPLOAD_KEPT_NOTE, crop_caption

log = logging.getLogger("dfdemo.app")

PAGE_MAX_FRAMES, PAGE_MAX_HEATMAPS = 64, 12  # the Settings sliders' ranges
SESSION_MAX_AGE_S = 3 * 3600  # result folders of sessions that never said goodbye
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
SEND_A_FILE = 'Send one video or photo as a file (gradio_client: handle_file("clip.mp4"))'
HASH_DIR = re.compile(r"[0-9a-f]{32,128}")  # Gradio's folder per upload content


@dataclass(frozen=True)
class WebSettings:
    """The app's settings (module docstring), read from the environment by ``from_env``."""

    max_upload_mb: float = 200.0
    max_duration_s: float = 600.0
    concurrency: int = 1
    queue_size: int = 32
    visitor_weights: tuple[str, ...] = ("bundled", "any")  # what Settings → Weights may name (``weights_source``)
    max_weight_loads: int = 1  # visitors' weights loading at once
    upload_grace_s: float = 60.0
    max_loaded_weights: int = 3  # analyzers kept in memory (one per weights source)

    @classmethod
    def from_env(cls, env=os.environ) -> "WebSettings":
        return cls(max_upload_mb=float(env.get("DFDEMO_MAX_UPLOAD_MB", "200")),
                   max_duration_s=float(env.get("DFDEMO_MAX_DURATION_S", "600")),
                   concurrency=max(1, int(env.get("DFDEMO_CONCURRENCY", "1"))),
                   queue_size=max(1, int(env.get("DFDEMO_QUEUE_SIZE", "32"))),
                   visitor_weights=visitor_weights(env),
                   max_weight_loads=max(1, int(env.get("DFDEMO_WEIGHT_LOADS", "1"))),
                   upload_grace_s=max(1.0, float(env.get("DFDEMO_UPLOAD_GRACE_S", "60"))))

    @property
    def defaults(self) -> Settings:
        return Settings(max_duration_s=self.max_duration_s)  # frames=32, heatmaps=4, calibrated threshold


class Cancelled(Exception):
    """The visitor pressed Cancel: raised at the analysis's next progress step."""


class AnalyzerPool:
    """Analyzers by weights source, loaded on first use; the least recently used is closed when
    more than ``size`` are loaded, once the analyses using it have ended (the default weights,
    ``None``, are never evicted). An analyzer serves several threads (its locks are inside the
    library). The pool's lock only guards the pool: loading happens outside it, so an analysis
    on loaded weights never waits for another visitor's download. Visitors who ask for the same
    weights share one load; at most ``max_loads`` other weights load at once, and a request over
    that is refused at once with one line."""

    def __init__(self, size: int = 3, max_loads: int = 1):
        self.size = size
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str | None, Analyzer] = OrderedDict()
        self._loading: dict[str | None, Future] = {}  # weights → the load in progress (its waiters share it)
        self._load_slots = threading.BoundedSemaphore(max(1, max_loads))  # loads of visitors' weights at once
        self._users: Counter[int] = Counter()  # id(analyzer) → analyses running on it
        self._evicted: dict[int, Analyzer] = {}

    def _take(self, weights: str | None) -> Analyzer:
        """The loaded analyzer for ``weights``, counted as in use; loaded here (outside the lock) if needed."""
        with self._lock:
            if weights in self._loaded:
                self._loaded.move_to_end(weights)
                analyzer = self._loaded[weights]
                self._users[id(analyzer)] += 1
                return analyzer
            pending, mine = self._loading.get(weights), False
            if pending is None:
                if weights is not None and not self._load_slots.acquire(blocking=False):
                    raise WeightsError("the server is loading other weights for another visitor; try again in a "
                                       "minute, or use the bundled weights")
                pending, mine = self._loading.setdefault(weights, Future()), True
        if mine:
            try:
                pending.set_result(Analyzer.load(weights))
            except BaseException as e:
                pending.set_exception(e)
            finally:
                self._add(weights, pending)
        pending.result()  # raises the load's error for every visitor who waited for it
        return self._take(weights)

    def _add(self, weights: str | None, done: Future) -> None:
        with self._lock:
            del self._loading[weights]
            if weights is not None:
                self._load_slots.release()
            if done.exception() is not None:
                return
            self._loaded[weights] = done.result()
            evictable = [k for k in self._loaded if k is not None]
            while len(self._loaded) > self.size and evictable:
                old = self._loaded.pop(evictable.pop(0))
                self._evicted[id(old)] = old
            self._close_unused()

    def _close_unused(self) -> None:
        """Close evicted analyzers no analysis uses any more (caller holds the lock)."""
        done = [a for k, a in self._evicted.items() if self._users[k] <= 0]
        for a in done:
            del self._evicted[id(a)], self._users[id(a)]
            a.close()

    def close(self) -> None:
        """Close every loaded analyzer (at shutdown)."""
        with self._lock:
            analyzers = [*self._loaded.values(), *self._evicted.values()]
            self._loaded.clear()
            self._evicted.clear()
        for a in analyzers:
            a.close()

    @contextlib.contextmanager
    def use(self, weights: str | None) -> Iterator[Analyzer]:
        analyzer = self._take(weights)
        try:
            yield analyzer
        finally:
            with self._lock:
                self._users[id(analyzer)] -= 1
                self._close_unused()


def public_report(report: Report) -> Report:
    """The report without server paths: the file and the heatmap images by name only."""
    heatmaps = [replace(h, overlay_path=Path(h.overlay_path).name if h.overlay_path else None,
                        learned_map_path=Path(h.learned_map_path).name if h.learned_map_path else None)
                for h in report.heatmaps]
    return replace(report, file=Path(report.file).name, heatmaps=heatmaps)


def plain_error(e: Exception, path: str) -> str:
    """The library's message, without the server's temp path."""
    return str(e).replace(path, Path(path).name).replace(str(Path(path).parent) + os.sep, "")


def write_results(analysis: Analysis, report: Report, out_dir: Path) -> tuple[Path, list[tuple[str, str]]]:
    """The JSON report and one thumbnail per face written into ``out_dir``: (JSON path, [(PNG, caption)])."""
    json_path = out_dir / f"{Path(report.file).stem}_report.json"
    json_path.write_text(report.to_json() + "\n")
    crops = []
    for f in report.faces:
        thumb = analysis.face_thumbnails.get(f.track_id)
        if thumb is not None:
            crop_path = out_dir / f"face{f.track_id + 1}.png"
            cv2.imwrite(str(crop_path), cv2.cvtColor(thumb, cv2.COLOR_RGB2BGR))
            crops.append((str(crop_path), crop_caption(f)))
    return json_path, crops


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


def _paths(x, out: set) -> set:
    if isinstance(x, dict):
        if isinstance(x.get("path"), str):
            out.add(os.path.abspath(x["path"]))
        for v in x.values():
            _paths(v, out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _paths(v, out)
    return out


class Uploads:
    """Gradio stores an upload at <upload folder>/<content hash>/<name>: visitors who send the same
    file share one copy. A copy is deleted when no request needs it any more: not one running
    (counted here), not one waiting in the queue or starting (read from Gradio's queue), and not
    the file a page keeps selected for re-runs."""

    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self.demo: gr.Blocks | None = None  # set by ``WebApp.attach``
        self._lock = threading.Lock()
        self._in_use: Counter[str] = Counter()
        self._taken: dict[str, tuple[int, int] | None] = {}  # path → (inode, ctime) of the copy analysed
        self._named: dict[str, float] = {}  # path → when a request last started or ended with it
        self._kept_lock = threading.Lock()
        self._kept: dict[str, str] = {}  # session → its selected upload, kept for re-runs with other Settings

    def is_upload(self, path: str) -> bool:
        """True for a file that came through Gradio's /upload (False for the cached examples)."""
        return path in getattr(self.demo, "upload_file_set", set())

    def hold(self, path: str) -> str:
        path = os.path.abspath(path)
        with self._lock:
            self._in_use[path] += 1
            self._taken[path] = _file_id(path)
            self._named[path] = time.time()
        return path

    def queued(self) -> tuple[Counter[str], Counter[str]]:
        """How many requests name each file: (waiting in Gradio's queue, taken from it and running)."""
        q = getattr(self.demo, "_queue", None)
        waiting, active = [], []
        for _ in range(5):  # the event loop's thread changes these lists: try again
            try:
                waiting = [e for eq in list(q.event_queue_per_concurrency_id.values()) for e in list(eq.queue)]
                active = [e for job in list(q.active_jobs) if job for e in list(job)]
                break
            except (AttributeError, RuntimeError):
                continue

        def count(events) -> Counter[str]:
            return Counter(p for e in events for p in _paths(getattr(e.data, "data", None), set()))

        return count(waiting), count(active)

    def _delete(self, path: str) -> None:
        """Delete an upload and its content-hash folder when empty (caller holds the lock)."""
        self.demo.upload_file_set.discard(path)
        self._taken.pop(path, None)
        self._named.pop(path, None)
        p = Path(path)
        p.unlink(missing_ok=True)
        try:
            p.parent.rmdir()
        except OSError:
            pass  # not empty (another file) or already gone

    def release(self, path: str) -> None:
        """Delete Gradio's copy of an upload when no request needs it any more: none running, none
        waiting in the queue, and no new upload of the same file since this one took it (that
        visitor's request is on its way). What is left is deleted by ``sweep``.
        Only files that came through Gradio's /upload are removed (not the cached examples)."""
        waiting, active = self.queued()
        with self._lock:
            self._in_use[path] -= 1
            self._named[path] = time.time()
            if self._in_use[path] > 0:
                return
            del self._in_use[path]
            taken = self._taken.pop(path, None)
            if not self.is_upload(path) or waiting[path] or active[path] > 1 or _file_id(path) != taken:
                return
            self._delete(path)

    def keep(self, session: str, path: str) -> None:
        """Keep the session's selected upload on the server until it selects another file, clears
        the box or closes the tab (the file it replaces is released now)."""
        path = os.path.abspath(path)
        with self._kept_lock:
            old = self._kept.get(session)
            if old == path:
                return
            self._kept[session] = self.hold(path)
        if old:
            self.release(old)

    def forget(self, session: str) -> None:
        with self._kept_lock:
            old = self._kept.pop(session, None)
        if old:
            self.release(old)

    def sweep(self) -> None:
        """Delete what uploads leave when no analysis of them comes: files refused by a full queue,
        cancelled while waiting or never asked for; a page's kept upload that no request has named
        for ``grace_s`` (a page that never opened Gradio's heartbeat never says goodbye); Gradio's
        temporary file of an upload it refused (a name such as '..'), and empty content-hash
        folders. Only what is older than ``grace_s`` and that no request names: an upload is
        followed by its request within moments."""
        root = Path(gr.utils.get_upload_folder())
        if not root.is_dir():
            return
        waiting, active = self.queued()
        now = time.time()

        def old(p: Path) -> bool:
            try:
                return now - max(p.lstat().st_ctime, self._named.get(str(p), 0.0)) > self.grace_s
            except OSError:
                return False

        with self._kept_lock, self._lock:
            kept = Counter(self._kept.values())
            uploads = []
            for _ in range(5):
                try:
                    uploads = list(self.demo.upload_file_set)
                    break
                except RuntimeError:  # added to meanwhile
                    uploads = []
            for path in uploads:
                if not (self._in_use[path] - kept[path] or waiting[path] or active[path]) and old(Path(path)):
                    log.info("deleting an upload no request named for %g s: %s", self.grace_s, Path(path).name)
                    for session in [s for s, p in self._kept.items() if p == path]:
                        del self._kept[session]
                    self._in_use.pop(path, None)
                    self._delete(path)
            for p in root.iterdir():
                if p.is_file() and p.name.startswith("tmp") and old(p):  # an upload Gradio refused or a client dropped
                    p.unlink(missing_ok=True)
                elif p.is_dir() and HASH_DIR.fullmatch(p.name) and old(p):
                    try:
                        p.rmdir()
                    except OSError:
                        pass  # not empty

    def delete_all(self) -> None:
        """At shutdown: every upload and every session's results go, whatever holds them."""
        with self._kept_lock, self._lock:
            for path in list(getattr(self.demo, "upload_file_set", ())):
                self._delete(path)
            self._kept.clear()
            self._in_use.clear()
        shutil.rmtree(_results_root(), ignore_errors=True)

    def sweep_forever(self) -> None:
        while True:
            time.sleep(max(0.5, min(30.0, self.grace_s / 2)))
            try:
                self.sweep()
            except Exception:  # never let the sweeper die
                log.exception("sweeping uploads failed")

    def start_sweeper(self) -> threading.Thread:
        """Sweep in a thread from now on, and delete every upload when the process ends (normal
        exit, Ctrl-C, or SIGTERM, which is made to exit normally; call from the main thread)."""
        atexit.register(self.delete_all)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        thread = threading.Thread(target=self.sweep_forever, name="dfdemo-upload-sweeper", daemon=True)
        thread.start()
        return thread


def _exit_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # Gradio's launch() closes the server on it; then the atexit cleanup runs


def _results_root() -> Path:
    # inside Gradio's upload folder, so results are served without a second copy
    return Path(gr.utils.get_upload_folder()) / "dfdemo-results"


def session_of(request: gr.Request | None) -> str:
    return (request.session_hash if request else None) or ""


def session_dir(request: gr.Request | None) -> Path:
    session = re.sub(r"[^A-Za-z0-9_-]", "", session_of(request))[:64]
    return _results_root() / (session or "anonymous")


def new_request_dir(request: gr.Request | None) -> Path:
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
    d = session_dir(request) / uuid.uuid4().hex[:12]
    d.mkdir(parents=True)
    return d


def keep_only(out_dir: Path) -> None:
    """The session's new results replace its previous ones (kept until then, so that a failed
    analysis leaves the page's previous results working)."""
    for d in out_dir.parent.iterdir():
        if d != out_dir:
            shutil.rmtree(d, ignore_errors=True)


class WebApp:
    """The app's state and actions: the analyzer pool, the uploads, the sessions' cancel flags
    and last errors. ``app.py`` makes one and wires the page's events to its methods."""

    def __init__(self, settings: WebSettings | None = None):
        self.settings = settings or WebSettings.from_env()
        self.models = AnalyzerPool(self.settings.max_loaded_weights)
        self.uploads = Uploads(self.settings.upload_grace_s)
        self.cancel_flags: dict[str, threading.Event] = {}
        self.last_error: dict[str, str] = {}  # session → the message of its failed analysis, for the card

    def attach(self, demo: gr.Blocks) -> gr.Blocks:
        """Read the uploads and the queue of ``demo``; refuse requests that name server files."""
        self.uploads.demo = demo
        refuse_paths_not_uploaded(demo)
        return demo

    def weights_source(self, text: str | None) -> str | None:
        return weights_source(text, self.settings.visitor_weights)

    def bundled_config(self) -> DetectorConfig | None:
        """The default weights' config.json (read without loading the weights), or None if unreadable."""
        try:
            return load_config(resolve_weights(None))
        except DfdemoError:
            return None

    def examples(self) -> list[list[str]]:
        """The example files, built on first use (the app still works without them)."""
        try:
            return [[str(p)] for p in build_examples()]
        except Exception:
            log.exception("cannot build the example files")
            return []

    def warm_up(self) -> None:
        """Load the default weights and run one small analysis (an example clip, 2 frames, 1 heatmap),
        so that the first visitor does not pay for the first forward and Grad-CAM passes."""
        t = time.perf_counter()
        try:
            with self.models.use(None) as analyzer:
                clip = next((p for p in build_examples() if p.suffix == ".mp4"), None)
                if clip is not None:
                    analyzer.analyze(clip, replace(self.settings.defaults, frames=2, heatmaps=1, temporal=False))
        except Exception as e:  # the app still starts; the first visitor waits for the load instead
            log.warning("warm-up failed: %s", e)
        log.info("warm-up took %.1f s", time.perf_counter() - t)

    def analyse(self, path: str, settings: Settings, weights: str | None, progress, cancel: threading.Event | None) -> Analysis:
        """One analysis; every failure becomes the visitor's one-line ``gr.Error``."""
        def step(fraction: float, message: str) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            progress(fraction, desc=message)

        try:
            step(0.0, "loading the detector")
            with self.models.use(weights) as analyzer:
                return analyzer.analyze(path, settings, progress=step)
        except (Cancelled, gr.Error):
            raise
        except DfdemoError as e:
            raise gr.Error(plain_error(e, path), print_exception=False) from None
        except Exception:  # a bug or a decoder crash: logged here, a plain message there
            log.exception("analysis of %s failed", path)
            raise gr.Error(f"{Path(path).name} could not be analysed (unexpected error, logged on the server). "
                           "Try another file or format.", print_exception=False) from None

    def analyze_api(self, file: str | None, progress) -> dict:
        """/analyze: one file with the default settings → the JSON report (``scan --json``'s schema)."""
        if not file:
            raise gr.Error(f"{SEND_A_FILE}.", print_exception=False)
        path = self.uploads.hold(file)
        try:
            return public_report(self.analyse(path, self.settings.defaults, None, progress, None).report).to_dict()
        finally:
            self.uploads.release(path)

    def page_settings(self, frames, heatmaps, faces, calibrated, threshold, temporal) -> Settings:
        """The page's Settings as sent (a client may send any JSON): each number checked against
        the range of its slider, NaN and infinity refused, one line to the visitor."""
        def number(value, name: str, lo: float, hi: float) -> float:
            try:
                x = float(value)
            except (TypeError, ValueError):
                x = math.nan
            if not lo <= x <= hi:  # NaN fails too
                raise gr.Error(f"{name} must be a number from {lo:g} to {hi:g}, not {value!r}.", print_exception=False)
            return x

        return replace(self.settings.defaults, frames=int(number(frames, "Frames", 1, PAGE_MAX_FRAMES)),
                       heatmaps=int(number(heatmaps, "Heatmaps", 0, PAGE_MAX_HEATMAPS)),
                       max_faces=int(number(faces, "Faces to analyse", 1, MAX_FACES)),
                       threshold=None if calibrated else number(threshold, "The threshold", 0, 1), temporal=bool(temporal))

    def check_selected(self, session: str, file: str | None) -> None:
        """Refuse an analysis with no file or a file gone from the server (the message stays in the card)."""
        try:
            if not file:
                raise gr.Error("Choose a video or a photo first (or click an example).", print_exception=False)
            if not Path(file).is_file():
                raise gr.Error(f"{Path(file).name} is no longer on the server: upload it again.", print_exception=False)
        except gr.Error as e:
            self.last_error[session] = e.message
            raise

    def run_for_page(self, file: str, settings: Settings, weights: str | None, request: gr.Request | None,
                     progress) -> tuple[Report, Analysis, Path, list, str | None]:
        """The page's analysis: (public report, analysis, JSON path, face crops, upload note).
        The session's previous results are replaced only when this one succeeds."""
        session = session_of(request)
        self.check_selected(session, file)
        self.uploads.keep(session, file)  # stays selected and on the server for re-runs
        cancel = self.cancel_flags[session] = threading.Event()
        path = self.uploads.hold(file)
        out_dir = None
        try:
            source = self.weights_source(weights)
            out_dir = new_request_dir(request)
            analysis = self.analyse(path, replace(settings, heatmap_dir=str(out_dir)), source, progress, cancel)
            report = public_report(analysis.report)
            json_path, crops = write_results(analysis, report, out_dir)
            keep_only(out_dir)
            return report, analysis, json_path, crops, UPLOAD_KEPT_NOTE if self.uploads.is_upload(path) else None
        except BaseException as e:
            if out_dir is not None:
                shutil.rmtree(out_dir, ignore_errors=True)
            if isinstance(e, Cancelled):
                raise gr.Error("Analysis cancelled.", print_exception=False) from None
            if isinstance(e, gr.Error):
                self.last_error[session] = e.message
            raise
        finally:
            self.uploads.release(path)
            if self.cancel_flags.get(session) is cancel:
                del self.cancel_flags[session]

    def page_view(self, file: str, settings: Settings, weights: str | None, request: gr.Request | None,
                  progress) -> PageView:
        """``run_for_page``, then what the page shows of it (plain data; app.py puts it in components)."""
        report, analysis, json_path, crops, note = self.run_for_page(file, settings, weights, request, progress)
        return PageView(verdict_card(report, note), plain_words(report), timeline_figure(report),
                        heatmap_items(report, json_path.parent), heatmap_rows(report), faces_rows(report),
                        face_gallery(analysis.photo, report, crops), len(report.faces) > 1 or bool(report.faces_left_out),
                        json_path)

    def request_cancel(self, request: gr.Request) -> bool:
        """The Cancel button: Gradio cannot stop a running thread, so the analysis checks this flag
        at every progress step and stops there. False when nothing is running."""
        flag = self.cancel_flags.get(session_of(request))
        if flag is None:
            return False
        flag.set()
        return True

    def pop_error(self, request: gr.Request | None) -> str | None:
        return self.last_error.pop(session_of(request), None)

    def forget_upload(self, request: gr.Request | None) -> None:
        """The upload box was cleared: delete the kept upload."""
        self.uploads.forget(session_of(request))

    def end_session(self, request: gr.Request) -> None:
        """Tab closed: remove the session's result folder, its kept upload and its last error."""
        shutil.rmtree(session_dir(request), ignore_errors=True)
        self.uploads.forget(session_of(request))
        self.last_error.pop(session_of(request), None)


@dataclass(frozen=True)
class PageView:
    """One analysis as the page shows it: the card, the words, the timeline, the heatmaps and their
    table, the faces table and crops (shown when there are several faces or some were left out),
    and the JSON report to download."""

    card: str
    words: str
    timeline: object | None  # a matplotlib figure, None for a photo
    heatmaps: list
    heatmap_rows: list
    face_rows: list
    crops: list
    several_faces: bool
    json_path: Path


def visitor_weights(env=os.environ) -> tuple[str, ...]:
    """What a visitor may name in Settings → Weights: ``DFDEMO_VISITOR_WEIGHTS``, comma-separated
    entries, each ``bundled``, ``any`` (any Hub repo id) or a Hub repo id[@revision]. Default:
    ``bundled,any``; on a Hugging Face Space (``SPACE_ID`` set) the list ``bundled``, so a public
    Space fetches nothing a visitor names unless its operator lists it; ``DFDEMO_HUB_WEIGHTS=0``
    (older setting) also means ``bundled``."""
    text = env.get("DFDEMO_VISITOR_WEIGHTS")
    if text is None:
        return ("bundled",) if env.get("SPACE_ID") or env.get("DFDEMO_HUB_WEIGHTS", "1") == "0" else ("bundled", "any")
    return ("bundled", *(x.strip() for x in text.split(",") if x.strip() and x.strip() != "bundled"))


def weights_source(text: str | None, allowed: tuple[str, ...] = ("bundled", "any")) -> str | None:
    """'bundled' (or empty) → None (= $DFDEMO_WEIGHTS, then weights/detector); else a Hub repo id
    (``resolve_weights`` fetches it), if ``allowed`` (``visitor_weights``) lets visitors name it.
    Visitors may not name server folders."""
    text = (text or "").strip()
    if text.lower() in ("", "bundled"):
        return None
    if not HUB_ID.match(text) or ".." in text:
        raise gr.Error(f"Weights must be 'bundled' or a Hugging Face Hub repo id such as owner/name "
                       f"(optionally owner/name@revision), not {text!r}.", print_exception=False)
    if "any" not in allowed and text not in allowed:
        listed = [x for x in allowed if x not in ("bundled", "any")]
        choice = f"'bundled' or one of {', '.join(listed)}" if listed else "its bundled weights only"
        raise gr.Error(f"This server lets visitors use {choice} (DFDEMO_VISITOR_WEIGHTS), not {text!r}.",
                       print_exception=False)
    return text


def refuse_paths_not_uploaded(blocks: gr.Blocks) -> gr.Blocks:
    """A request that names a server file instead of uploading one, or sends something that is no
    file at all (an empty string, a URL, a ``file://`` name, a number), is refused by Gradio with
    an exception that reaches the client as "the upstream Gradio app has raised an exception" and
    the log as a traceback; here it becomes one line for each, naming the input expected."""
    from gradio.exceptions import InvalidPathError
    from pydantic import ValidationError

    process_api = blocks.process_api

    async def process_api_checked(*args, **kwargs):
        try:
            return await process_api(*args, **kwargs)
        except InvalidPathError as e:
            log.warning("refused a request: %s", str(e).splitlines()[0] if str(e) else "a file that was not uploaded")
            raise gr.Error("Send the file itself (gradio_client's handle_file uploads it): a path on the server "
                           "is not accepted.", print_exception=False) from None
        except ValidationError as e:
            sent = next((err.get("input") for err in e.errors()), None)
            log.warning("refused a request: %s instead of a file", not_a_file(sent))
            raise gr.Error(f"{SEND_A_FILE}, not {not_a_file(sent)}.", print_exception=False) from None

    blocks.process_api = process_api_checked
    return blocks


def not_a_file(value) -> str:
    """What a request sent where a file was expected, in a few words."""
    if isinstance(value, str):
        if not value.strip():
            return "an empty string"
        kind = "a URL" if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.I) else "a string"
        return f"{kind} ({value if len(value) <= 60 else value[:57] + '...'!r})"
    if isinstance(value, dict):
        return "a dict without Gradio's file metadata"
    return "a number" if isinstance(value, (int, float)) else f"a value of type {type(value).__name__}"


def without_stray_temp_file(component: gr.File) -> gr.File:
    """gradio 6.31's ``File._process_single_file`` creates an empty temp file in the cache on every
    request and never deletes it; this component hands the upload's path on without it (same
    file-type check). Patched on the instance: a ``gr.File`` subclass would make gradio write an
    ``app.pyi`` stub beside the app."""

    def process(f):
        if component.file_types and not gr.utils.client_utils.is_valid_file(f.path, component.file_types):
            raise gr.Error(f"Unsupported file type: use one of {', '.join(component.file_types)}.",
                           print_exception=False)
        return gr.utils.NamedString(f.path)

    component._process_single_file = process
    return component
