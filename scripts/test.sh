#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: core unit tests, AppTest page tests and
# real-browser tests (Chromium from Debian, driven by Playwright). Exit code = pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
export TLL_OFFLINE=1
exec .venv/bin/python -m pytest tests -q "$@"
