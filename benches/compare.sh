#!/usr/bin/env bash
# Side by side, in one run: scopegate (release build of the polls demo, SQLite) against the peer
# Django OAuth Toolkit server in ../shared/peers/dot (gunicorn, 2 workers x 4 threads, keep-alive,
# persistent DB connections: its fastest configuration). Same wrk load (-t1 -c16), same Lua bodies.
# Prints req/s for both and the ratio scopegate/DOT. Loopback only; both servers are stopped by
# their PIDs when the script ends.
#
#   benches/compare.sh                 # DURATION=10s WARMUP=2s BENCHES="cc pw introspect protected"
#
# The peer is copied to target/peer-dot (shared/ is read-only) and set up there on first use
# (pip: Django, django-oauth-toolkit, gunicorn). Needs wrk (apt-get install wrk).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEER_SRC="${PEER_SRC:-$ROOT/../shared/peers/dot}"
PEER="$ROOT/target/peer-dot"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
BENCHES="${BENCHES:-cc pw introspect protected}"
SG_PORT="${SG_PORT:-8101}"
DOT_PORT="${DOT_PORT:-8102}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -d "$PEER_SRC" ] || { echo "peer not found at $PEER_SRC (set PEER_SRC)" >&2; exit 1; }
if [ ! -x "$PEER/.venv/bin/gunicorn" ]; then
  rm -rf "$PEER" && mkdir -p "$PEER" && cp -r "$PEER_SRC"/. "$PEER"/ && chmod -R u+w "$PEER"
  (cd "$PEER" && ./setup.sh)
fi

echo "building the release demo..." >&2
(cd "$ROOT" && cargo build -q --release --example polls)
POLLS="$ROOT/target/release/examples/polls"

WORK="$(mktemp -d)"
SG_PID="" DOT_PID=""
cleanup() {
  for p in $SG_PID $DOT_PID; do kill "$p" 2>/dev/null || true; done
  for p in $SG_PID $DOT_PID; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- scopegate: seeded only through its command line
export DATABASE_URL="sqlite://$WORK/bench.db" SCOPEGATE_DEBUG=true SCOPEGATE_LOG=warn
# The throttle exists to stop guessing; 16 concurrent correct logins would trip it.
export SCOPEGATE_PASSWORD_ATTEMPTS_PER_USER=1000000 SCOPEGATE_PASSWORD_ATTEMPTS_PER_IP=1000000
echo 'bench-pass' | "$POLLS" createuser --username bench --password-stdin >/dev/null
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
CC=$("$POLLS" register-client --name cc --grant-type client_credentials --client-type confidential --scope read polls:index polls:detail --approved --json)
PW=$("$POLLS" register-client --name pw --grant-type password --client-type confidential --scope read --approved --json)
"$POLLS" syncscopes >/dev/null 2>&1 || true
"$POLLS" serve --addr "127.0.0.1:$SG_PORT" >/dev/null 2>"$WORK/sg.log" &
SG_PID=$!

# --- DOT
(cd "$PEER/project" && DOTBENCH_STATE="$PEER/.state" DOTBENCH_CONN_MAX_AGE=600 exec "$PEER/.venv/bin/gunicorn" \
   dotbench.wsgi:application --bind "127.0.0.1:$DOT_PORT" --workers 2 --threads 4 --log-level warning) \
   >"$WORK/dot.log" 2>&1 &
DOT_PID=$!

up() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no server at $1" >&2; exit 1; }
up "http://127.0.0.1:$SG_PORT/.well-known/oauth-authorization-server"
up "http://127.0.0.1:$DOT_PORT/plain/hello"

b64() { printf '%s:%s' "$1" "$2" | base64 -w0; }
SG_CC_AUTH=$(b64 "$(echo "$CC" | json client_id)" "$(echo "$CC" | json client_secret)")
SG_PW_AUTH=$(b64 "$(echo "$PW" | json client_id)" "$(echo "$PW" | json client_secret)")
dot_secret() { echo "$1-secret-0123456789abcdefghijklmnopqrstuv"; }
DOT_CC_AUTH=$(b64 cc-plain "$(dot_secret cc-plain)")
DOT_PW_AUTH=$(b64 pw-plain "$(dot_secret pw-plain)")
token() { curl -sf -H "Authorization: Basic $1" -d grant_type=client_credentials -d "scope=$2" "$3" | json access_token; }
SG_TOKEN=$(token "$SG_CC_AUTH" "read polls:index polls:detail" "http://127.0.0.1:$SG_PORT/oauth/token")
DOT_TOKEN=$(token "$DOT_CC_AUTH" read "http://127.0.0.1:$DOT_PORT/o/token/")

measure() {  # $1 url, $2 lua (or ""); prints req/s
  local s=()
  [ -n "$2" ] && s=(-s "$PEER/lua/$2")
  wrk -t1 -c16 -d"$WARMUP" "${s[@]}" "$1" >/dev/null 2>&1 || true
  wrk -t1 -c16 -d"$DURATION" "${s[@]}" "$1" | awk '/Requests\/sec/{print $2} /Non-2xx/{print "NON2XX", $0 > "/dev/stderr"}'
}

printf '\n| bench | scopegate req/s | DOT req/s | ratio |\n|---|---:|---:|---:|\n'
for b in $BENCHES; do
  case "$b" in
    cc)  sg=$(BASIC_AUTH=$SG_CC_AUTH measure "http://127.0.0.1:$SG_PORT/oauth/token" token_cc.lua)
         dot=$(BASIC_AUTH=$DOT_CC_AUTH measure "http://127.0.0.1:$DOT_PORT/o/token/" token_cc.lua)
         label="client_credentials (DOT: plain secret)" ;;
    pw)  sg=$(BASIC_AUTH=$SG_PW_AUTH measure "http://127.0.0.1:$SG_PORT/oauth/token" token_password.lua)
         dot=$(BASIC_AUTH=$DOT_PW_AUTH measure "http://127.0.0.1:$DOT_PORT/o/token/" token_password.lua)
         label="password grant (argon2id vs PBKDF2)" ;;
    introspect)
         sg=$(INTROSPECT_TOKEN=$SG_TOKEN INTROSPECT_AUTH="Basic $SG_CC_AUTH" measure "http://127.0.0.1:$SG_PORT/oauth/introspect" introspect.lua)
         dot=$(INTROSPECT_TOKEN=$DOT_TOKEN INTROSPECT_AUTH="Basic $DOT_CC_AUTH" measure "http://127.0.0.1:$DOT_PORT/o/introspect/" introspect.lua)
         label="introspection, Basic auth" ;;
    protected)
         sg=$(BEARER_TOKEN=$SG_TOKEN measure "http://127.0.0.1:$SG_PORT${SG_PROTECTED:-/polls/1/}" bearer_get.lua)
         dot=$(BEARER_TOKEN=$DOT_TOKEN measure "http://127.0.0.1:$DOT_PORT/api/hello" bearer_get.lua)
         label="Bearer-guarded GET" ;;
    *) echo "unknown bench $b" >&2; exit 1 ;;
  esac
  ratio=$(python3 -c "print(f'{float(\"$sg\")/float(\"$dot\"):.1f}x')" 2>/dev/null || echo "n/a")
  printf '| %s | %s | %s | %s |\n' "$label" "$sg" "$dot" "$ratio"
done
