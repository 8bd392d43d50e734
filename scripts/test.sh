#!/usr/bin/env bash
# Set up and run the whole test suite (the end-to-end tests use the real model on data/;
# the browser tests drive Debian's Chromium, installed here with CJK fonts when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "note: Debian's chromium and fonts-noto-cjk are missing and can't be installed here; browser tests will be skipped" >&2
  fi
fi
. .venv/bin/activate
python -m pytest -q "$@"
