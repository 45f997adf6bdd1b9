#!/usr/bin/env bash
# Create .venv and install ttscale with its dev tools.
#
# torch: a bare `torch` requirement pulls a multi-GB CUDA build. On a machine without an
# NVIDIA GPU we install the CPU build first (TTSCALE_TORCH, default torch==2.13.0), so the
# package's `torch>=2.3` range is already met and nothing large is downloaded. With a GPU
# (nvidia-smi present) pip's default CUDA build is used. An existing torch is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "${PIP[@]}" "${TTSCALE_TORCH:-torch>=2.3}"
  else
    # Elsewhere, a CPU wheel index can be added with PIP_EXTRA_INDEX_URL.
    "${PIP[@]}" "${TTSCALE_TORCH:-torch==2.13.0}"
  fi
fi
"${PIP[@]}" -e ".[dev]"
.venv/bin/python -c "import torch, ttscale; print(f'ttscale {ttscale.__version__} ready (torch {torch.__version__})')"
