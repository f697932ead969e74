"""Visitors' files: each session owns a folder, and an upload is moved into it as soon as it
comes in, so that dfdemo alone decides when it goes.

Layout, inside Gradio's upload folder (so that results are served without a second copy)::

    dfdemo-sessions/<session>/upload-<id>/<name>    an upload, moved there from Gradio's <hash>/<name>
    dfdemo-sessions/<session>/results-<id>/         the images and JSON report of one analysis
    dfdemo-sessions/.shared/<hash>/<name>           an /analyze upload just analysed, kept while the
                                                    queue runs (an identical upload may be waiting)

A page's upload is taken at its upload event and stays selected (for re-runs with other Settings)
until the page chooses another file, clears the box or is closed, or no request has named it for
the grace period. An /analyze upload is taken when its request starts and deleted when it ends.
Gradio stores identical uploads at one path; a request that finds that path already taken gets a
link to a copy another request took. What no request takes (refused by a full queue, cancelled
while waiting, never asked for) is deleted once the analyses have stopped and the grace period has
passed: Gradio's queue runs requests in order, so when none runs, none is waiting. At shutdown
every session folder goes; Gradio's ``delete_cache`` deletes Gradio's own copies.

No attribute of Gradio is read here: only files and the public ``gradio.utils.get_upload_folder``.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

log = logging.getLogger("dfdemo.app")

SESSIONS = "dfdemo-sessions"
SHARED = ".shared"
SETTLE_S = 1.0  # the analyses have stopped for this long: Gradio's queue has nothing waiting
SESSION_MAX_AGE_S = 3 * 3600  # folders of sessions that never said goodbye
HASH_DIR = re.compile(r"[0-9a-f]{32,128}")  # Gradio's folder per upload content


class UploadGone(Exception):
    """The upload is no longer in Gradio's folder and no request holds a copy of it."""


class NotAnUpload(Exception):
    """The path is not a file in Gradio's upload folder."""


def upload_folder() -> Path:
    return Path(gr.utils.get_upload_folder()).resolve()


def safe_session(session: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", session or "")[:64] or "anonymous"


@dataclass
class Owned:
    """One file a session owns: its path, where it came from (Gradio's path, None for an
    example), how many analyses use it and when a request last named it."""

    path: Path
    source: str | None
    users: int = 0
    named: float = field(default_factory=time.time)

    @property
    def upload(self) -> bool:
        return self.source is not None


class Sessions:
    """The sessions' folders and the uploads in them (module docstring)."""

    def __init__(self, grace_s: float, folder: Path | None = None):
        self.grace_s = grace_s
        self.folder = folder  # Gradio's upload folder; read when first needed (GRADIO_TEMP_DIR)
        self.lock = threading.RLock()
        self.kept: dict[str, Owned] = {}  # session → its selected file
        self.running: dict[Path, Owned] = {}  # owned files analyses use (kept or /analyze uploads)
        self.copies: dict[str, set[Path]] = {}  # Gradio's path → our live copies of it
        self.shared: dict[str, tuple[Path, float]] = {}  # Gradio's path → a copy kept while the queue runs
        self.active = 0  # analyses running
        self.idle_since = time.monotonic()
        self.baseline: set[Path] = set()  # Gradio's own files at start (its copies of the examples)

    # ---------------------------------------------------------------- folders
    @property
    def gradio_root(self) -> Path:
        return self.folder or upload_folder()

    @property
    def root(self) -> Path:
        return self.gradio_root / SESSIONS

    def session_dir(self, session: str | None) -> Path:
        return self.root / safe_session(session)

    def new_results_dir(self, session: str | None) -> Path:
        """A fresh folder for one analysis of the session (replaced by its next one: ``keep_results``)."""
        d = self.session_dir(session) / f"results-{uuid.uuid4().hex[:12]}"
        d.mkdir(parents=True)
        return d

    @staticmethod
    def keep_results(out_dir: Path) -> None:
        """The session's new results replace its previous ones (kept until then, so that a failed
        analysis leaves the page's previous results working)."""
        for d in out_dir.parent.glob("results-*"):
            if d != out_dir:
                shutil.rmtree(d, ignore_errors=True)

    # ---------------------------------------------------------------- taking uploads
    def check_upload(self, path: str) -> Path:
        """``path`` as a file Gradio stored from an upload (<upload folder>/<hash>/<name>), or NotAnUpload."""
        p = Path(os.path.abspath(path))
        if (p.parent.parent.resolve() != self.gradio_root.resolve() or not HASH_DIR.fullmatch(p.parent.name)
                or p.is_symlink()):
            raise NotAnUpload(path)
        return p

    def take(self, path: str, session: str | None) -> Owned:
        """Move Gradio's copy of an upload into the session's folder (a link to another request's
        copy when an identical upload took it first); raises UploadGone, NotAnUpload."""
        src = self.check_upload(path)
        dest = self.session_dir(session) / f"upload-{uuid.uuid4().hex[:12]}" / src.name
        dest.parent.mkdir(parents=True)
        key = str(src)
        with self.lock:
            try:
                os.rename(src, dest)
            except FileNotFoundError:
                if not self._link_copy(key, dest):
                    shutil.rmtree(dest.parent, ignore_errors=True)
                    self._drop_empty(dest.parent.parent)
                    raise UploadGone(src.name) from None
            self.copies.setdefault(key, set()).add(dest)
            return Owned(dest, key)

    def _link_copy(self, key: str, dest: Path) -> bool:
        """Link ``dest`` to a live copy of the upload ``key`` (caller holds the lock)."""
        candidates = [*self.copies.get(key, ())] + ([self.shared[key][0]] if key in self.shared else [])
        for c in candidates:
            try:
                os.link(c, dest)
                return True
            except FileNotFoundError:
                continue
            except OSError:  # a file system without hard links
                shutil.copy2(c, dest)
                return True
        return False

    # ---------------------------------------------------------------- a page's selected file
    def select(self, session: str | None, owned: Owned) -> None:
        """The session's selected file from now on (an upload it took, or an example); the file it
        replaces is deleted (at the end of its analysis if one still runs)."""
        with self.lock:
            old = self.kept.get(session or "")
            self.kept[session or ""] = owned
            if old is not None and old.path != owned.path:
                self._discard(old)

    def selected(self, session: str | None) -> Owned | None:
        with self.lock:
            return self.kept.get(session or "")

    def forget(self, session: str | None) -> None:
        """The upload box was cleared: the selected upload is deleted."""
        with self.lock:
            old = self.kept.pop(session or "", None)
            if old is not None:
                self._discard(old)

    def end(self, session: str | None) -> None:
        """Tab closed: the session's selected upload and its folder go."""
        self.forget(session)
        shutil.rmtree(self.session_dir(session), ignore_errors=True)

    # ---------------------------------------------------------------- analyses
    def hold(self, owned: Owned) -> Owned:
        """An analysis starts on ``owned``."""
        with self.lock:
            owned = self.running.setdefault(owned.path, owned)
            owned.users += 1
            owned.named = time.time()
            self.active += 1
            return owned

    def release(self, owned: Owned, *, share: bool = False) -> None:
        """An analysis of ``owned`` ended: a file no session keeps selected is deleted (``share``:
        an /analyze upload, kept in .shared while the queue runs, for an identical upload waiting)."""
        with self.lock:
            owned.users -= 1
            owned.named = time.time()
            self.active -= 1
            if self.active == 0:
                self.idle_since = time.monotonic()
            if owned.users > 0:
                return
            self.running.pop(owned.path, None)
            if not any(k.path == owned.path for k in self.kept.values()):
                self._discard(owned, share=share)

    def _discard(self, owned: Owned, share: bool = False) -> None:
        """Delete an owned upload no analysis uses (caller holds the lock); examples stay."""
        if not owned.upload or owned.users > 0:
            return
        live = self.copies.get(owned.source, set())
        live.discard(owned.path)
        if not live:
            self.copies.pop(owned.source, None)
        if share and not live and owned.path.exists():
            shared = self.root / SHARED / Path(owned.source).parent.name / owned.path.name
            shared.parent.mkdir(parents=True, exist_ok=True)
            os.replace(owned.path, shared)
            self.shared[owned.source] = (shared, time.monotonic())
        owned.path.unlink(missing_ok=True)
        self._drop_empty(owned.path.parent)
        self._drop_empty(owned.path.parent.parent)

    @staticmethod
    def _drop_empty(d: Path) -> None:
        try:
            d.rmdir()
        except OSError:
            pass  # not empty, or gone

    # ---------------------------------------------------------------- sweeping
    def idle(self) -> bool:
        """No analysis has run for SETTLE_S: nothing waits in Gradio's queue either."""
        with self.lock:
            return self.active == 0 and time.monotonic() - self.idle_since >= SETTLE_S

    def sweep_shared(self) -> None:
        """Delete the shared copies once the queue has stopped (or after the grace period)."""
        idle = self.idle()
        with self.lock:
            for key, (path, since) in list(self.shared.items()):
                if idle or time.monotonic() - since > self.grace_s:
                    del self.shared[key]
                    path.unlink(missing_ok=True)
                    self._drop_empty(path.parent)
                    self._drop_empty(path.parent.parent)

    def sweep(self) -> None:
        """Delete what sessions and uploads leave behind (module docstring): selected uploads no
        request has named for the grace period (a page that never opened Gradio's heartbeat never
        says goodbye), folders of sessions idle for hours, and, once the analyses have stopped,
        uploads no request took, Gradio's temporary files of refused uploads and empty folders."""
        self.sweep_shared()
        now = time.time()
        with self.lock:
            for session, owned in list(self.kept.items()):
                if owned.upload and owned.users == 0 and now - owned.named > self.grace_s:
                    log.info("deleting an upload no request named for %g s: %s", self.grace_s, owned.path.name)
                    del self.kept[session]
                    self._discard(owned)
        self._sweep_old_sessions(now)
        with self.lock:  # a request starting now takes its upload before or after this, never during
            if self.idle():
                self._sweep_gradio_folder(now)

    def _sweep_old_sessions(self, now: float) -> None:
        if not self.root.is_dir():
            return
        for d in self.root.iterdir():
            try:
                if d.name != SHARED and now - d.stat().st_mtime > SESSION_MAX_AGE_S:
                    with self.lock:
                        self.kept.pop(d.name, None)
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:  # removed meanwhile by its session's end
                pass

    def _sweep_gradio_folder(self, now: float) -> None:
        """Uploads no request took and Gradio's temporary files of refused uploads, older than the
        grace period (an upload is followed by its request within moments), and empty folders."""
        def old(p: Path) -> bool:
            try:
                return now - p.lstat().st_ctime > self.grace_s
            except OSError:
                return False

        root = self.gradio_root
        if not root.is_dir():
            return
        for p in root.iterdir():
            if p.is_file() and p.name.startswith("tmp") and old(p):  # an upload Gradio refused or a client dropped
                p.unlink(missing_ok=True)
            elif p.is_dir() and HASH_DIR.fullmatch(p.name):
                for f in p.iterdir():
                    if f.is_file() and f not in self.baseline and old(f):
                        log.info("deleting an upload no request took: %s", f.name)
                        f.unlink(missing_ok=True)
                if old(p):
                    self._drop_empty(p)

    def delete_all(self) -> None:
        """At shutdown: every session's files go, whatever holds them."""
        with self.lock:
            self.kept.clear()
            self.running.clear()
            self.copies.clear()
            self.shared.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def sweep_forever(self) -> None:
        every = max(0.5, min(30.0, self.grace_s / 2))
        last = 0.0
        while True:
            time.sleep(0.5)
            try:
                if time.monotonic() - last >= every:
                    last = time.monotonic()
                    self.sweep()
                else:
                    self.sweep_shared()
            except Exception:  # never let the sweeper die
                log.exception("sweeping uploads failed")

    def start_sweeper(self) -> threading.Thread:
        """Sweep in a thread from now on, and delete every session's files when the process ends
        (normal exit, Ctrl-C, or SIGTERM, which is made to exit normally; call from the main thread).
        Files already in Gradio's folder now (its copies of the examples) are Gradio's."""
        root = self.gradio_root
        if root.is_dir():
            self.baseline = {f for d in root.iterdir() if d.is_dir() and HASH_DIR.fullmatch(d.name) for f in d.iterdir()}
        atexit.register(self.delete_all)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        thread = threading.Thread(target=self.sweep_forever, name="dfdemo-upload-sweeper", daemon=True)
        thread.start()
        return thread


def _exit_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # Gradio's launch() closes the server on it; then the atexit cleanup runs
