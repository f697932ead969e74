"""Process-wide settings, made once where a process starts: ``python -m dfdemo``, ``app.py``,
``python -m dfdemo_lab`` (the test session too). Nothing in the library sets them on import or
when it loads weights: a program that embeds dfdemo keeps its own choices.

``configure_process()`` must run before torch is first imported (libgomp reads its spin count
when it loads); ``dfdemo``'s own ``__init__`` imports nothing heavy, so ``from dfdemo.runtime
import configure_process`` is safe as the first line of an entry point.
"""
from __future__ import annotations

import os


def configure_process(threads: int | None = None) -> None:
    """Set this process's OpenMP spin count, FFmpeg's log level and torch's thread count
    (default: every CPU). Values already in the environment are kept."""
    # PyTorch's OpenMP threads (libgomp on Linux) spin up to 300k times while they wait for work.
    # When the cores are shared (two visitors of the app at once, a training job) the spinning
    # threads steal the time the working ones need, and a forward pass got 3-10x slower on 2 cores.
    # A short spin keeps nearly all of the idle-machine speed (OMP_WAIT_POLICY=PASSIVE, no spin at
    # all, scored 40% slower there) and is as robust under load. Read once, when torch loads.
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")
    # FFmpeg (inside OpenCV) prints demuxer errors such as "moov atom not found" straight to
    # stderr; dfdemo reports a broken file itself, in one line. OpenCV reads this on first use.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    # OpenCV's image decoders log a broken file ("can't read header" of a truncated GIF) the same way
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    import torch

    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
