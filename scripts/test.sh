#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian/Ubuntu machine
# (nginx, shellcheck and cloud-init's schema check run on the generated files), creates the virtualenv, runs the whole suite.
# `--fast`: only the tests that start no process or server, run no program and play no twin (tests/conftest.py),
# in under a minute once set up; further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
if [ "${1:-}" = "--fast" ]; then
  shift
  export BITBUCKET_MIRRORS_FAST_TIER=1
  exec venv/bin/python -m pytest -m "not slow" "$@"
fi
exec venv/bin/python -m pytest "$@"
