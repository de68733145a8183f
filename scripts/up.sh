#!/usr/bin/env bash
# The README's main job: `pulumi up` on one stack.
#   usage: scripts/up.sh <stack> [pulumi up flags...]      e.g. scripts/up.sh dev --yes
#          scripts/up.sh --check <stack>                   the offline config check alone, in seconds
#
# Before anything is created it checks, and says every problem at once with what to do:
#   - the stack file's config, offline (python -m stack_config.check, from the small .check/ venv of
#     requirements-check.txt: the rules preview applies, placeholders left from Pulumi.example.yaml,
#     a password not set as a secret), and what the stack would create and cost;
#   - the Pulumi CLI (it installs the pinned version below when it is missing);
#   - AWS credentials (it shows the account and region it will deploy to).
# The state lives in one place, `.pulumi-state/` in this directory, unless PULUMI_BACKEND_URL names
# another backend; it prints the variable to export so `pulumi stack output`, `refresh` and
# `destroy` look in the same place.
set -euo pipefail
cd "$(dirname "$0")/.."

PULUMI_VERSION=3.207.0   # the CLI this project is tested against (>= 3.139.0 required: Pulumi.yaml)
RUNTIME_MB=430           # venv/ with requirements.txt installed (Pulumi SDK, pulumi-aws, boto3, grpcio...)
CHECK_MB=60              # .check/ with requirements-check.txt installed

say() { printf 'up.sh: %s\n' "$*" >&2; }
usage() {
  say "usage: scripts/up.sh <stack> [pulumi up flags...] | scripts/up.sh --check <stack>"
  exit 2
}

check_only=false
if [ "${1:-}" = "--check" ]; then
  check_only=true
  shift
  [ $# -eq 1 ] || usage
fi
if [ $# -lt 1 ] || [ -z "$1" ]; then usage; fi
stack=$1
shift
file="Pulumi.$stack.yaml"

if [ ! -f "$file" ]; then
  say "$file not found: copy Pulumi.example.yaml to it and set its secrets (README, Quick start)."
  exit 2
fi

# Where pip downloads from: PIP_INDEX_URL, pip's own config, or PyPI.
index_of() {
  local python=$1 index
  index=${PIP_INDEX_URL:-$("$python" -m pip config get global.index-url 2>/dev/null || true)}
  printf '%s' "${index:-https://pypi.org/simple}"
}

# make_venv DIR REQUIREMENTS MB WHAT: a virtualenv with REQUIREMENTS installed, said before it starts;
# one this run created and could not finish is removed, so the next run starts afresh.
make_venv() {
  local dir=$1 requirements=$2 mb=$3 what=$4 created=false
  if [ ! -x "$dir/bin/python" ]; then
    created=true
    if ! python3 -m venv "$dir"; then
      rm -rf "$dir"
      say "could not create $dir/ with python3 -m venv (on Debian and Ubuntu: apt install python3-venv)."
      return 1
    fi
    say "installing $what: $requirements into $dir/, about $mb MB, from $(index_of "$dir/bin/python")"
  fi
  if ! "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2; then
    if [ "$created" = true ]; then
      rm -rf "$dir"
      say "could not install $requirements (no package index reachable? set PIP_INDEX_URL to your mirror);"
      say "  removed the unfinished $dir/. Run this again once pip can reach an index."
    else
      say "could not install $requirements into $dir/ (no package index reachable? set PIP_INDEX_URL)."
    fi
    return 1
  fi
}

make_venv .check requirements-check.txt "$CHECK_MB" "the config check's packages (pydantic, PyYAML, cryptography)" || exit 2
if [ "$check_only" = true ]; then
  exec .check/bin/python -m stack_config.check "$file"
fi

# Each thing that stops the deploy, by name: the config's own problems are counted by the check.
blockers=()

say "checking $file (offline: the same rules as pulumi preview)"
if ! .check/bin/python -m stack_config.check "$file"; then
  blockers+=("the stack config")
fi

# The program's virtualenv, as the CLI makes it (Pulumi.yaml: toolchain pip, virtualenv venv).
if ! make_venv venv requirements.txt "$RUNTIME_MB" "the program's runtime (Pulumi SDK and providers, boto3)"; then
  blockers+=("the runtime packages")
fi

if ! command -v pulumi >/dev/null 2>&1 && [ -x "$HOME/.pulumi/bin/pulumi" ]; then
  export PATH="$HOME/.pulumi/bin:$PATH"
  say "the Pulumi CLI is in ~/.pulumi/bin, not on PATH: for your own pulumi commands, add to your shell profile"
  say "  export PATH=\"\$HOME/.pulumi/bin:\$PATH\""
fi
if ! command -v pulumi >/dev/null 2>&1; then
  say "the Pulumi CLI is not installed: installing $PULUMI_VERSION into ~/.pulumi (get.pulumi.com)"
  if curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION" >&2; then
    export PATH="$HOME/.pulumi/bin:$PATH"
    say "installed the Pulumi CLI into ~/.pulumi/bin. For your own pulumi commands (README, Quick start step 3),"
    say "  add to your shell profile: export PATH=\"\$HOME/.pulumi/bin:\$PATH\""
  else
    say "could not install the Pulumi CLI from get.pulumi.com. Install $PULUMI_VERSION by hand"
    say "  (https://www.pulumi.com/docs/install/, or an internal mirror of its release archive),"
    say "  put 'pulumi' on PATH, and run this again."
    blockers+=("the Pulumi CLI")
  fi
fi

if [ ! -x venv/bin/python ]; then
  say "AWS credentials not checked: the runtime packages are missing."
elif ! account=$(venv/bin/python -m stack_config.aws_identity "$file" 2>&1); then
  say "no usable AWS credentials: $account"
  say "  set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account to deploy to."
  blockers+=("AWS credentials")
else
  say "deploying to $account"
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
# Said before anything else can fail: `pulumi config set --secret` must use this same backend.
say "state: $PULUMI_BACKEND_URL (for other pulumi commands on this stack: export PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"

if [ ${#blockers[@]} -gt 0 ]; then
  joined=$(printf '%s; ' "${blockers[@]}")
  say "nothing was created. To fix first, each said above: ${joined%; }."
  exit 2
fi
# The local backend encrypts secrets with a passphrase; the CLI prompts when it is not set.
pulumi stack select --create "$stack"
pulumi up --stack "$stack" "$@"
