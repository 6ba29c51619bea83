#!/usr/bin/env bash
# There, on the lent GPU machine, from the repository root with .whl/ and data/ carried (tools/gpu_pack.sh):
# install the carried wheels beside the machine's torch, run reproduce.sh headless through papermill, and pack
# results, figures and executed notebooks into $OUT (the device tool brings back at most 8 flat files).
#   usage: bash tools/gpu_run.sh [reproduce.sh options, e.g. --profile paper --device cuda --only 05]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder whose files come back}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" MASKCL_DATA="$PWD/data" MASKCL_PYTHON=python3
export PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch, papermill, ipykernel
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "| papermill", papermill.__version__, "| ipykernel", ipykernel.__version__)
PY
rc=0
./reproduce.sh --no-setup --results "$PWD/gpu_results" "$@" 2>&1 | tee "$OUT/reproduce.log" || rc=$?
tar czf "$OUT/results.tgz" gpu_results 2>/dev/null || true
tar czf "$OUT/figures.tgz" figures build 2>/dev/null || true
exit "$rc"
