#!/usr/bin/env bash
# The production path, end to end, the way the README's Production section sets it up:
# deploy/run.sh migrate, collectstatic (DEBUG=0), bootstrap, two daphnes for pages, one for the
# live sockets and the worker on PostgreSQL and a Redis of its own, nginx in front with TLS
# (SOCKET_DAPHNE_COUNT=1); then /healthz and /readyz through
# nginx and a walk over HTTPS and wss (deploy/smoke_walk.py; with Chromium installed, the
# citizen's page in a headless browser too); then a backup restored and checked.
# Everything it starts is stopped on exit and its databases dropped.
#
#   bash deploy/ci_smoke.sh          # needs PostgreSQL on 127.0.0.1:5432 (user postgres),
#                                    # redis-server and nginx (installed with apt-get if missing)
set -euo pipefail
# The project's .venv with the locked dependencies (the walk uses the `websockets` client).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_environment.sh"
ensure_virtualenv dev
PROJECT=$(pwd)
PYTHON=$PROJECT/.venv/bin/python
START=$(date +%s)
PGHOST_ARGS=(-h 127.0.0.1 -p 5432 -U postgres)
database="mutualaid_smoke_$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/mutualaid-smoke.XXXXXX")
chmod 755 "$work"  # nginx's workers read the static files under it
pids=()

say() { printf '==> [%3ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }

stop_all() {
  local status=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$status" != 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- $(basename "$log") (last lines) ---"; tail -n 30 "$log"; }
    done
  fi
  psql "${PGHOST_ARGS[@]}" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1
  psql "${PGHOST_ARGS[@]}" -qc "DROP DATABASE IF EXISTS ${database}_restored" >/dev/null 2>&1
  rm -rf "$work"
  if [ "$status" = 0 ]; then say "smoke test passed; everything stopped, databases dropped"
  else say "smoke test FAILED ($status); everything stopped, databases dropped"; fi
  exit "$status"
}
trap stop_all EXIT INT TERM

if ! command -v nginx >/dev/null 2>&1; then
  say "apt-get install nginx"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # RUNLEVEL=1: install only; the distribution's own nginx service is not started.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
fi
for program in nginx openssl redis-server psql pg_dump pg_restore; do
  command -v "$program" >/dev/null || { echo "ci_smoke: $program is needed" >&2; exit 1; }
done

free_ports() {  # $1 ports nobody listens on, on loopback
  "$PYTHON" - "$1" <<'PY'
import socket, sys
probes = []
for _ in range(int(sys.argv[1])):
    probe = socket.socket(); probe.bind(("127.0.0.1", 0)); probes.append(probe)
print(" ".join(str(probe.getsockname()[1]) for probe in probes))
PY
}
read -r HTTPS_PORT HTTP_PORT REDIS_PORT <<<"$(free_ports 3)"
# Two daphnes for pages on DAPHNE_BASE_PORT+1 and +2, one for the live sockets on +3 (nginx's
# SOCKET_DAPHNE_COUNT): find a base with all three free.
DAPHNE_BASE_PORT=$("$PYTHON" - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 60000)
    try:
        probes = [socket.create_server(("127.0.0.1", base + n)) for n in (1, 2, 3)]
    except OSError:
        continue
    for probe in probes:
        probe.close()
    print(base)
    break
PY
)

say "a private redis-server on 127.0.0.1:$REDIS_PORT, database $database, work folder $work"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
psql "${PGHOST_ARGS[@]}" -qc "CREATE DATABASE $database"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=localhost >/dev/null 2>&1

# The production settings (deploy/mutualaid.env.example), pointed at this machine's loopback.
export DEBUG=0
SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')
export SECRET_KEY
export ALLOWED_HOSTS=localhost
export CSRF_TRUSTED_ORIGINS="https://localhost:$HTTPS_PORT"
export SITE_URL="https://localhost:$HTTPS_PORT"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CHANNEL_PREFIX="smoke$$"
export TRUSTED_PROXY_COUNT=1
export STATIC_ROOT="$work/static"
export LOG_FORMAT=json
METRICS_TOKEN=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')
export METRICS_TOKEN
export GEOCODER=offline MAP_TILE_URL=""   # nothing leaves the machine
# The worker sends the outbox into memory: the console backend would print e-mails among the logs.
export EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend
export DAPHNE_BASE_PORT

say "deploy/run.sh migrate"
bash deploy/run.sh migrate >"$work/migrate.log" 2>&1
say "deploy/run.sh collectstatic (DEBUG=0: hashed, compressed)"
bash deploy/run.sh collectstatic >"$work/collectstatic.log" 2>&1
tail -n 1 "$work/collectstatic.log"
say "deploy/run.sh check (check --deploy)"
bash deploy/run.sh check >"$work/check.log" 2>&1
say "deploy/run.sh bootstrap"
bash deploy/run.sh bootstrap --name Smoketown --slug smoketown --coordinator smoke-coordinator \
  --email coordinator@example.org >"$work/bootstrap.log" 2>&1
grep -q "/accounts/reset/" "$work/bootstrap.log"
head -n 1 "$work/bootstrap.log"

# The volunteer, as a coordinator would register someone who offered help on the phone.
SMOKE_VOLUNTEER=smoke-volunteer
SMOKE_PASSWORD=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(16))')
read -r SMOKE_COMMUNITY_ID SMOKE_CATEGORY_ID <<<"$(
  SMOKE_VOLUNTEER=$SMOKE_VOLUNTEER SMOKE_PASSWORD=$SMOKE_PASSWORD bash deploy/run.sh manage shell -c '
import os
from mutualaid.accounts.models import User
from mutualaid.aid import services
from mutualaid.aid.models import Community
from mutualaid.aid.places import Location
community = Community.objects.get(slug="smoketown")
user = User(username=os.environ["SMOKE_VOLUNTEER"], first_name="Smoke", community=community, email="v@example.org")
user.set_password(os.environ["SMOKE_PASSWORD"])
user.save()
shopping = community.categories.get(slug="shopping")
services.volunteer_offer_save(volunteer=user, community=community, skills=[shopping],
    location=Location(50.8790, 4.7050, "Ladeuzeplein 5, 3000 Leuven", "Leuven centrum"),
    max_km=5.0, availability=list(range(21)), capacity=1)
print(community.pk, shopping.pk)
' 2>>"$work/volunteer.log" | tail -n 1
)"
say "volunteer $SMOKE_VOLUNTEER created (community $SMOKE_COMMUNITY_ID)"

say "deploy/run.sh daphne 1, 2 (pages, ports $((DAPHNE_BASE_PORT + 1)), $((DAPHNE_BASE_PORT + 2))), daphne 3 (sockets, port $((DAPHNE_BASE_PORT + 3))), deploy/run.sh worker"
for number in 1 2 3; do
  bash deploy/run.sh daphne "$number" >"$work/daphne-$number.log" 2>&1 &
  pids+=($!)
done
bash deploy/run.sh worker >"$work/worker.log" 2>&1 &
pids+=($!)

NGINX_SERVER_NAME=localhost NGINX_HTTPS_LISTEN="127.0.0.1:$HTTPS_PORT" NGINX_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" \
TLS_CERTIFICATE="$work/cert.pem" TLS_CERTIFICATE_KEY="$work/key.pem" DAPHNE_COUNT=2 SOCKET_DAPHNE_COUNT=1 \
  bash deploy/run.sh nginx-site >"$work/site.conf"
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $work/site.conf;
}
NGINX
nginx -t -q -p "$work/nginx" -e "$work/nginx-error.log" -c "$work/nginx.conf"
say "nginx on https://127.0.0.1:$HTTPS_PORT (and http://127.0.0.1:$HTTP_PORT)"
nginx -p "$work/nginx" -e "$work/nginx-error.log" -c "$work/nginx.conf" -g "daemon off;" &
pids+=($!)

probe() {  # $1 path: the status code through nginx
  curl -sk -o "$work/probe.out" -w '%{http_code}' --max-time 5 \
    --resolve "localhost:$HTTPS_PORT:127.0.0.1" "https://localhost:$HTTPS_PORT$1" || true
}
wait_for() {  # $1 path, $2 seconds: until it answers 200
  local code=""
  for _ in $(seq 1 "$(( $2 * 2 ))"); do
    code=$(probe "$1")
    [ "$code" = 200 ] && { echo "    $1: 200 $(head -c 300 "$work/probe.out")"; return 0; }
    sleep 0.5
  done
  echo "$1 did not answer 200 within $2 s (last: $code $(head -c 300 "$work/probe.out"))" >&2
  return 1
}
wait_for /healthz 60
wait_for /readyz 60

# The citizen's page in a real headless Chromium too, where one is installed (SMOKE_BROWSER=0: not).
if [ -z "${SMOKE_BROWSER:-}" ]; then
  SMOKE_BROWSER=0
  command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && SMOKE_BROWSER=1
fi
say "the walk: sign-up, request, proposal on the volunteer's socket, accept, the citizen's page (browser: $SMOKE_BROWSER)"
SMOKE_PORT=$HTTPS_PORT SMOKE_HTTP_PORT=$HTTP_PORT SMOKE_COMMUNITY_ID=$SMOKE_COMMUNITY_ID \
SMOKE_CATEGORY_ID=$SMOKE_CATEGORY_ID SMOKE_VOLUNTEER=$SMOKE_VOLUNTEER SMOKE_PASSWORD=$SMOKE_PASSWORD \
SMOKE_BROWSER=$SMOKE_BROWSER \
  timeout 240 "$PYTHON" deploy/smoke_walk.py

say "each daphne's own /metrics (loopback, no token): nginx spread the pages over daphnes 1 and 2, the sockets went to 3"
metric() {  # $1 daphne, $2 metric: its total on that daphne
  curl -s --max-time 5 "http://127.0.0.1:$((DAPHNE_BASE_PORT + $1))/metrics" |
    awk -v name="^$2" '$0 ~ name { total += $NF } END { print total + 0 }'
}
for number in 1 2 3; do
  served=$(metric "$number" mutualaid_http_requests_total)
  sockets=$(metric "$number" mutualaid_websockets_accepted_total)
  echo "    daphne $number: $served HTTP requests answered, $sockets sockets accepted"
  if [ "$number" = 3 ]; then
    [ "${served%.*}" -eq 0 ] && [ "${sockets%.*}" -gt 0 ]
  else
    [ "${served%.*}" -gt 0 ] && [ "${sockets%.*}" -eq 0 ]
  fi
done

say "logs: one JSON object per line (daphnes and worker)"
"$PYTHON" - "$work/worker.log" "$work/daphne-1.log" "$work/daphne-2.log" "$work/daphne-3.log" <<'PY'
import json, sys
for path in sys.argv[1:]:
    # The worker command's own two lines to its terminal ("Worker started/stopped") aside.
    lines = [line for line in open(path) if line.strip() and not line.startswith("Worker st")]
    events = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert all({"time", "level", "logger", "message"} <= event.keys() for event in events), lines[:3]
    example = f", e.g. {events[0]}" if events else ""
    print(f"    {path.rsplit('/', 1)[-1]}: {len(events)} JSON events{example}")
PY

say "backup (pg_dump) and restore into a second database, compared"
pg_dump "${PGHOST_ARGS[@]}" -Fc -f "$work/backup.dump" "$database"
psql "${PGHOST_ARGS[@]}" -qc "CREATE DATABASE ${database}_restored"
pg_restore "${PGHOST_ARGS[@]}" --no-owner -d "${database}_restored" "$work/backup.dump"
count_query="SELECT (SELECT count(*) FROM accounts_user) || ' people, ' || (SELECT count(*) FROM aid_helprequest WHERE status = 'accepted') || ' accepted requests, ' || (SELECT count(*) FROM aid_statuschange) || ' status changes'"
original=$(psql "${PGHOST_ARGS[@]}" -tAc "$count_query" "$database")
restored=$(psql "${PGHOST_ARGS[@]}" -tAc "$count_query" "${database}_restored")
echo "    original: $original; restored: $restored"
[ "$original" = "$restored" ]

say "done in $(( $(date +%s) - START )) s"
