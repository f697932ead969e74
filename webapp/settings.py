"""The app's settings, read from the environment once by ``WebSettings.from_env()`` (see the package
docstring for each DFDEMO_* variable), and what a visitor may name in Settings → Weights."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import gradio as gr

from dfdemo.analyzer import Settings

PAGE_MAX_FRAMES, PAGE_MAX_HEATMAPS = 64, 12  # the Settings sliders' ranges
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


@dataclass(frozen=True)
class WebSettings:
    """The app's settings (the package docstring), read from the environment by ``from_env``."""

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


def weights_info(allowed: tuple[str, ...] = ("bundled", "any")) -> str:
    """The Settings → Weights box's help: what it takes, and the Hub detectors measured here (those
    with a recorded accuracy in their sidecar, ``dfdemo.sidecar.measured_detectors``) that
    visitors may name."""
    from dfdemo.sidecar import measured_detectors

    text = ("'bundled', or a Hugging Face Hub repo id (owner/name[@revision]): dfdemo weights or any timm / "
            "transformers image classifier (safetensors)")
    names = [m.repo for m in measured_detectors() if "any" in allowed or m.repo in allowed]
    return text + (f"; measured here: {', '.join(names)}" if names else "")

