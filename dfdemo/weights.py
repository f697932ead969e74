"""Weights folders: where a detector's weights come from, and the folder format.

A weights folder is ``config.json`` + ``model.safetensors``: the ``save_pretrained`` layout of
huggingface_hub / timm (``architecture``, ``num_classes``, ``pretrained_cfg``), plus dfdemo's own
settings under the ``"dfdemo"`` key (``dfdemo.config``). ``resolve_weights`` turns a source into a
local folder; ``dfdemo.model.build_model`` then builds the network from the folder through timm's
``local-dir:`` route and ``load_weights`` fills it. Only safetensors are ever read: a folder
that holds only pickled weights is refused by name (``check_folder``).

Why dfdemo fetches a Hub repo itself instead of ``timm.create_model("hf-hub:…")``: timm's
route would (1) fall back to a pickled ``pytorch_model.bin`` where a repo has no safetensors
(dfdemo refuses it with a message), (2) put no timeout on the Hub's metadata calls (a silent Hub
would hang the app: ``_hub_timeouts``), and (3) load the state dict into the bare timm classifier,
which lacks dfdemo's heads (a strict load fails on their keys). So a Hub id is downloaded into
huggingface_hub's cache here and the cached folder goes the ``local-dir:`` way like any other.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import CONFIG_FILE, DetectorConfig, save_config
from .errors import WeightsError

BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "detector"
ENV_WEIGHTS = "DFDEMO_WEIGHTS"
WEIGHTS_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def resolve_weights(source: str | os.PathLike | None = None) -> Path:
    """Turn a weights source into a local folder.

    Order: ``source`` → ``$DFDEMO_WEIGHTS`` → the bundled ``weights/detector/``. A source is a
    local folder, or a Hub repo id ``owner/name`` with an optional ``@revision``, fetched with
    huggingface_hub into its cache (works offline from a filled cache with HF_HUB_OFFLINE=1).
    """
    source = source or os.environ.get(ENV_WEIGHTS) or BUNDLED_WEIGHTS
    p = Path(source).expanduser()
    if p.is_dir():
        return p
    text = str(source)
    if p.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise WeightsError(f"weights not found: {text} is neither a folder nor a Hub repo id (owner/name[@revision])")
    return _download(text)


def source_label(source: str | os.PathLike | None) -> str:
    """What a report names as the model when config.json gives no ``model_id``: the source as given."""
    return str(source or os.environ.get(ENV_WEIGHTS) or "bundled:weights/detector")


def check_folder(folder: Path) -> Path:
    """``folder``'s safetensors file, after checking that the folder is a dfdemo weights folder
    (a folder of pickled weights only is refused by name: dfdemo never unpickles)."""
    st_path = folder / WEIGHTS_FILE
    if not st_path.is_file():
        pickled = [f.name for f in folder.iterdir() if f.suffix in PICKLE_SUFFIXES]
        if pickled:
            raise WeightsError(f"{folder} holds only pickled weights ({', '.join(pickled)}); dfdemo loads model.safetensors only")
        raise WeightsError(f"{folder} has no model.safetensors")
    if not (folder / CONFIG_FILE).is_file():
        raise WeightsError(f"{folder} has no config.json")
    return st_path


def load_weights(model: torch.nn.Module, st_path: Path, architecture: str) -> torch.nn.Module:
    """Fill ``model`` (built with its heads) from the safetensors file, strictly, in float32."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(st_path))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except Exception as e:  # wrong architecture, truncated file, …
        raise WeightsError(f"{st_path} does not load into {architecture}: {e}") from e
    return model


def save_detector(model: torch.nn.Module, folder: str | os.PathLike, config: DetectorConfig) -> Path:
    """Write ``model.safetensors`` (fp16, every head included) and ``config.json`` into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    save_config(folder, config)
    return folder


def _hub_timeouts() -> None:
    """Put a timeout on every request of huggingface_hub's shared HTTP client. Its file requests
    carry their own (``HF_HUB_ETAG_TIMEOUT``, ``HF_HUB_DOWNLOAD_TIMEOUT``: 10 s by default), but
    the metadata calls of ``snapshot_download`` (``repo_info``, ``list_repo_tree``) pass
    ``timeout=None``: against a Hub that accepts the connection and never answers they waited
    forever. A request hook replaces each missing limit (connect, read, write, pool) by
    ``HF_HUB_ETAG_TIMEOUT``; limits a request sets itself are kept."""
    from huggingface_hub.utils import get_session

    session = get_session()
    hooks = session.event_hooks
    if _bound_timeouts not in hooks.get("request", []):
        session.event_hooks = {**hooks, "request": [*hooks.get("request", []), _bound_timeouts]}


def _bound_timeouts(request) -> None:
    from huggingface_hub import constants

    limit = float(constants.HF_HUB_ETAG_TIMEOUT)
    given = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {k: limit if given.get(k) is None else given[k] for k in ("connect", "read", "write", "pool")}


def _download(spec: str) -> Path:
    """A Hub repo ``owner/name[@revision]`` → its snapshot folder in huggingface_hub's cache. The
    pickled files are fetched too (never read), so that ``check_folder`` can name them when they
    are all a repo has."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo_id, _, revision = spec.partition("@")
    _hub_timeouts()
    try:
        folder = snapshot_download(repo_id, revision=revision or None, allow_patterns=["config.json", "*.safetensors", "README.md", "*.bin", "*.pt", "*.pth"])
    except RepositoryNotFoundError as e:
        raise WeightsError(f"Hub repo {repo_id} does not exist or is private") from e
    except LocalEntryNotFoundError:
        why = "offline" if constants.is_offline_mode() else f"no answer within {constants.HF_HUB_ETAG_TIMEOUT} s"
        raise WeightsError(f"Hub repo {repo_id} is not in the local cache and the Hub cannot be reached ({why})") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise WeightsError(f"cannot fetch Hub repo {repo_id}: {_first_line(e)}") from e
    except Exception as e:  # a timeout or a dropped connection surfaces as the HTTP library's own error
        if type(e).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore", "httpcore2"):
            raise
        raise WeightsError(f"cannot fetch Hub repo {repo_id}: the Hub did not answer in time ({type(e).__name__}); "
                           "try again later or use the bundled weights") from None
    return Path(folder)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
