#!/usr/bin/env bash
# Create .venv (once) and install maskcl with its notebook and test extras. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[notebooks,dev]"
