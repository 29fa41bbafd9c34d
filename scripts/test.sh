#!/usr/bin/env bash
# Run every test: creates the emulator's venv from tests/emulator/requirements.lock (once),
# checks the emulator's extensions, then runs `cargo test` (unit tests and the integration
# tests, which start the emulator themselves on a free 127.0.0.1 port).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="$(scripts/emulator-venv.sh | tail -n1)"
export TAEGIS_EMULATOR_PYTHON="$PY"
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"

echo "== emulator self-test" >&2
"$PY" tests/emulator/selftest.py

echo "== XDR stand-in self-test" >&2
"$PY" tests/xdr/selftest.py

echo "== cargo test" >&2
cargo test --locked "$@"
