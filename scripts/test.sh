#!/usr/bin/env bash
# Set everything up and run all checks and tests: lint, unit, service, socket and browser.
# With DATABASE_URL / REDIS_URL set, the same tests run on PostgreSQL and Redis.
source "$(dirname "${BASH_SOURCE[0]}")/_environment.sh"
ensure_virtualenv dev

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 || ! command -v xgettext >/dev/null 2>&1; then
  echo "==> Installing Chromium and its driver (browser tests) and gettext (translation checks)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "The tests need 'chromium', 'chromium-driver' and 'gettext' (apt-get install them as root)." >&2; exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver gettext >/dev/null
fi

if [ -f package.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "==> Installing npm (the accessibility tests inject axe-core from the npm registry)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  echo "==> npm ci (axe-core for the accessibility tests)"
  npm ci --silent --no-audit --no-fund
fi

echo "==> Lint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> Django checks"
.venv/bin/python manage.py check
.venv/bin/python manage.py makemigrations --check --dry-run
database=SQLite; [[ "${DATABASE_URL:-}" == postgres* ]] && database=PostgreSQL
layer=in-memory; [ -n "${REDIS_URL:-}" ] && layer=Redis
echo "==> Tests ($database, $layer channel layer; $(nproc) parallel processes, the browser tests in one of them)"
# Every property test draws its full number of examples here (the edit-test loop draws fewer).
export HYPOTHESIS_PROFILE=full
exec .venv/bin/python -m pytest -n auto --dist loadgroup "$@"
