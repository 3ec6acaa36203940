#!/usr/bin/env bash
# Runs the whole test suite: sets itself up if needed (venv, chat widget, Debian's Chromium for the
# browser tests); starts its own throwaway PostgreSQL.
# Extra arguments go to pytest (e.g. scripts/test.sh -k policy).
set -euo pipefail
export RASA_TELEMETRY_ENABLED=false  # no usage reports or crash uploads to Rasa
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/chromium.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m pytest "$@"
