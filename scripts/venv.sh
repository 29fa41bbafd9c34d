#!/usr/bin/env bash
# Create (or reuse) a Python venv holding exactly the hash-pinned set of a lock file.
#
#   scripts/venv.sh LOCK VENV     e.g. scripts/venv.sh scripts/tools.lock .venv-tools
#
# Idempotent: the install is skipped when the venv's stamp file records the
# sha256 of LOCK. The last line printed on stdout is the absolute path of the
# venv's python interpreter; everything else goes to stderr.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: scripts/venv.sh LOCK VENV" >&2; exit 2; }
lock="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
venv="$2"
python_bin="${PYTHON:-python3}"

log() { printf 'venv %s: %s\n' "$(basename "$venv")" "$*" >&2; }

if [[ ! -f "$lock" ]]; then
    log "missing lock file $lock"
    exit 1
fi

lock_sha="$(sha256sum "$lock" | cut -d' ' -f1)"
stamp="$venv/.taegis-lock.sha256"
venv_python="$venv/bin/python"

if [[ -x "$venv_python" && -f "$stamp" && "$(cat "$stamp")" == "$lock_sha" ]] \
    && "$venv_python" -c 'pass' >/dev/null 2>&1; then
    log "up to date ($venv)"
else
    if [[ ! -x "$venv_python" ]]; then
        log "creating venv at $venv"
        rm -rf "$venv"
        if ! "$python_bin" -m venv "$venv" >&2; then
            # Debian without python3-venv has no ensurepip: make the venv without pip and
            # install into it with the system pip (pip >= 22.3 has --python).
            log "python3 -m venv failed (Debian: apt-get install python3-venv); retrying without pip"
            rm -rf "$venv"
            "$python_bin" -m venv --without-pip "$venv" >&2
        fi
    fi
    if "$venv_python" -m pip --version >/dev/null 2>&1; then
        pip=("$venv_python" -m pip)
    elif "$python_bin" -m pip --version >/dev/null 2>&1; then
        pip=("$python_bin" -m pip --python "$venv_python")
    else
        log "no pip available: install python3-venv (or python3-pip) first"
        exit 1
    fi
    rm -f "$stamp"
    log "installing $lock"
    start=$SECONDS
    # Hash-checked install of exactly the pinned set; no resolution happens.
    "${pip[@]}" install --disable-pip-version-check --no-input \
        --require-hashes -r "$lock" >&2
    printf '%s\n' "$lock_sha" >"$stamp"
    log "installed in $((SECONDS - start)) s"
fi

# Resolve to an absolute path without following the interpreter symlink
# (the venv's python must be used as-is so site-packages is the venv's).
printf '%s\n' "$(cd "$(dirname "$venv_python")" && pwd)/python"
