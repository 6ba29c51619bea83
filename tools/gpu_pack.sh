#!/usr/bin/env bash
# Here, before a run on a lent GPU machine (Python 3.12, torch/pandas/seaborn/safetensors/tqdm installed, no
# Jupyter, no network): fetch the missing notebook-runner wheels into .whl/ and copy MNIST into data/. Both
# folders are git-ignored; name them in the device call's `carry`. See tools/gpu_recipe.md.
#   usage: bash tools/gpu_pack.sh [PYTHON_VERSION]   (default 3.12, the lent machines')
set -euo pipefail
cd "$(dirname "$0")/.."
PYV="${1:-3.12}"
DATA="${MASKCL_DATA:-../shared/data}"
rm -rf .whl && mkdir -p .whl
python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 -d .whl papermill nbclient nbformat ipykernel jupyter-client
# The machine's own copies of these stay in charge (one version of each; torch was built against them).
for have in attrs certifi charset_normalizer click idna packaging psutil pygments python_dateutil pyyaml \
            requests six tqdm typing_extensions urllib3 jinja2 markupsafe; do
  rm -f .whl/"$have"-*.whl
done
mkdir -p data/MNIST/raw
cp "$DATA"/MNIST/raw/*-ubyte.gz data/MNIST/raw/
du -sh .whl data | sed 's/^/carry: /'
