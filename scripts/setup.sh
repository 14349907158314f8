#!/usr/bin/env bash
# Create .venv (once) and install requirements.txt into it, plus any requirement files named as
# arguments (test.sh adds requirements-ray.txt). Called by app.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
files=(requirements.txt "$@")
stamp=.venv/.requirements.sha256
want=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${files[@]/#/-r}"
  echo "$want" > "$stamp"
fi
