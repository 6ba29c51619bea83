#!/usr/bin/env bash
# Run the released SupSup code's HopSupSup experiment (RAIVNLab/supsup, experiments/GNu/SplitMNIST/hopsupsup.py)
# on this machine's CPU for the given seeds, and collect its per-task accuracies into
# reference/released_code_hopsupsup.json — the "released code" column of notebook 06.
#
#   tools/released_code/hopsupsup.sh CHECKOUT SEED...    e.g. tools/released_code/hopsupsup.sh ~/supsup 0 1 2 3 4
#
# CHECKOUT is a checkout of the official repository (commit 6a31878). Its script is run with only three settings
# changed — the device (CPU: multigpu = None), the data folder (a link to $MASKCL_DATA's MNIST) and the log folder —
# and `--workers 0`. It needs tensorboard and scipy importable (e.g. PYTHONPATH=<a pip --target folder>).
# Nothing of the official code is copied into this project.
set -euo pipefail
checkout=$(cd "$1" && pwd); shift
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
mkdir -p "$work/data/mnist/MNIST"
ln -s "${MASKCL_DATA:?set MASKCL_DATA to the folder holding MNIST/raw}/MNIST/raw" "$work/data/mnist/MNIST/raw"
script="$work/hopsupsup.py"
sed -e "s#args.multigpu = \[0\]#args.multigpu = None#" -e "s#args.data = '~/data'#args.data = '$work/data'#" \
    -e "s#args.log_dir = \"~/checkpoints/test\"#args.log_dir = '$work/logs'#" \
    "$checkout/experiments/GNu/SplitMNIST/hopsupsup.py" > "$script"
for seed in "$@"; do
  start=$(date +%s)
  (cd "$checkout" && python "$script" --seed "$seed" --workers 0 > "$work/seed$seed.log" 2>&1)
  echo "$seed $(( $(date +%s) - start ))" >> "$work/wall.txt"
done
python "$root/tools/released_code/collect_hopsupsup.py" "$work" "$(git -C "$checkout" rev-parse --short HEAD 2>/dev/null || echo 6a31878)"
