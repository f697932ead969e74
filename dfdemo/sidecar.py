"""dfdemo's settings for a detector that is not dfdemo's own: the sidecar ``dfdemo.json``.

A timm or transformers classifier has no ``"dfdemo"`` block in its config.json, and its folder may
be huggingface_hub's cache, which dfdemo never writes. What the lab measures for it (calibrate's
cuts, eval's accuracy, a Grad-CAM layer, ``fake_label``) goes into a small JSON file instead,
holding that block as dfdemo's config.json would (``DetectorConfig``'s ``"dfdemo"`` keys):

- a local folder (the user's own): ``<folder>/dfdemo.json``;
- a Hub snapshot (``…/models--owner--name/snapshots/<commit>``): ``$DFDEMO_HOME/detectors/
  owner--name/dfdemo.json`` (default ``~/.dfdemo``), with the commit it was measured on; another
  commit of the repo reads as not measured (``Sidecar.stale``).

``update_settings`` is the one writer the lab goes through for any source: dfdemo's own local
folders keep their config.json (``config.update_config``), everything else gets its sidecar
(a dfdemo repo from the Hub too: the cache's files are links to shared blobs, never written);
``measured_detectors`` lists the Hub detectors measured here.
Standard library only.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WeightsError

SIDECAR_FILE = "dfdemo.json"
ENV_HOME = "DFDEMO_HOME"
FORMAT = "dfdemo-sidecar/1"


@dataclass(frozen=True)
class Sidecar:
    """A detector's sidecar: where it is (or would be) and the dfdemo settings it holds."""

    path: Path
    settings: dict = field(default_factory=dict)  # the "dfdemo" block ({} when none or stale)
    revision: str = ""  # the Hub commit the settings were measured on ("" for a local folder)
    stale: str = ""  # why the file's settings are not used (measured on another commit), else ""


def sidecar_home() -> Path:
    return Path(os.environ.get(ENV_HOME) or "~/.dfdemo").expanduser()


def hub_snapshot(folder: Path) -> tuple[str, str] | None:
    """(``owner/name``, commit) when ``folder`` is a snapshot of huggingface_hub's cache, else None."""
    folder = Path(folder).resolve()
    repo_dir = folder.parent.parent
    if folder.parent.name != "snapshots" or not repo_dir.name.startswith("models--"):
        return None
    return repo_dir.name.removeprefix("models--").replace("--", "/", 1), folder.name


def sidecar_path(folder: Path) -> Path:
    """Where the sidecar of the detector in ``folder`` lives (module docstring)."""
    hub = hub_snapshot(folder)
    if hub:
        return sidecar_home() / "detectors" / hub[0].replace("/", "--") / SIDECAR_FILE
    return Path(folder) / SIDECAR_FILE


def read_sidecar(folder: Path) -> Sidecar:
    """The sidecar of the detector in ``folder`` (empty settings when there is none)."""
    path, hub = sidecar_path(folder), hub_snapshot(folder)
    if not path.is_file():
        return Sidecar(path, revision=hub[1] if hub else "")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WeightsError(f"{path} is not readable JSON: {e}") from e
    settings = raw.get("dfdemo") if isinstance(raw, dict) else None
    if not isinstance(settings, dict):
        raise WeightsError(f"{path} is not a dfdemo sidecar (no \"dfdemo\" block)")
    measured_on = str(raw.get("revision") or "")
    if hub and measured_on and measured_on != hub[1]:
        why = f"{path} was measured on commit {measured_on[:12]} of {hub[0]}, not on {hub[1][:12]}: ignored"
        return Sidecar(path, {}, hub[1], why)
    return Sidecar(path, settings, measured_on)


def write_sidecar(folder: Path, settings: dict) -> Path:
    """Write ``settings`` (a "dfdemo" block) as the sidecar of the detector in ``folder``."""
    path, hub = sidecar_path(folder), hub_snapshot(folder)
    body = {"format": FORMAT, "source": hub[0] if hub else str(Path(folder).resolve()),
            "revision": hub[1] if hub else "", "dfdemo": settings}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise WeightsError(f"cannot write the detector's settings to {path}: {e.strerror or e}") from None
    return path


def update_settings(folder: Path, records: dict | None = None, **changes) -> Path:
    """The lab's one writer of a detector's settings: ``changes`` (``DetectorConfig`` fields, e.g.
    ``threshold``, ``uncertain_band``, ``target_layer``) and ``records`` merged into ``extra``
    (a record of the same name replaced). dfdemo's own folder: its config.json; any other: its
    sidecar. Returns the file written."""
    from .config import CONFIG_FILE, update_config
    from .weights import detect_layout

    folder = Path(folder)
    if detect_layout(folder).family == "dfdemo" and not hub_snapshot(folder):
        update_config(folder, records, **changes)
        return folder / CONFIG_FILE
    settings = dict(read_sidecar(folder).settings)
    settings.update({k: _plain(v) for k, v in changes.items()})
    if records:
        settings["extra"] = {**settings.get("extra", {}), **records}
    return write_sidecar(folder, settings)


def _plain(value):
    """A setting as JSON holds it: a typed block (``SynthesisConfig``…) as its dict, a tuple as a list."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Measured:
    """A Hub detector measured here: its repo, the commit, and what eval recorded."""

    repo: str
    revision: str
    accuracy: dict


def measured_detectors() -> list[Measured]:
    """The Hub detectors with a sidecar under ``$DFDEMO_HOME`` that records an accuracy, by repo name."""
    out = []
    for path in sorted((sidecar_home() / "detectors").glob(f"*/{SIDECAR_FILE}")):
        try:
            raw = json.loads(path.read_text())
            acc = raw["dfdemo"].get("extra", {}).get("accuracy")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a sidecar: not offered
        if acc:
            out.append(Measured(str(raw.get("source") or path.parent.name.replace("--", "/", 1)), str(raw.get("revision") or ""), acc))
    return out
