#!/usr/bin/env bash
# Tail latency of a guarded GET on instance B while instance A, a separate process on the same
# database, is saturated by wrk on its unguarded home page (the setup of issue 14's stall
# report). Also samples B's /health/ready every second, for the change feed's state.
#
#   benches/stall.sh                     # BACKEND=postgres DUR=20 BPATH=/polls/1/ ALOAD=1
#   BACKEND=sqlite benches/stall.sh      # one SQLite file
#   ALOAD=0 benches/stall.sh             # the same without the load on A
#   SCHED=1 benches/stall.sh             # also trace the scheduler (perf sched, as root) and
#                                        # list the threads that waited over 50 ms for a CPU
#
# Needs wrk and the peer's Lua scripts (benches/feed.sh sets them up in target/peer-dot).
# Servers listen on loopback only and are stopped by their PIDs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND="${BACKEND:-postgres}" DUR="${DUR:-20}" BPATH="${BPATH:-/polls/1/}" ALOAD="${ALOAD:-1}"
LUA="$ROOT/target/peer-dot/lua/bearer_get.lua"
[ -f "$LUA" ] || { echo "run benches/feed.sh once first (it sets up $LUA)" >&2; exit 1; }
(cd "$ROOT" && cargo build -q --release --example polls)
BIN="$ROOT/target/release/examples/polls"
WORK="$(mktemp -d)" DB="" PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$DB" ] && psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$BACKEND" = postgres ]; then
  DB="sg_stall_$$"
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $DB" postgres
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
else
  export DATABASE_URL="sqlite://$WORK/x.db"
fi
export SCOPEGATE_DEBUG=true SCOPEGATE_LOG=warn
"$BIN" migrate >/dev/null
CC=$("$BIN" register-client --name cc --grant-type client_credentials --client-type confidential --scope polls:detail --approved --json)
"$BIN" syncscopes >/dev/null 2>&1 || true
"$BIN" serve --addr 127.0.0.1:8401 >/dev/null 2>&1 & PIDS+=($!)
"$BIN" serve --addr 127.0.0.1:8402 >/dev/null 2>&1 & PIDS+=($!)
for port in 8401 8402; do
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$port/health/ready" | grep -q live && break; sleep 0.1; done
done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
TOK=$(curl -s -u "$(echo "$CC" | json client_id):$(echo "$CC" | json client_secret)" \
  -d grant_type=client_credentials -d scope=polls:detail 127.0.0.1:8401/oauth/token | json access_token)
if [ "$ALOAD" = 1 ]; then wrk -t1 -c16 -d"${DUR}s" http://127.0.0.1:8401/ >/dev/null 2>&1 & PIDS+=($!); fi
( for _ in $(seq 1 "$DUR"); do sleep 1; curl -s -m 2 127.0.0.1:8402/health/ready || printf 'no answer within 2 s'; echo; done ) > "$WORK/feed.txt" &
PIDS+=($!)
if [ "${SCHED:-0}" = 1 ]; then
  perf sched record -a -q -o "$WORK/sched.data" -- sleep "$DUR" >/dev/null 2>&1 &
  SCHED_PID=$!; PIDS+=($SCHED_PID)
fi
echo "B $BPATH ($BACKEND), A loaded: $ALOAD, ${DUR}s:"
BEARER_TOKEN=$TOK wrk -t1 -c8 -d"${DUR}s" --latency -s "$LUA" "http://127.0.0.1:8402$BPATH" \
  | grep -E "Latency  |50%|99%|Requests/sec|Non-2xx"
sleep 2
echo "B's /health/ready, once a second:"; sort "$WORK/feed.txt" | uniq -c
if [ "${SCHED:-0}" = 1 ]; then
  echo "threads that waited over 50 ms for a CPU (kernel.sched_autogroup_enabled=$(cat /proc/sys/kernel/sched_autogroup_enabled)): name, times, longest ms"
  wait "$SCHED_PID" || true
  perf sched timehist -i "$WORK/sched.data" 2>/dev/null | awk 'NR > 3 && $5 + 0 > 50 {
      split($3, name, "["); n[name[1]]++; if ($5 > m[name[1]]) m[name[1]] = $5 }
    END { for (k in n) printf "  %s %d %.0f\n", k, n[k], m[k]; if (!length(n)) print "  none" }' | sort -k3 -rn | head -10
fi
