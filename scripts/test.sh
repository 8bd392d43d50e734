#!/usr/bin/env bash
# Set up and run the whole test suite (the end-to-end tests use the real model on data/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -q "$@"
