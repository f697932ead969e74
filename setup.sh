#!/usr/bin/env bash
# Set up dfdemo in ./.venv: `bash setup.sh` (app) or `bash setup.sh --dev` (tests, training).
# Idempotent; safe to run again. Needs Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
pip install -q -r requirements.txt
# dfdemo itself, editable (the code stays here, the bundled weights beside it): `dfdemo` and
# `dfdemo-lab` commands in .venv/bin, `python -m dfdemo` from any folder. --no-deps: installed above.
pip install -q --no-deps -e .
if [ "${1:-}" = "--dev" ]; then
  pip install -q -r requirements-dev.txt
  pip install -q --no-deps "facenet-pytorch>=2.6,<3"  # bench peer (MTCNN); pins old torch, so no deps
fi
# OpenCV: one cv2 only. Dependencies pulled in opencv-contrib-python (needs libGL) and
# opencv-python-headless; remove every variant, then reinstall the headless contrib build.
cv2_spec=$(grep -E '^opencv-contrib-python-headless' requirements.txt)
pip uninstall -q -y opencv-python opencv-contrib-python opencv-python-headless opencv-contrib-python-headless >/dev/null 2>&1 || true
pip install -q --no-deps --force-reinstall "$cv2_spec"
.venv/bin/python - <<'PY'
import cv2, mediapipe, pytorch_grad_cam, timm, torch, gradio  # noqa: F401
from importlib.metadata import distributions
names = sorted(d.metadata["Name"] for d in distributions() if d.metadata["Name"].lower().startswith("opencv"))
assert names == ["opencv-contrib-python-headless"], names
print(f"dfdemo environment ready: cv2 {cv2.__version__} ({names[0]}), torch {torch.__version__}, mediapipe {mediapipe.__version__}")
PY
