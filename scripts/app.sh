#!/usr/bin/env bash
# Set up (first time) and launch Training Loop Lab at http://localhost:8501.
# Works offline: without ./data/MNIST it tries a download, then uses the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m streamlit run app.py "$@"
