#!/usr/bin/env bash
# Re-resolve the top-level dependencies in pyproject.toml into requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e '.[test]'
{
  echo '# Exact versions for every machine: `make` installs this file. Regenerate with scripts/lock.sh after editing pyproject.toml.'
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^-e'
} > requirements.lock
