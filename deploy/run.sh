#!/usr/bin/env bash
# The production command lines, in one place: the systemd units and CI call this script.
#
#   deploy/run.sh install            # the locked dependencies into .venv (after an upgrade)
#   deploy/run.sh migrate            # the database schema (before restarting on an upgrade)
#   deploy/run.sh collectstatic      # static files into STATIC_ROOT (nginx serves them)
#   deploy/run.sh check              # Django's deployment checks
#   deploy/run.sh bootstrap --name Leuven --slug leuven --coordinator anna --email anna@example.org
#   deploy/run.sh daphne N           # the N-th daphne, on 127.0.0.1:$((DAPHNE_BASE_PORT + N))
#   deploy/run.sh worker             # the background worker (one or more)
#   deploy/run.sh nginx-site         # prints deploy/nginx/mutualaid.conf.template filled in
#   deploy/run.sh manage ARGS...     # any other manage.py command
#
# Settings come from the environment (deploy/mutualaid.env.example lists them): systemd
# reads them from its EnvironmentFile; by hand, MUTUALAID_ENV_FILE=/etc/mutualaid/mutualaid.env
# loads that file first.
set -euo pipefail
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$PROJECT"
if [ -n "${MUTUALAID_ENV_FILE:-}" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$MUTUALAID_ENV_FILE"
  set +a
fi
PYTHON=${PYTHON:-$PROJECT/.venv/bin/python}
DAPHNE_BASE_PORT=${DAPHNE_BASE_PORT:-8000}
DAPHNE_BIND=${DAPHNE_BIND:-127.0.0.1}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

command=${1:-}
[ -n "$command" ] || usage
shift
case "$command" in
  install)
    "$PYTHON" -m pip install --quiet -r requirements/main.txt
    "$PYTHON" -m pip install --quiet --no-deps -e .
    ;;
  migrate)
    exec "$PYTHON" manage.py migrate --noinput
    ;;
  collectstatic)
    exec "$PYTHON" manage.py collectstatic --noinput --verbosity 1
    ;;
  check)
    exec "$PYTHON" manage.py check --deploy --fail-level WARNING
    ;;
  bootstrap)
    exec "$PYTHON" manage.py bootstrap_community "$@"
    ;;
  daphne)
    number=${1:?"daphne N: which daphne (1, 2, ...): it listens on port DAPHNE_BASE_PORT + N"}
    [[ "$number" =~ ^[0-9]+$ ]] || usage
    # No --proxy-headers: the service reads X-Forwarded-For itself (TRUSTED_PROXY_COUNT), and
    # /metrics trusts only the connection's own address. --verbosity 0: no access log of
    # daphne's own (not in LOG_FORMAT; nginx keeps one, /metrics counts every view); the
    # service's own logs follow LOG_LEVEL. mutualaid.operations.serve is daphne with a graceful
    # SIGTERM (stop listening, close every socket with 1001, let running requests answer, at
    # most --drain-seconds; daphne alone cancels them unanswered and hangs). A socket frame
    # over 64 KiB closes the socket (1009); the consumer refuses smaller oversized messages.
    # A handshake may take 60 s, not 5: after a restart every page reconnects at once, and
    # daphne dropped each handshake still queued after 5 s without an answer (nginx waits
    # an hour on the socket path).
    exec "$PYTHON" -m mutualaid.operations.serve -b "$DAPHNE_BIND" -p "$((DAPHNE_BASE_PORT + number))" \
      --verbosity 0 --application-close-timeout 10 --drain-seconds 15 --websocket_connect_timeout 60 \
      --websocket-max-message-size 65536 --websocket-max-frame-size 65536 mutualaid.asgi:application
    ;;
  worker)
    exec "$PYTHON" manage.py worker
    ;;
  nginx-site)
    # NGINX_SERVER_NAME, NGINX_HTTPS_LISTEN (443), NGINX_HTTP_LISTEN (80), TLS_CERTIFICATE,
    # TLS_CERTIFICATE_KEY, STATIC_ROOT, DAPHNE_COUNT (2), DAPHNE_BASE_PORT (8000),
    # SOCKET_DAPHNE_COUNT (0): daphnes DAPHNE_COUNT+1 .. +SOCKET_DAPHNE_COUNT take the
    # live-update sockets only (0: the page daphnes take them too)
    upstreams=""
    for number in $(seq 1 "${DAPHNE_COUNT:-2}"); do
      upstreams+="server 127.0.0.1:$((DAPHNE_BASE_PORT + number)) max_fails=1 fail_timeout=5s; "
    done
    socket_upstreams=""
    for number in $(seq $(("${DAPHNE_COUNT:-2}" + 1)) $(("${DAPHNE_COUNT:-2}" + "${SOCKET_DAPHNE_COUNT:-0}"))); do
      socket_upstreams+="server 127.0.0.1:$((DAPHNE_BASE_PORT + number)) max_fails=1 fail_timeout=5s; "
    done
    sed -e "s|@SERVER_NAME@|${NGINX_SERVER_NAME:?set NGINX_SERVER_NAME}|g" \
        -e "s|@HTTPS_LISTEN@|${NGINX_HTTPS_LISTEN:-443}|g" \
        -e "s|@HTTP_LISTEN@|${NGINX_HTTP_LISTEN:-80}|g" \
        -e "s|@TLS_CERTIFICATE@|${TLS_CERTIFICATE:?set TLS_CERTIFICATE}|g" \
        -e "s|@TLS_CERTIFICATE_KEY@|${TLS_CERTIFICATE_KEY:?set TLS_CERTIFICATE_KEY}|g" \
        -e "s|@STATIC_ROOT@|${STATIC_ROOT:-$PROJECT/staticfiles}|g" \
        -e "s|@UPSTREAM_SERVERS@|$upstreams|g" \
        -e "s|@SOCKET_UPSTREAM_SERVERS@|${socket_upstreams:-$upstreams}|g" \
        deploy/nginx/mutualaid.conf.template
    ;;
  manage)
    exec "$PYTHON" manage.py "$@"
    ;;
  *)
    usage
    ;;
esac
