#!/usr/bin/env bash
# README's benchmark command: sets up the virtualenv if needed, runs every benchmark, prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
exec venv/bin/python -m benchmarks.run "$@"
