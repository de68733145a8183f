#!/usr/bin/env bash
# The README's main job: `pulumi up` on one stack.
#   usage: scripts/up.sh <stack> [pulumi up flags...]      e.g. scripts/up.sh dev --yes
#
# Before anything is created it checks, and says every problem at once with what to do:
#   - the stack file's config, offline (python -m stack_config.check: the rules preview applies,
#     placeholders left from Pulumi.example.yaml, a password not set as a secret);
#   - the Pulumi CLI (it installs the pinned version below when it is missing);
#   - AWS credentials (it shows the account and region it will deploy to).
# The state lives in one place, `.pulumi-state/` in this directory, unless PULUMI_BACKEND_URL names
# another backend; it prints the variable to export so `pulumi stack output`, `refresh` and
# `destroy` look in the same place.
set -euo pipefail
cd "$(dirname "$0")/.."

PULUMI_VERSION=3.207.0   # the CLI this project is tested against (>= 3.139.0 required: Pulumi.yaml)

stack=${1:?usage: scripts/up.sh <stack> [pulumi up flags...]}
shift
file="Pulumi.$stack.yaml"
say() { printf 'up.sh: %s\n' "$*" >&2; }

if [ ! -f "$file" ]; then
  say "$file not found: copy Pulumi.example.yaml to it and set its secrets (README, Quick start)."
  exit 2
fi

# The program's virtualenv, as the CLI makes it (Pulumi.yaml: toolchain pip, virtualenv venv).
if [ ! -x venv/bin/python ]; then
  say "creating venv/ and installing requirements.txt"
  python3 -m venv venv
fi
venv/bin/pip install -q --disable-pip-version-check -r requirements.txt

problems=0

say "checking $file (offline: the same rules as pulumi preview)"
if ! venv/bin/python -m stack_config.check "$file"; then
  problems=$((problems + 1))
fi

if ! command -v pulumi >/dev/null 2>&1 && [ -x "$HOME/.pulumi/bin/pulumi" ]; then
  export PATH="$HOME/.pulumi/bin:$PATH"
fi
if ! command -v pulumi >/dev/null 2>&1; then
  say "the Pulumi CLI is not installed: installing $PULUMI_VERSION into ~/.pulumi (get.pulumi.com)"
  if curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION" >&2; then
    export PATH="$HOME/.pulumi/bin:$PATH"
  else
    say "could not install the Pulumi CLI from get.pulumi.com. Install $PULUMI_VERSION by hand"
    say "  (https://www.pulumi.com/docs/install/, or an internal mirror of its release archive),"
    say "  put 'pulumi' on PATH, and run this again."
    problems=$((problems + 1))
  fi
fi

if ! account=$(venv/bin/python -m stack_config.aws_identity "$file" 2>&1); then
  say "no usable AWS credentials: $account"
  say "  set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account to deploy to."
  problems=$((problems + 1))
else
  say "deploying to $account"
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
# Said before anything else can fail: `pulumi config set --secret` must use this same backend.
say "state: $PULUMI_BACKEND_URL (for other pulumi commands on this stack: export PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"

if [ "$problems" -gt 0 ]; then
  say "$problems problem(s) above; nothing was created."
  exit 2
fi
# The local backend encrypts secrets with a passphrase; the CLI prompts when it is not set.
pulumi stack select --create "$stack"
pulumi up --stack "$stack" "$@"
