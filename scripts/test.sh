#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: core unit tests, AppTest page tests and
# real-browser tests (Chromium from Debian, driven by Playwright), and the run store on SQLite and on
# a private PostgreSQL 15 server the tests start themselves (tests/postgres.py). Exit code = pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements-ray.txt
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk" \
    || [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk postgresql >/dev/null
fi
export TLL_OFFLINE=1
exec .venv/bin/python -m pytest tests -q "$@"
