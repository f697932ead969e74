"""dfdemo: explainable deepfake detection. Pipeline: media → faces → detector → explain → report.

The public names are imported on first use (``from dfdemo import Analyzer``), so importing
``dfdemo`` or a light module of it (``dfdemo.runtime``, ``dfdemo.config``) loads no torch.
"""
from __future__ import annotations

import importlib

_PUBLIC = {"Analysis": "analyzer", "Analyzer": "analyzer", "Settings": "analyzer", "Detector": "detector",
           "DetectorConfig": "config", "load_detector": "detector", "save_detector": "weights",
           "DfdemoError": "errors", "MediaError": "errors", "WeightsError": "errors", "Report": "report"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'dfdemo' has no attribute {name!r}")
