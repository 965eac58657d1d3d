#!/usr/bin/env bash
# Quickstart: a working Codis-style cluster on this machine in one command.
#
#   deploy/quickstart.sh [start]   install deps, build, start 2 Redis groups + codis-proxy
#   deploy/quickstart.sh status    show what is running
#   deploy/quickstart.sh stop      stop everything the quickstart started
#
# Run it as root (or a sudoer) on a fresh Debian 12. It is idempotent:
# running it again while the cluster is up only prints how to connect.
#
# Environment (all optional):
#   CODIS_QUICKSTART_DIR   state dir: configs, logs, pidfiles, data  (/tmp/codis-quickstart)
#   CODIS_QS_REDIS1_PORT   group 1 redis-server port (slots 0-511)   (6379)
#   CODIS_QS_REDIS2_PORT   group 2 redis-server port (slots 512-1023) (6380)
#   CODIS_QS_PROXY_PORT    codis-proxy RESP port                      (19000)
#   CODIS_QS_ADMIN_PORT    codis-proxy HTTP admin port                (11080)
#   CODIS_QS_SKIP_DEPS=1   do not run deploy/install-deps.sh
#   CODIS_QS_SKIP_BUILD=1  do not run deploy/build.sh
#   CODIS_BUILD_DIR        build directory (default: <repo>/build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CODIS_QUICKSTART_DIR:-/tmp/codis-quickstart}"
BUILD="${CODIS_BUILD_DIR:-$ROOT/build}"
R1_PORT="${CODIS_QS_REDIS1_PORT:-6379}"
R2_PORT="${CODIS_QS_REDIS2_PORT:-6380}"
PROXY_PORT="${CODIS_QS_PROXY_PORT:-19000}"
ADMIN_PORT="${CODIS_QS_ADMIN_PORT:-11080}"
PRODUCT="codis-demo"
PROXY_BIN="$BUILD/proxy/codis-proxy"
MODULE="$BUILD/server-patches/codis_slots.so"

say() { echo "quickstart: $*"; }
die() { echo "quickstart: ERROR: $*" >&2; exit 1; }

# --- helpers -----------------------------------------------------------------

# pid from a pidfile if that process is alive and runs the expected program
live_pid() {  # pidfile program-substring
  local f="$1" what="$2" pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' < "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$what" || return 1
  echo "$pid"
}

port_open() {  # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

answers_ping() {  # port
  [ "$(redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning PING 2>/dev/null)" = "PONG" ]
}

wait_for() {  # seconds description command...
  local secs="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  while ! "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
}

redis_pidfile() { echo "$STATE/redis-$1/redis.pid"; }
proxy_pidfile() { echo "$STATE/proxy/proxy.pid"; }

# --- start -------------------------------------------------------------------

start_redis() {  # group port
  local gid="$1" port="$2" dir="$STATE/redis-$2" pid
  if pid="$(live_pid "$(redis_pidfile "$port")" redis-server)"; then
    say "group $gid: redis-server 127.0.0.1:$port already running (pid $pid)"
    return
  fi
  if port_open "$port"; then
    die "port $port is taken by a process the quickstart did not start (a system redis-server?).
  Stop it (systemctl stop redis-server) or pick another port: CODIS_QS_REDIS${gid}_PORT=..."
  fi
  mkdir -p "$dir"
  say "group $gid: starting redis-server on 127.0.0.1:$port (with the codis_slots module) ..."
  [ -f "$MODULE" ] || die "the codis_slots module is not built ($MODULE); run deploy/build.sh"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --pidfile "$(redis_pidfile "$port")" --logfile "$dir/redis.log" --dir "$dir" \
    --save "" --appendonly no --loadmodule "$MODULE" >/dev/null
  if ! wait_for 15 "redis $port" answers_ping "$port"; then
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis-server on port $port did not answer PING (log: $dir/redis.log)"
  fi
  wait_for 5 "redis pidfile" live_pid "$(redis_pidfile "$port")" redis-server >/dev/null \
    || die "redis-server on port $port wrote no pidfile"
  say "group $gid: redis-server 127.0.0.1:$port is up (pid $(live_pid "$(redis_pidfile "$port")" redis-server))"
}

write_proxy_files() {
  mkdir -p "$STATE/proxy"
  cat > "$STATE/proxy/proxy.toml" <<EOF
# codis-proxy configuration written by deploy/quickstart.sh
# (all keys: build/proxy/codis-proxy --default-config)
product_name = "$PRODUCT"
product_auth = ""
session_auth = ""
admin_addr = "127.0.0.1:$ADMIN_PORT"
proxy_addr = "127.0.0.1:$PROXY_PORT"
backend_number_databases = 16
proxy_max_clients = 1000
session_max_pipeline = 10000
backend_ping_period = "5s"
session_recv_timeout = "30m"
proxy_max_bulk_len = "512mb"
proxy_max_array_len = 1048576
EOF
  # slots 0-511 -> group 1, 512-1023 -> group 2 (Codis fillslots format)
  {
    printf '['
    local i addr gid
    for ((i = 0; i < 1024; i++)); do
      if [ "$i" -lt 512 ]; then addr="127.0.0.1:$R1_PORT"; gid=1; else addr="127.0.0.1:$R2_PORT"; gid=2; fi
      [ "$i" -gt 0 ] && printf ','
      printf '\n {"id":%d,"backend_addr":"%s","backend_addr_group_id":%d}' "$i" "$addr" "$gid"
    done
    printf '\n]\n'
  } > "$STATE/proxy/slots.json"
}

start_proxy() {
  local pid pf
  pf="$(proxy_pidfile)"
  if pid="$(live_pid "$pf" codis-proxy)"; then
    say "codis-proxy already running (pid $pid)"
    return
  fi
  [ -x "$PROXY_BIN" ] || die "$PROXY_BIN not found: the build did not produce codis-proxy"
  for p in "$PROXY_PORT" "$ADMIN_PORT"; do
    port_open "$p" && die "port $p is taken by a process the quickstart did not start
  (set CODIS_QS_PROXY_PORT / CODIS_QS_ADMIN_PORT)"
  done
  write_proxy_files
  say "starting codis-proxy on 127.0.0.1:$PROXY_PORT (admin 127.0.0.1:$ADMIN_PORT) ..."
  rm -f "$pf"
  # setsid: detach from this terminal; the proxy also writes its own pidfile
  setsid "$PROXY_BIN" --config "$STATE/proxy/proxy.toml" --fillslots "$STATE/proxy/slots.json" \
    --log "$STATE/proxy/proxy.log" --log-level info --pidfile "$pf" \
    </dev/null >>"$STATE/proxy/proxy.out" 2>&1 &
  pid=$!
  if ! wait_for 20 "proxy" answers_ping "$PROXY_PORT"; then
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$STATE/proxy/proxy.out" "$STATE/proxy/proxy.log" >&2 2>/dev/null || true
      die "codis-proxy exited (logs: $STATE/proxy/proxy.log, $STATE/proxy/proxy.out)"
    fi
    die "codis-proxy (pid $pid) does not answer PING on port $PROXY_PORT (logs: $STATE/proxy/)"
  fi
  # codis-proxy writes its pidfile itself; fall back to the launcher's view
  live_pid "$pf" codis-proxy >/dev/null || echo "$pid" > "$pf"
  wait_for 10 "admin" curl_ok "http://127.0.0.1:$ADMIN_PORT/proxy/model" \
    || die "codis-proxy admin API http://127.0.0.1:$ADMIN_PORT/proxy/model does not answer"
  say "codis-proxy is up (pid $pid): RESP 127.0.0.1:$PROXY_PORT, admin http://127.0.0.1:$ADMIN_PORT"
}

curl_ok() {  # url
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$1"
  else
    python3 - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
EOF
  fi
}

print_info() {
  cat <<EOF

Codis quickstart cluster is running.
  groups:   group 1 = redis 127.0.0.1:$R1_PORT (slots 0-511)
            group 2 = redis 127.0.0.1:$R2_PORT (slots 512-1023)
  proxy:    redis-cli -p $PROXY_PORT          (any Redis client on 127.0.0.1:$PROXY_PORT)
            e.g. redis-cli -p $PROXY_PORT set hello world
  admin:    http://127.0.0.1:$ADMIN_PORT/proxy/model   /proxy/slots   /proxy/stats   /metrics
  logs:     $STATE/proxy/proxy.log
            $STATE/redis-$R1_PORT/redis.log  $STATE/redis-$R2_PORT/redis.log
  configs:  $STATE/proxy/proxy.toml  $STATE/proxy/slots.json
  status:   $0 status
  stop:     $0 stop
EOF
}

all_running() {
  live_pid "$(redis_pidfile "$R1_PORT")" redis-server >/dev/null \
    && live_pid "$(redis_pidfile "$R2_PORT")" redis-server >/dev/null \
    && live_pid "$(proxy_pidfile)" codis-proxy >/dev/null \
    && answers_ping "$PROXY_PORT"
}

cmd_start() {
  mkdir -p "$STATE"
  if all_running; then
    say "already running (state dir $STATE)"
    print_info
    return
  fi
  if [ "${CODIS_QS_SKIP_DEPS:-0}" != 1 ]; then
    say "installing dependencies (deploy/install-deps.sh) ..."
    bash "$ROOT/deploy/install-deps.sh"
  fi
  if [ "${CODIS_QS_SKIP_BUILD:-0}" != 1 ]; then
    say "building (deploy/build.sh -> $BUILD) ..."
    CODIS_BUILD_DIR="$BUILD" bash "$ROOT/deploy/build.sh" >"$STATE/build.log" 2>&1 || {
      tail -n 30 "$STATE/build.log" >&2
      die "build failed (full log: $STATE/build.log)"
    }
    say "build ok"
  fi
  command -v redis-server >/dev/null || die "redis-server not installed (run deploy/install-deps.sh)"
  command -v redis-cli >/dev/null || die "redis-cli not installed (run deploy/install-deps.sh)"
  start_redis 1 "$R1_PORT"
  start_redis 2 "$R2_PORT"
  start_proxy
  # end-to-end check: one key per group (slot 112 -> group 1, slot 963 -> group 2),
  # written through the proxy and read back from the owning redis-server
  local k port
  for k in "quickstart:group1 $R1_PORT" "quickstart:a $R2_PORT"; do
    port="${k#* }"; k="${k% *}"
    [ "$(redis-cli -p "$PROXY_PORT" SET "$k" ok)" = "OK" ] || die "SET $k through the proxy failed"
    [ "$(redis-cli -p "$port" GET "$k")" = "ok" ] || die "$k did not land on redis :$port"
    redis-cli -p "$PROXY_PORT" DEL "$k" >/dev/null
  done
  say "end-to-end check through the proxy: ok"
  print_info
}

# --- stop / status -------------------------------------------------------------

stop_one() {  # name pidfile program
  local name="$1" pf="$2" what="$3" pid i
  if ! pid="$(live_pid "$pf" "$what")"; then
    say "$name: not running"
    rm -f "$pf"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    say "$name: killed (pid $pid did not exit on SIGTERM within 10s)"
  else
    say "$name: stopped (pid $pid)"
  fi
  rm -f "$pf"
}

cmd_stop() {
  stop_one "codis-proxy" "$(proxy_pidfile)" codis-proxy
  stop_one "group 2 redis-server :$R2_PORT" "$(redis_pidfile "$R2_PORT")" redis-server
  stop_one "group 1 redis-server :$R1_PORT" "$(redis_pidfile "$R1_PORT")" redis-server
  say "stopped (logs and configs kept in $STATE)"
}

status_one() {  # name pidfile program port
  local pid
  if pid="$(live_pid "$2" "$3")"; then
    if answers_ping "$4"; then
      say "$1: running (pid $pid), answers on 127.0.0.1:$4"
    else
      say "$1: running (pid $pid) but NOT answering on 127.0.0.1:$4"
    fi
    return 0
  fi
  say "$1: stopped"
  return 1
}

cmd_status() {
  local ok=0
  status_one "group 1 redis-server" "$(redis_pidfile "$R1_PORT")" redis-server "$R1_PORT" || ok=1
  status_one "group 2 redis-server" "$(redis_pidfile "$R2_PORT")" redis-server "$R2_PORT" || ok=1
  status_one "codis-proxy" "$(proxy_pidfile)" codis-proxy "$PROXY_PORT" || ok=1
  if [ "$ok" = 0 ]; then
    print_info
  fi
  return "$ok"
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h|--help|help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use: start | status | stop)" ;;
esac
