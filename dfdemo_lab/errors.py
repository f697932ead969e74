"""The lab's typed error and its prerequisite checks: each says what is missing and the command
that makes it. A tool's helpers raise ``LabError``; ``dfdemo_lab.cli`` turns it into one line on
stderr and exit status 2, never a traceback."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from dfdemo.errors import DfdemoError


class LabError(DfdemoError):
    """A lab command cannot run: a prerequisite is missing or an option is wrong (the message says the fix)."""


def require_cache(cache: str | Path) -> Path:
    """The crop cache's ``index.npz`` (``python -m dfdemo_lab cache`` builds it), or LabError."""
    index = Path(cache) / "index.npz"
    if not index.is_file():
        raise LabError(f"no crop cache at {index}: build it first with python -m dfdemo_lab cache --out {cache}")
    return index


ENV_SHARED = "DFDEMO_SHARED"


def add_shared_option(ap: argparse.ArgumentParser) -> None:
    """``--shared DIR``: the project's data folder (``../shared`` beside the checkout). No default
    path outside the repository: the option, else ``$DFDEMO_SHARED``; ``require_shared`` says so."""
    ap.add_argument("--shared", type=Path, default=os.environ.get(ENV_SHARED) or None,
                    help=f"the shared data folder, e.g. ../shared (default: ${ENV_SHARED})")


def require_shared(shared: str | Path | None, *parts: str) -> Path:
    """``shared/parts...`` (the project's data beside the checkout), or LabError."""
    if shared is None:
        raise LabError(f"no shared data folder: pass --shared DIR (e.g. --shared ../shared) or set {ENV_SHARED}")
    path = Path(shared).joinpath(*parts)
    if not path.exists():
        raise LabError(f"{path} not found: the lab reads its data from the shared folder beside the checkout "
                       "(pass --shared DIR)")
    return path


def require_pretrained(path: str | Path | None, architecture: str = "tf_efficientnet_lite0") -> Path:
    """The ImageNet state dict a network starts from (``--pretrained FILE``: no default, the file
    lives outside the repository), or LabError naming the option and the usual file."""
    usual = f"../shared/pretrained/timm_{architecture}_imagenet.pth"
    if path is None:
        raise LabError(f"no ImageNet weights to start {architecture} from: pass --pretrained FILE (e.g. {usual})")
    if not Path(path).is_file():
        raise LabError(f"--pretrained {path}: no such file (the ImageNet state dict of {architecture}, e.g. {usual})")
    return Path(path)
