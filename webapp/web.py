"""The web app's actions: ``WebApp`` runs analyses for the page and for ``/analyze`` on the files
the sessions own (``sessions.Sessions``), with analyzers from the pool (``pool.AnalyzerPool``),
and turns an ``Analysis`` into the files and values the page shows (``PageView``)."""
from __future__ import annotations

import logging
import math
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import gradio as gr

from dfdemo.analyzer import MAX_FACES, Analysis, Settings
from dfdemo.config import DetectorConfig, load_config
from dfdemo.detector import resolve_weights
from dfdemo.errors import DfdemoError
from dfdemo.examples import build_examples
from dfdemo.page import (face_gallery, faces_rows, heatmap_items, heatmap_layout, heatmap_rows, learned_maps, timeline_figure,
                         verdict_card)
from dfdemo.report import Report
from dfdemo.words import UPLOAD_KEPT_NOTE, crop_caption, how_it_works, plain_words

from .pool import AnalyzerPool
from .sessions import NotAnUpload, Owned, Sessions, UploadGone
from .settings import PAGE_MAX_FRAMES, PAGE_MAX_HEATMAPS, WebSettings, weights_source

log = logging.getLogger("dfdemo.app")

SEND_A_FILE = 'Send one video or photo as a file (gradio_client: handle_file("clip.mp4"))'
SEND_THE_FILE = "Send the file itself (gradio_client's handle_file uploads it): a path on the server is not accepted."


class Cancelled(Exception):
    """The visitor pressed Cancel: raised at the analysis's next progress step."""


def session_of(request: gr.Request | None) -> str:
    return (request.session_hash if request else None) or ""


def plain_error(e: Exception, path: Path) -> str:
    """The library's message, without the server's folder."""
    return str(e).replace(str(path), path.name).replace(str(path.parent) + os.sep, "")


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


def uploaded_path(file) -> str:
    """The server path of a file sent as Gradio's file data (what ``handle_file`` and the upload
    box send); anything else is refused with one line naming the input expected."""
    if isinstance(file, dict) and isinstance(file.get("path"), str) and file["path"]:
        return file["path"]
    log.warning("refused a request: %s instead of a file", not_a_file(file))
    raise gr.Error(f"{SEND_A_FILE}, not {not_a_file(file)}.", print_exception=False)


def write_results(analysis: Analysis, out_dir: Path) -> tuple[Path, dict[str, str], list[tuple[str, str]]]:
    """The JSON report, the heatmaps and one thumbnail per face written into ``out_dir``:
    (JSON path, {image name: path}, [(crop PNG, caption)])."""
    report = analysis.report
    json_path = out_dir / f"{Path(report.file).stem}_report.json"
    json_path.write_text(report.to_json() + "\n")
    images = {name: str(p) for name, p in analysis.write_images(out_dir).items()}
    crops = []
    for f in report.faces:
        thumb = analysis.face_thumbnails.get(f.track_id)
        if thumb is not None:
            crop_path = out_dir / f"face{f.track_id + 1}.png"
            cv2.imwrite(str(crop_path), cv2.cvtColor(thumb, cv2.COLOR_RGB2BGR))
            crops.append((str(crop_path), crop_caption(f)))
    return json_path, images, crops


def as_files(items: list, out_dir: Path) -> list[tuple[str, str]]:
    """Gallery items with their images as PNG files in ``out_dir`` (not copies Gradio makes in its cache)."""
    files = []
    for k, (image, caption) in enumerate(items):
        if not isinstance(image, (str, Path)):
            path = out_dir / f"overview{k}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            image = str(path)
        files.append((str(image), caption))
    return files


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
    learned_maps: bool = True  # the heatmaps have learned blend maps beside them (weights with a mask head)

    @property
    def heatmap_layout(self) -> tuple[str, list[str], list[str]]:
        """The heatmap gallery's label, the table's columns and widths (``page.heatmap_layout``)."""
        return heatmap_layout(self.learned_maps)


class WebApp:
    """The app's state and actions: the analyzer pool, the sessions and their files, the cancel
    flags and last errors. ``app.py`` makes one and wires the page's events to its methods."""

    def __init__(self, settings: WebSettings | None = None):
        self.settings = settings or WebSettings.from_env()
        self.models = AnalyzerPool(self.settings.max_loaded_weights, self.settings.max_weight_loads)
        self.sessions = Sessions(self.settings.upload_grace_s)
        self.cancel_flags: dict[str, threading.Event] = {}
        self.last_error: dict[str, str] = {}  # session → the message of its failed analysis, for the card

    def weights_source(self, text: str | None) -> str | None:
        return weights_source(text, self.settings.visitor_weights)

    def bundled_config(self) -> DetectorConfig | None:
        """The default weights' config.json (read without loading the weights), or None if unreadable."""
        try:
            return load_config(resolve_weights(None))
        except DfdemoError:
            return None

    def page_defaults(self) -> tuple[bool, str]:
        """What the page shows before any analysis, from the default weights' config.json: whether
        the temporal check is ticked (weights whose temporal head is on by default) and the How it
        works text with the numbers measured for them."""
        cfg = self.bundled_config()
        temporal = bool(cfg and cfg.temporal and cfg.temporal.default_on)
        return temporal, how_it_works(cfg.faithfulness if cfg else None, cfg.extra if cfg else None)

    def examples(self) -> list[str]:
        """The example files, built on first use (the app still works without them)."""
        try:
            return [str(p) for p in build_examples()]
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

    # ---------------------------------------------------------------- files
    def take(self, file, session: str) -> Owned:
        """Move an upload (Gradio's file data) into the session's folder: one line if it is no upload."""
        path = uploaded_path(file)
        try:
            return self.sessions.take(path, session)
        except NotAnUpload:
            log.warning("refused a request: %s is not an upload", path)
            raise gr.Error(SEND_THE_FILE, print_exception=False) from None
        except UploadGone:
            raise gr.Error(f"{Path(path).name} is no longer on the server: upload it again.", print_exception=False) from None

    def select_upload(self, file, request: gr.Request | None) -> None:
        """The page's upload event: the file is the session's from now on (the one it replaces is deleted)."""
        session = session_of(request)
        self.sessions.select(session, self.take(file, session))

    def select_example(self, index, request: gr.Request | None) -> str:
        """The example clicked (its index): the session's selected file (examples are never deleted)."""
        examples = self.examples()
        if not isinstance(index, int) or not 0 <= index < len(examples):
            raise gr.Error("Choose one of the examples.", print_exception=False)
        self.sessions.select(session_of(request), Owned(Path(examples[index]), None))
        return examples[index]

    def forget_upload(self, request: gr.Request | None) -> None:
        """The upload box was cleared: delete the selected upload."""
        self.sessions.forget(session_of(request))

    def end_session(self, request: gr.Request) -> None:
        """Tab closed: remove the session's folder, its selected upload and its last error."""
        self.sessions.end(session_of(request))
        self.last_error.pop(session_of(request), None)

    # ---------------------------------------------------------------- analyses
    def analyse(self, path: Path, settings: Settings, weights: str | None, progress, cancel: threading.Event | None,
                name: str | None = None) -> Analysis:
        """One analysis; every failure becomes the visitor's one-line ``gr.Error``."""
        path = Path(path)

        def step(fraction: float, message: str) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            progress(fraction, desc=message)

        try:
            step(0.0, "loading the detector")
            with self.models.use(weights) as analyzer:
                return analyzer.analyze(path, settings, progress=step, name=name or path.name)
        except (Cancelled, gr.Error):
            raise
        except DfdemoError as e:
            raise gr.Error(plain_error(e, path), print_exception=False) from None
        except Exception:  # a bug or a decoder crash: logged here, a plain message there
            log.exception("analysis of %s failed", path)
            raise gr.Error(f"{path.name} could not be analysed (unexpected error, logged on the server). "
                           "Try another file or format.", print_exception=False) from None

    def analyze_api(self, file: gr.FileData | str | None, request: gr.Request) -> dict:
        """Analyse one video or photo (gradio_client: handle_file("clip.mp4")) with the default settings:
        the JSON report of ``python -m dfdemo scan --json``."""
        owned = self.sessions.hold(self.take(file, session_of(request)))
        try:
            return self.analyse(owned.path, self.settings.defaults, None, lambda *a, **k: None, None).report.to_dict()
        finally:
            self.sessions.release(owned, share=True)

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

    def selected_file(self, session: str) -> Owned:
        """The session's selected file, or one line (which stays in the card) if there is none any more."""
        try:
            owned = self.sessions.selected(session)
            if owned is None:
                raise gr.Error("Choose a video or a photo first (or click an example).", print_exception=False)
            if not owned.path.is_file():
                raise gr.Error(f"{owned.path.name} is no longer on the server: upload it again.", print_exception=False)
            return owned
        except gr.Error as e:
            self.last_error[session] = e.message
            raise

    def run_for_page(self, settings: Settings, weights: str | None, request: gr.Request | None, progress) -> PageView:
        """The page's analysis of the session's selected file. The session's previous results are
        replaced only when this one succeeds."""
        session = session_of(request)
        owned = self.sessions.hold(self.selected_file(session))
        cancel = self.cancel_flags[session] = threading.Event()
        out_dir = None
        try:
            source = self.weights_source(weights)
            analysis = self.analyse(owned.path, settings, source, progress, cancel)
            out_dir = self.sessions.new_results_dir(session)
            view = self.page_view(analysis, out_dir, UPLOAD_KEPT_NOTE if owned.upload else None)
            self.sessions.keep_results(out_dir)
            return view
        except BaseException as e:
            if out_dir is not None:
                shutil.rmtree(out_dir, ignore_errors=True)
            if isinstance(e, Cancelled):
                raise gr.Error("Analysis cancelled.", print_exception=False) from None
            if isinstance(e, gr.Error):
                self.last_error[session] = e.message
            raise
        finally:
            self.sessions.release(owned)
            if self.cancel_flags.get(session) is cancel:
                del self.cancel_flags[session]

    @staticmethod
    def page_view(analysis: Analysis, out_dir: Path, note: str | None) -> PageView:
        """What the page shows of an analysis (plain data; app.py puts it in components), its files in ``out_dir``."""
        report: Report = analysis.report
        json_path, images, crops = write_results(analysis, out_dir)
        return PageView(verdict_card(report, note), plain_words(report), timeline_figure(report),
                        heatmap_items(report, images), heatmap_rows(report), faces_rows(report),
                        as_files(face_gallery(analysis.photo, report, crops), out_dir),
                        len(report.faces) > 1 or bool(report.faces_left_out), json_path, learned_maps(report))

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
