"""Launch ``python app.py`` once per test session on a free localhost port (a helper module,
not a test file: test_app, test_browser and test_load share one server through ``shared``).

The server gets its own GRADIO_TEMP_DIR (so tests can count its temporary files), its own
examples folder, the untrained test weights, and small limits that tests can exceed cheaply.
"""
from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_UPLOAD_MB = 3
MAX_DURATION_S = 20
STARTUP_TIMEOUT_S = 180


@dataclass
class AppServer:
    url: str
    proc: subprocess.Popen
    temp_dir: Path  # GRADIO_TEMP_DIR of the server
    log: Path
    work: Path  # everything the server writes; removed by stop()

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(weights: Path, **env_extra: str) -> AppServer:
    work = Path(tempfile.mkdtemp(prefix="dfdemo-app-"))
    port = free_port()
    env = {**os.environ, "DFDEMO_WEIGHTS": str(weights), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(work / "gradio"),
           "DFDEMO_EXAMPLES_DIR": str(work / "examples"), "DFDEMO_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
           "DFDEMO_MAX_DURATION_S": str(MAX_DURATION_S), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env_extra}
    log = work / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}/", proc, work / "gradio", log, work)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "gradio_api/info", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"app.py did not answer within {STARTUP_TIMEOUT_S} s:\n{server.log_tail()}")


_shared: dict[str, AppServer] = {}


def shared(weights: Path) -> AppServer:
    """One server per weights for the whole pytest process, stopped at exit."""
    key = str(weights)
    if key not in _shared or _shared[key].proc.poll() is not None:
        _shared[key] = start(weights)
        atexit.register(_shared[key].stop)
    return _shared[key]


def client(server: AppServer):
    """A gradio_client for the server, patient on a loaded machine, with no analytics calls."""
    from gradio_client import Client

    return Client(server.url, verbose=False, httpx_kwargs={"timeout": 120}, analytics_enabled=False,
                  download_files=False)

