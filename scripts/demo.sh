#!/usr/bin/env bash
# Set up, index the demo corpus in data/ and serve the search page on http://127.0.0.1:${PORT:-8000}/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
fazhi --index "${FAZHI_INDEX:-index}" index data
exec fazhi --index "${FAZHI_INDEX:-index}" serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
