#!/usr/bin/env bash
# Set everything up and serve the Leuven demo on http://127.0.0.1:8000 (SQLite, in-memory
# channel layer, matching inside the server process). Ctrl+C stops it.
source "$(dirname "${BASH_SOURCE[0]}")/_environment.sh"
ensure_virtualenv main
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
# Links in e-mails point at this server unless SITE_URL says otherwise.
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
echo "==> Preparing the database"
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_leuven_demo
echo
echo "==> Serving on http://$HOST:$PORT/ (Ctrl+C to stop)"
exec .venv/bin/daphne -b "$HOST" -p "$PORT" mutualaid.asgi:application
