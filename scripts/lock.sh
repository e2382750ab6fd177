#!/usr/bin/env bash
# Write requirements/main.txt and requirements/dev.txt from pyproject.toml with pip-compile.
#   bash scripts/lock.sh                          # after changing pyproject.toml: keep the rest
#   bash scripts/lock.sh --upgrade                # every package to its newest allowed version
#   bash scripts/lock.sh --upgrade-package django # one package
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for lock in main dev; do
  extra=()
  [ "$lock" = dev ] && extra=(--extra dev)
  .venv/bin/pip-compile --quiet --allow-unsafe --strip-extras --no-header --no-emit-index-url \
    --no-emit-find-links "${extra[@]}" "$@" -o "requirements/$lock.txt" pyproject.toml
done
echo "requirements/main.txt and requirements/dev.txt written; run scripts/test.sh, then commit them."
