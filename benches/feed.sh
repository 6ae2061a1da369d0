#!/usr/bin/env bash
# The change feed and its caches, measured side by side in one run on two instances (A and B,
# release build of the polls demo, separate processes, one database), with the Django OAuth
# Toolkit peer (../shared/peers/dot) beside them. Prints:
#   1. on B: the unguarded home page (the ceiling), a guarded GET, and introspection with Basic
#      auth, as req/s and as ratios to the ceiling and to DOT (wrk -t1 -c16);
#   2. how soon B refuses a token revoked on A (p50 / p99 / max over TRIALS trials), and
#      whether A refuses it on its very next request;
#   3. the guarded-GET latency on B while A is loaded with token requests (TAIL seconds);
#   4. B's RSS idle, and after caching FILL more tokens (scaled to 1M).
#
#   benches/feed.sh                    # BACKEND=sqlite DURATION=10s TAIL=60s TRIALS=20 FILL=20000
#   BACKEND=postgres benches/feed.sh   # a throwaway database on 127.0.0.1:5432, dropped after
#
# Needs wrk (apt-get install wrk) and python3. Servers listen on loopback only and are stopped by
# their PIDs when the script ends.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEER_SRC="${PEER_SRC:-$ROOT/../shared/peers/dot}"
PEER="$ROOT/target/peer-dot"
BACKEND="${BACKEND:-sqlite}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
TAIL="${TAIL:-60}"
TRIALS="${TRIALS:-20}"
FILL="${FILL:-20000}"
A_PORT="${A_PORT:-8111}" B_PORT="${B_PORT:-8112}" DOT_PORT="${DOT_PORT:-8113}"
PROBE="$ROOT/benches/feed_probe.py"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
if [ ! -x "$PEER/.venv/bin/gunicorn" ]; then
  rm -rf "$PEER" && mkdir -p "$PEER" && cp -r "$PEER_SRC"/. "$PEER"/ && chmod -R u+w "$PEER"
  (cd "$PEER" && ./setup.sh) >&2
fi
echo "building the release demo..." >&2
(cd "$ROOT" && cargo build -q --release --example polls)
POLLS="$ROOT/target/release/examples/polls"

WORK="$(mktemp -d)"
PIDS=() PGDB=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$PGDB" ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" postgres >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
  PGDB="sg_feed_bench_$$"
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $PGDB" postgres
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PGDB"
else
  export DATABASE_URL="sqlite://$WORK/bench.db"
fi
export SCOPEGATE_DEBUG=true SCOPEGATE_LOG=warn
# Load from one address must not trip the throttle of a client that authenticates correctly.
export SCOPEGATE_CLIENT_AUTH_FAILURES_PER_IP=1000000
"$POLLS" migrate >/dev/null
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
CC=$("$POLLS" register-client --name cc --grant-type client_credentials --client-type confidential --scope read polls:index polls:detail --approved --json)
"$POLLS" syncscopes >/dev/null 2>&1 || true
for port in $A_PORT $B_PORT; do
  "$POLLS" serve --addr "127.0.0.1:$port" >/dev/null 2>>"$WORK/sg.log" &
  PIDS+=($!)
done
B_PID=${PIDS[1]}
(cd "$PEER/project" && DOTBENCH_STATE="$PEER/.state" DOTBENCH_CONN_MAX_AGE=600 exec "$PEER/.venv/bin/gunicorn" \
   dotbench.wsgi:application --bind "127.0.0.1:$DOT_PORT" --workers 2 --threads 4 --log-level warning) \
   >"$WORK/dot.log" 2>&1 &
PIDS+=($!)

up() { for _ in $(seq 1 100); do curl -sf "$1" 2>/dev/null | grep -q "${2:-}" && return 0; sleep 0.1; done; echo "no server at $1" >&2; exit 1; }
A="http://127.0.0.1:$A_PORT" B="http://127.0.0.1:$B_PORT" DOT="http://127.0.0.1:$DOT_PORT"
up "$A/health/ready" live; up "$B/health/ready" live; up "$DOT/plain/hello"

b64() { printf '%s:%s' "$1" "$2" | base64 -w0; }
SG_AUTH=$(b64 "$(echo "$CC" | json client_id)" "$(echo "$CC" | json client_secret)")
DOT_AUTH=$(b64 cc-plain "cc-plain-secret-0123456789abcdefghijklmnopqrstuv")
token() { curl -sf -H "Authorization: Basic $1" -d grant_type=client_credentials -d "scope=$2" "$3" | json access_token; }
SG_TOKEN=$(token "$SG_AUTH" "polls:index polls:detail" "$A/oauth/token")
DOT_TOKEN=$(token "$DOT_AUTH" read "$DOT/o/token/")
rss() { awk '/VmRSS/{printf "%.1f MB", $2/1024}' "/proc/$1/status"; }
IDLE_RSS=$(rss "$B_PID")

measure() {  # $1 url, $2 lua (or ""); prints req/s
  local s=()
  [ -n "$2" ] && s=(-s "$PEER/lua/$2")
  wrk -t1 -c16 -d"$WARMUP" "${s[@]}" "$1" >/dev/null 2>&1 || true
  wrk -t1 -c16 -d"$DURATION" "${s[@]}" "$1" | awk '/Requests\/sec/{print $2} /Non-2xx/{print "NON2XX", $0 > "/dev/stderr"}'
}
ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}x')"; }

echo "## 1. Throughput on B ($BACKEND), wrk -t1 -c16 $DURATION, side by side"
plain=$(measure "$B/" "")
guarded=$(BEARER_TOKEN=$SG_TOKEN measure "$B/polls/1/" bearer_get.lua)
intro=$(INTROSPECT_TOKEN=$SG_TOKEN INTROSPECT_AUTH="Basic $SG_AUTH" measure "$B/oauth/introspect" introspect.lua)
dot_guarded=$(BEARER_TOKEN=$DOT_TOKEN measure "$DOT/api/hello" bearer_get.lua)
dot_intro=$(INTROSPECT_TOKEN=$DOT_TOKEN INTROSPECT_AUTH="Basic $DOT_AUTH" measure "$DOT/o/introspect/" introspect.lua)
printf '| what | scopegate req/s | vs unguarded | DOT req/s | vs DOT |\n|---|---:|---:|---:|---:|\n'
printf '| unguarded home page | %s | 1.00x | | |\n' "$plain"
printf '| Bearer-guarded GET | %s | %s | %s | %s |\n' "$guarded" "$(ratio "$guarded" "$plain")" "$dot_guarded" "$(ratio "$guarded" "$dot_guarded")"
printf '| introspection, Basic auth | %s | %s | %s | %s |\n' "$intro" "$(ratio "$intro" "$plain")" "$dot_intro" "$(ratio "$intro" "$dot_intro")"

echo; echo "## 2. Propagation"
python3 "$PROBE" propagate "$A" "$B" "$SG_AUTH" "$TRIALS"

echo; echo "## 3. Guarded GET on B while A issues tokens (${TAIL}s, wrk -t1 -c8 on B, -t1 -c16 on A)"
BASIC_AUTH=$SG_AUTH wrk -t1 -c16 -d"${TAIL}s" -s "$PEER/lua/token_cc.lua" "$A/oauth/token" >"$WORK/a.txt" 2>&1 &
LOAD=$!
BEARER_TOKEN=$SG_TOKEN wrk -t1 -c8 -d"${TAIL}s" --latency -s "$PEER/lua/bearer_get.lua" "$B/polls/1/" >"$WORK/b.txt"
wait "$LOAD" || true
awk '/Latency  /{print "latency mean " $2 ", stdev " $3 ", max " $4} / 50%| 90%| 99%/{printf "p%s %s\n", $1, $2} /Requests\/sec/{print "B: " $2 " req/s"}' "$WORK/b.txt"
awk '/Requests\/sec/{print "A (token endpoint, under load): " $2 " tokens/s"}' "$WORK/a.txt"

echo; echo "## 4. Memory of B"
BEFORE_KB=$(awk '/VmRSS/{print $2}' "/proc/$B_PID/status")
python3 "$PROBE" fill "$A" "$B" "$SG_AUTH" "$FILL"
AFTER_KB=$(awk '/VmRSS/{print $2}' "/proc/$B_PID/status")
python3 - "$IDLE_RSS" "$BEFORE_KB" "$AFTER_KB" "$FILL" <<'PY'
import sys
idle, before, after, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
per = (after - before) * 1024 / n
print(f"idle RSS {idle}; after the runs {before/1024:.1f} MB; +{n} cached tokens: {after/1024:.1f} MB")
print(f"=> {per:.0f} bytes per cached token; 1M cached tokens ~ {per * 1e6 / 2**20:.0f} MB")
PY
