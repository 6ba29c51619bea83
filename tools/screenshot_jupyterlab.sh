#!/usr/bin/env bash
# Render a notebook in JupyterLab in headless Chromium and save a screenshot (the README's picture).
#   tools/screenshot_jupyterlab.sh [NOTEBOOK] [OUT.png]
# Needs .venv with the notebooks extra (JupyterLab) and Chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
NB="${1:-notebooks/01_supsup_gnu_permuted_mnist.ipynb}"
OUT="${2:-docs/jupyterlab.png}"
CHROME="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$CHROME" ] || { echo "screenshot_jupyterlab.sh: no Chromium found (Debian: apt-get install chromium)" >&2; exit 2; }
[ -f "$NB" ] || { echo "screenshot_jupyterlab.sh: no notebook $NB" >&2; exit 2; }
PORT="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')"
TMP="$(mktemp -d)"
mkdir -p "$TMP/settings/@jupyterlab/apputils-extension"  # no "get news?" prompt over the notebook
echo '{"fetchNews": "false"}' >"$TMP/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
JUPYTER_RUNTIME_DIR="$TMP/runtime" JUPYTER_CONFIG_DIR="$TMP/config" JUPYTERLAB_WORKSPACES_DIR="$TMP/ws" \
  JUPYTERLAB_SETTINGS_DIR="$TMP/settings" \
  .venv/bin/jupyter lab --no-browser --ip=127.0.0.1 --port="$PORT" --IdentityProvider.token="$TOKEN" \
  --ServerApp.root_dir="$PWD" --ServerApp.port_retries=0 --allow-root >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
  curl -sf -H "Authorization: token $TOKEN" "http://127.0.0.1:$PORT/api/status" >/dev/null && break
  sleep 0.3
done
mkdir -p "$(dirname "$OUT")"
"$CHROME" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1500,950 \
  --user-data-dir="$TMP/chrome" --virtual-time-budget=20000 --screenshot="$OUT" \
  "http://127.0.0.1:$PORT/lab/tree/$NB?token=$TOKEN&reset" >"$TMP/chrome.log" 2>&1
echo "wrote $OUT"
