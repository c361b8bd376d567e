#!/bin/sh
# FinFlow's one install step, used by `make install` (and so by CI: .ci/run -> make test) and by deploy/Dockerfile:
# a virtualenv at VENV with FinFlow installed from this checkout (editable) plus the optional EXTRAS (e.g. dev, or
# none for an image). PYTHON picks the interpreter (default python3, 3.11+). pip's own settings (PIP_INDEX_URL,
# PIP_NO_CACHE_DIR, ...) pass through from the environment. --no-compile: Python compiles the modules a command
# imports when it first imports them, not the thousands of installed files nothing imports.
set -eu
venv=${1:?usage: scripts/install.sh VENV [EXTRAS]}
extras=${2:-}
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
"$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check --no-input "$@"; }
pip install --quiet --no-compile -e ".${extras:+[$extras]}"
