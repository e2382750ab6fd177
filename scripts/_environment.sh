# Shared by serve.sh and test.sh: find Python 3.11+, create .venv, install the project with
# the exact versions locked in requirements/ (CONTRIBUTING says how to upgrade them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is needed (e.g. 'sudo apt-get install python3')." >&2
  return 1
}

ensure_virtualenv() {  # $1: the lock to install, "main" (serving) or "dev" (tests, tools)
  local python lock="requirements/$1.txt" stamp=".venv/.installed-$1"
  python=$(find_python)
  # A first run stopped while creating .venv (Ctrl+C) leaves one without pip: start it afresh.
  if [ -x .venv/bin/python ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    echo "==> .venv is incomplete (an interrupted first run?): creating it again"
    rm -rf .venv
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "==> Creating the virtual environment in .venv"
    if ! "$python" -m venv .venv; then
      echo "Could not create a virtual environment: on Debian/Ubuntu run 'sudo apt-get install python3-venv'." >&2
      exit 1
    fi
  fi
  # Installed already from this very lock and project file: nothing to do.
  local wanted
  wanted=$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "==> Dependencies already installed from $lock"
    return 0
  fi
  echo "==> Installing the project and its dependencies from $lock"
  .venv/bin/python -m pip install --quiet -r "$lock"
  .venv/bin/python -m pip install --quiet --no-deps -e .
  rm -f .venv/.installed-*  # another lock's packages may have changed under it
  echo "$wanted" > "$stamp"
}
