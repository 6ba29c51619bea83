#!/usr/bin/env bash
# Create .venv (once) and install maskcl with its notebook and test extras. Safe to rerun.
# pip's own output (and the warnings a machine's pip configuration may add on every line) goes to .venv/setup.log;
# it is printed only when the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv and installing maskcl with torch (the first time takes a few minutes)"
  "${PYTHON:-python3}" -m venv .venv
fi
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[notebooks,dev]" \
     > .venv/setup.log 2>&1; then
  grep -v "^WARNING: Location .* is ignored" .venv/setup.log | tail -n 40 >&2
  echo "setup: pip install failed; its full output is in .venv/setup.log" >&2
  exit 1
fi
