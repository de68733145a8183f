#!/usr/bin/env bash
# The README's main job: `pulumi up` on one stack. The state lives in a local file backend
# (.pulumi-state/) unless PULUMI_BACKEND_URL says otherwise; the Pulumi CLI creates the
# virtualenv and installs requirements.txt itself (Pulumi.yaml: toolchain pip, virtualenv venv).
#   usage: scripts/up.sh <stack> [pulumi up flags...]      e.g. scripts/up.sh dev --yes
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${1:?usage: scripts/up.sh <stack> [pulumi up flags...]}
shift
if [ ! -f "Pulumi.$stack.yaml" ]; then
  echo "Pulumi.$stack.yaml not found: copy Pulumi.example.yaml to it and set its secrets (see README)." >&2
  exit 2
fi
if ! command -v pulumi >/dev/null 2>&1; then
  curl -fsSL https://get.pulumi.com | sh
  export PATH="$HOME/.pulumi/bin:$PATH"
fi
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
# The local backend encrypts secrets with a passphrase; the CLI prompts when it is not set.
pulumi stack select --create "$stack"
pulumi up --stack "$stack" "$@"
