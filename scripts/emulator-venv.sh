#!/usr/bin/env bash
# Create (or reuse) the Python venv that runs the test-side AWS emulator
# (moto server + tests/emulator/taegis_moto.py extensions), from
# tests/emulator/requirements.lock.
#
#   scripts/emulator-venv.sh            -> venv at <repo>/.venv-emulator
#   TAEGIS_EMULATOR_VENV=/path scripts/emulator-venv.sh
#
# The last line printed on stdout is the absolute path of the venv's python.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$repo_root/scripts/venv.sh" "$repo_root/tests/emulator/requirements.lock" \
    "${TAEGIS_EMULATOR_VENV:-$repo_root/.venv-emulator}"
