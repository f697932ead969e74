"""Command line of the lab: ``python -m dfdemo_lab {cache,train,gensim,train-synthesis,learn-kinds,train-temporal,eval,calibrate,bench,bench-corpus,explain-eval} ...``.

Each tool parses its own options (``python -m dfdemo_lab NAME --help``) and is imported only
when it is run. A missing prerequisite (crop cache, landmark model, ../shared, weights) or a
wrong option ends in one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import importlib
import sys

from dfdemo.errors import DfdemoError

# name → (module, one line for ``python -m dfdemo_lab --help``)
TOOLS = {"cache": ("dfdemo_lab.cache", "build the face-crop cache that training reads (crops + 68 landmarks)"),
         "train": ("dfdemo_lab.train", "train the detector on self-blended real faces (resumable)"),
         "gensim": ("dfdemo_lab.gensim", "train the generator simulator (an autoencoder) on real faces"),
         "train-synthesis": ("dfdemo_lab.train_synthesis", "train the synthesis head on simulated generator traces of real faces"),
         "learn-kinds": ("dfdemo_lab.learn_kinds", "learn generator traces and lip-sync/animation from real fakes, out of fold by source"),
         "train-temporal": ("dfdemo_lab.train_temporal", "train the temporal head on windows of consecutive real frames"),
         "eval": ("dfdemo_lab.evaluate", "score a labelled CSV of videos/photos (AUC per slice, optional reference models)"),
         "calibrate": ("dfdemo_lab.calibrate", "set the threshold and uncertain band from held-out real clips (rewrites config.json)"),
         "bench": ("dfdemo_lab.bench", "time one analysis per stage against the decode + face-detection floor"),
         "bench-corpus": ("dfdemo_lab.bench_corpus", "files/s of corpus on Ray (1, 2 workers) against sequential scan, memory per worker"),
         "explain-eval": ("dfdemo_lab.explain_eval", "measure how faithful the heatmaps are on self-blended faces")}


def usage() -> str:
    lines = ["usage: python -m dfdemo_lab NAME [options]   (python -m dfdemo_lab NAME --help for a tool's options)", "",
             "dfdemo's lab: make, measure and time a detector. Tools:"]
    lines += [f"  {name:<15} {line}" for name, (_, line) in TOOLS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in TOOLS:
        print(f"error: unknown lab tool {argv[0]!r}; one of: {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    from dfdemo.runtime import configure_process

    configure_process()  # before torch loads: this process's threads and OpenMP spin
    try:
        return importlib.import_module(TOOLS[argv[0]][0]).main(argv[1:]) or 0
    except DfdemoError as e:  # LabError (a missing prerequisite, a wrong option) or the library's own
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
