"""dfdemo as an installed package (``bash setup.sh`` installs it, editable, into .venv): the
``dfdemo`` and ``dfdemo-lab`` commands and ``python -m dfdemo`` work from a folder outside the
repository, on the weights bundled in the repository."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent


def run_outside(cmd: list[str], folder: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DFDEMO_WEIGHTS", "PYTHONPATH")}
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert ROOT not in folder.parents
    return folder


def test_dfdemo_command_scans_from_any_folder(photo, elsewhere):
    script = BIN / "dfdemo"
    assert script.exists(), "the dfdemo command is missing: run bash setup.sh (it installs the package)"
    run = run_outside([str(script), "scan", str(photo), "--json", "-"], elsewhere)
    assert run.returncode == 0, run.stderr
    (report,) = json.loads(run.stdout)
    assert report["file"] == str(photo) and report["faces"]
    assert report["model"].startswith("dfdemo/sbi-efficientnet-lite0")  # the bundled weights, found from elsewhere


def test_python_m_and_lab_command_from_any_folder(elsewhere):
    run = run_outside([sys.executable, "-m", "dfdemo", "scan", "--help"], elsewhere)
    assert run.returncode == 0 and "--weights" in run.stdout, run.stderr
    lab = run_outside([str(BIN / "dfdemo-lab"), "--help"], elsewhere)
    assert lab.returncode == 0 and "learn-kinds" in lab.stdout, lab.stderr
    unknown = run_outside([str(BIN / "dfdemo"), "train"], elsewhere)
    assert unknown.returncode == 2 and "lab tool" in unknown.stderr
