#!/usr/bin/env bash
# Create .venv (once) and install fazhi-search with its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
# Elsewhere, point pip at PyTorch's CPU index: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
if ! python -c "import torch" >/dev/null 2>&1; then
  python -m pip install --quiet "torch==${TORCH_VERSION:-2.13.0}"
fi
python -m pip install --quiet -e ".[test]"
