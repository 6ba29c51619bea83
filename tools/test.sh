#!/usr/bin/env bash
# The test command: set up .venv, then run the unit tests and every notebook (smoke profile) under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
