#!/usr/bin/env bash
# Create .venv and install maskproof with its development tools.
# On a machine without an NVIDIA driver the pinned CPU build of PyTorch goes in first, so that
# the project's `torch>=2.3` is already met and pip never pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    .venv/bin/pip install --quiet "torch>=2.3"
  else
    .venv/bin/pip install --quiet "torch==2.13.0"
  fi
fi
.venv/bin/pip install --quiet -e ".[dev]"
# The third-party code the audit's adapter tests run (tests/bridge/third_party): timm and lightly
# without their dependencies, whose torchvision would pull another torch build (and does not load
# beside the CPU one; the tests put a stand-in torchvision in place, torchvision_stub.py).
.venv/bin/pip install --quiet --no-deps "timm==1.0.31" "lightly==1.6.0"
echo "maskproof is set up in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
