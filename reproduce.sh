#!/usr/bin/env bash
# Regenerate every figure: run the notebooks in order, headless, through papermill.
set -uo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'TXT'
usage: ./reproduce.sh [--profile smoke|quick|paper] [--device cpu|cuda|auto] [--only PREFIX]
                      [--from-results | --results DIR] [--gallery] [--download | --offline] [--no-setup] [--quiet]

  --profile P      smoke (seconds, proves the code path), quick (default; this CPU, minutes, real data),
                   paper (the papers' protocol; meant for a GPU)
  --device D       where the runs compute (default auto: cuda when visible, else cpu)
  --only PREFIX    run only the notebooks whose name starts with PREFIX (e.g. 01 or 01_supsup)
  --from-results   read/write finished runs in the committed results/ store (re-plots in seconds when the
                   runs are there; stops with exit 3 naming any result made by an older method version);
                   default is the local cache .cache/maskcl/results
  --results DIR    use DIR as the results store
  --gallery        write the figures into the committed gallery figures/ (implied by --from-results)
  --download       fetch missing data sets into $MASKCL_DATA (canonical archives, md5-checked). Without it, a
                   missing data set is fetched when its source answers within a few seconds
  --offline        never fetch: a missing data set stops the run at once with one message (exit 2)
  --no-setup       use the existing .venv (or $MASKCL_PYTHON) without running tools/setup.sh
  --quiet          no progress bar (also the default under --profile smoke and when $CI is set)

Progress: papermill's bar counts each notebook's cells as they finish. The library's own bars (tasks, epochs)
show in JupyterLab; in headless runs they are off, so they never end up inside the executed notebooks.

Executed notebooks go to build/<profile>/, their figures to build/<profile>/figures/ — the committed gallery in
figures/ changes only with --gallery or --from-results (or $MASKCL_FIGURES set), so a default run never
replaces a committed figure by a weaker one.
TXT
}

PROFILE=quick DEVICE=auto ONLY="" RESULTS="" SETUP=1 BAR=--progress-bar GALLERY=0
if [ -n "${CI:-}" ]; then BAR=--no-progress-bar; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --device) DEVICE="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --only) ONLY="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --results) RESULTS="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --from-results) RESULTS=results GALLERY=1; shift ;;
    --gallery) GALLERY=1; shift ;;
    --download) export MASKCL_DOWNLOAD=1; shift ;;
    --offline) export MASKCL_OFFLINE=1; shift ;;
    --no-setup) SETUP=0; shift ;;
    --quiet) BAR=--no-progress-bar; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "reproduce.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PROFILE" in smoke|quick|paper) ;; *) echo "reproduce.sh: unknown profile '$PROFILE' (smoke|quick|paper)" >&2; exit 2 ;; esac
case "$DEVICE" in cpu|cuda|auto) ;; *) echo "reproduce.sh: unknown device '$DEVICE' (cpu|cuda|auto)" >&2; exit 2 ;; esac

if [ "$SETUP" = 1 ]; then bash tools/setup.sh || { echo "reproduce.sh: setup failed" >&2; exit 1; }; fi
PY="${MASKCL_PYTHON:-.venv/bin/python}"
export MASKCL_PROFILE="$PROFILE" MASKCL_DEVICE="$DEVICE"
if [ -n "$RESULTS" ]; then export MASKCL_RESULTS="$(mkdir -p "$RESULTS" && cd "$RESULTS" && pwd)"; fi
if [ -n "$RESULTS" ] && ! stale="$("$PY" -m maskcl stale "$MASKCL_RESULTS")"; then
  echo "reproduce.sh: these stored results were made by an older version of their method, so nothing was plotted:" >&2
  echo "$stale" >&2
  echo "Recompute them (run without --from-results, or delete them and rerun) before plotting." >&2
  exit 3
fi
if [ "$PROFILE" = smoke ]; then BAR=--no-progress-bar; fi
export MASKCL_PROGRESS=0  # the library's bars would be captured into the executed notebooks
BUILD="build/$PROFILE"
if [ -z "${MASKCL_FIGURES:-}" ]; then
  if [ "$GALLERY" = 1 ]; then MASKCL_FIGURES="$PWD/figures"; else MASKCL_FIGURES="$PWD/$BUILD/figures"; fi
fi
export MASKCL_FIGURES
FIGURES="$MASKCL_FIGURES"

selected=()
for nb in notebooks/[0-9][0-9]_*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  case "$name" in "$ONLY"*) selected+=("$name") ;; esac
done
if [ "${#selected[@]}" = 0 ]; then echo "reproduce.sh: no notebook matches '$ONLY'" >&2; exit 2; fi
# Ctrl-C stops the whole run (not just the notebook it lands in): the summary so far, then exit 130
interrupted=0
trap 'interrupted=1' INT
# Preflight: every data set the selected notebooks read under this profile, checked (or fetched) once.
"$PY" -m maskcl data --profile "$PROFILE" "${selected[@]}" || { [ "$interrupted" = 1 ] && exit 130; exit 2; }

summary=() failed=0 ran=0
for name in "${selected[@]}"; do
  nb="notebooks/$name.ipynb"
  ran=$((ran + 1))
  marker="$(mktemp)"
  start=$(date +%s)
  echo "== $name ($PROFILE, $DEVICE)"
  mkdir -p "$BUILD" "$FIGURES"  # only once a notebook runs: a refused run leaves no empty folders behind
  if "$PY" -m papermill "$nb" "$BUILD/$name.ipynb" -p PROFILE "$PROFILE" -p DEVICE "$DEVICE" \
       --cwd notebooks "$BAR"; then
    status=ok
    for fig in $("$PY" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['metadata'].get('maskcl', {}).get('figures', [])))" "$nb"); do
      if [ ! "$FIGURES/$fig.png" -nt "$marker" ]; then status="missing figure $fig.png"; fi
    done
  else
    status=failed
  fi
  rm -f "$marker"
  if [ "$interrupted" = 1 ]; then status=interrupted; fi
  [ "$status" = ok ] || failed=1
  summary+=("$(printf '%-40s %-6s %-5s %6ss  %s' "$name" "$PROFILE" "$DEVICE" "$(( $(date +%s) - start ))" "$status")")
  if [ "$interrupted" = 1 ]; then break; fi
done

echo
printf '%-40s %-6s %-5s %7s  %s\n' notebook profile device wall status
printf '%s\n' "${summary[@]}"
if [ "$interrupted" = 1 ]; then echo "reproduce.sh: interrupted; the notebooks after it did not run" >&2; exit 130; fi
exit "$failed"
