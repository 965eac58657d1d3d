#!/usr/bin/env bash
# Quickstart: a complete Codis-style cluster on this machine, on loopback, in one command.
#
#   deploy/quickstart.sh [start]   install deps, build, start everything, assign the slots
#   deploy/quickstart.sh status    show what is running
#   deploy/quickstart.sh stop      stop everything the quickstart started
#
# What runs (all on 127.0.0.1, default ports):
#   ZooKeeper :2181                    the coordinator (one node; or etcd :2379, see below)
#   group 1: redis :6379 + replica :6380 (codis_slots module)   slots 0-511
#   group 2: redis :6381 + replica :6382 (codis_slots module)   slots 512-1023
#   redis-sentinel :26379 :26380 :26381  monitoring codis-demo-1 and codis-demo-2
#   codis-dashboard :18080             product codis-demo, API + web UI
#   codis-proxy :19000 (admin :11080) and :19001 (admin :11081)
#   HAProxy :19100 in front of both proxies (status page :19101)
#
# Run it as root (or a sudoer) on a fresh Debian 12. It is idempotent: run it
# again and it starts only what is missing and redoes no setup that is done.
# Configs are generated from deploy/configs/ into the state directory.
#
# Environment (all optional):
#   CODIS_QUICKSTART_DIR         state dir: configs, logs, pidfiles, data (/tmp/codis-quickstart)
#   CODIS_QS_COORDINATOR         "zookeeper" or "etcd" (one etcd member) (zookeeper)
#   CODIS_QS_ZK_PORT             ZooKeeper client port                  (2181)
#   CODIS_QS_ETCD_PORT           etcd client port                       (2379)
#   CODIS_QS_ETCD_PEER_PORT      etcd peer port                         (2380)
#   CODIS_QS_G1_MASTER_PORT      group 1 master                         (6379)
#   CODIS_QS_G1_REPLICA_PORT     group 1 replica                        (6380)
#   CODIS_QS_G2_MASTER_PORT      group 2 master                         (6381)
#   CODIS_QS_G2_REPLICA_PORT     group 2 replica                        (6382)
#   CODIS_QS_SENTINEL1_PORT ..3  the three sentinels            (26379 26380 26381)
#   CODIS_QS_DASHBOARD_PORT      codis-dashboard API and web UI         (18080)
#   CODIS_QS_PROXY1_PORT         proxy 1 RESP port                      (19000)
#   CODIS_QS_PROXY1_ADMIN_PORT   proxy 1 admin API                      (11080)
#   CODIS_QS_PROXY2_PORT         proxy 2 RESP port                      (19001)
#   CODIS_QS_PROXY2_ADMIN_PORT   proxy 2 admin API                      (11081)
#   CODIS_QS_HAPROXY_PORT        HAProxy (what clients use)             (19100)
#   CODIS_QS_HAPROXY_STATS_PORT  HAProxy status page                    (19101)
#   CODIS_QS_PROXY1_TLS_PORT     proxy 1 TLS port                       (19443)
#   CODIS_QS_PROXY2_TLS_PORT     proxy 2 TLS port                       (19444)
#   CODIS_QS_HAPROXY_TLS_PORT    HAProxy passing TLS through to them    (19110)
#   CODIS_QS_SENTINEL_DOWN_AFTER how long a master may be silent before the
#                                sentinels fail it over                 (10s)
#   CODIS_QS_SKIP_DEPS=1         do not run deploy/install-deps.sh
#   CODIS_QS_SKIP_BUILD=1        do not run deploy/build.sh
#   CODIS_BUILD_DIR              build directory (default: <repo>/build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CODIS_QUICKSTART_DIR:-/tmp/codis-quickstart}"
BUILD="${CODIS_BUILD_DIR:-$ROOT/build}"
CONFIGS="$ROOT/deploy/configs"
PRODUCT="codis-demo"
HOST=127.0.0.1

COORD="${CODIS_QS_COORDINATOR:-zookeeper}"
ZK_PORT="${CODIS_QS_ZK_PORT:-2181}"
ETCD_PORT="${CODIS_QS_ETCD_PORT:-2379}"
ETCD_PEER_PORT="${CODIS_QS_ETCD_PEER_PORT:-2380}"
case "$COORD" in
  zookeeper | etcd) ;;
  *) echo "quickstart: CODIS_QS_COORDINATOR must be \"zookeeper\" or \"etcd\", not \"$COORD\"" >&2; exit 2 ;;
esac
G1_MASTER="${CODIS_QS_G1_MASTER_PORT:-6379}"
G1_REPLICA="${CODIS_QS_G1_REPLICA_PORT:-6380}"
G2_MASTER="${CODIS_QS_G2_MASTER_PORT:-6381}"
G2_REPLICA="${CODIS_QS_G2_REPLICA_PORT:-6382}"
SENTINEL_PORTS=("${CODIS_QS_SENTINEL1_PORT:-26379}" "${CODIS_QS_SENTINEL2_PORT:-26380}" "${CODIS_QS_SENTINEL3_PORT:-26381}")
DASH_PORT="${CODIS_QS_DASHBOARD_PORT:-18080}"
PROXY_PORTS=("${CODIS_QS_PROXY1_PORT:-19000}" "${CODIS_QS_PROXY2_PORT:-19001}")
PROXY_ADMIN_PORTS=("${CODIS_QS_PROXY1_ADMIN_PORT:-11080}" "${CODIS_QS_PROXY2_ADMIN_PORT:-11081}")
HAPROXY_PORT="${CODIS_QS_HAPROXY_PORT:-19100}"
HAPROXY_STATS_PORT="${CODIS_QS_HAPROXY_STATS_PORT:-19101}"
PROXY_TLS_PORTS=("${CODIS_QS_PROXY1_TLS_PORT:-19443}" "${CODIS_QS_PROXY2_TLS_PORT:-19444}")
HAPROXY_TLS_PORT="${CODIS_QS_HAPROXY_TLS_PORT:-19110}"
DOWN_AFTER="${CODIS_QS_SENTINEL_DOWN_AFTER:-10s}"

# gid master replica first-slot last-slot
GROUPS_SPEC=("1 $G1_MASTER $G1_REPLICA 0 511" "2 $G2_MASTER $G2_REPLICA 512 1023")
REDIS_PORTS=("$G1_MASTER" "$G1_REPLICA" "$G2_MASTER" "$G2_REPLICA")

PROXY_BIN="$BUILD/proxy/codis-proxy"
DASH_BIN="$BUILD/dashboard/codis-dashboard"
MODULE="$BUILD/server-patches/codis_slots.so"
DASH="http://$HOST:$DASH_PORT"
XAUTH="$(printf 'Codis-XAuth-[%s]' "$PRODUCT" | sha256sum | cut -c1-32)"
# The admin secret of the dashboard, the proxies and codis-admin (admin_auth):
# generated once, readable by its owner only. curl reads the header from a
# file so that the secret never shows on a command line.
SECRET="$STATE/admin_auth"
AUTH_HEADER="$STATE/admin_auth.header"
NSTEPS=9
PY="$(command -v /usr/bin/python3 || command -v python3 || echo python3)"

say() { echo "quickstart: $*"; }
step() { echo "[$1/$NSTEPS] $2"; }
die() {
  echo "quickstart: ERROR: $*" >&2
  exit 1
}

# --- helpers -----------------------------------------------------------------

# pid from a pidfile if that process is alive and its command line has every
# given substring (redis rewrites its title to "redis-server 127.0.0.1:PORT")
live_pid() {  # pidfile substring...
  local f="$1" pid cmd s
  shift
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  for s in "$@"; do
    case "$cmd" in *"$s"*) ;; *) return 1 ;; esac
  done
  echo "$pid"
}

port_open() {  # port
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

answers_ping() {  # port
  [ "$(timeout 3 redis-cli -h "$HOST" -p "$1" PING 2>/dev/null)" = "PONG" ]
}

zk_serving() {  # port: a standalone ZooKeeper answers "srvr" with its mode
  local out
  out="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf srvr >&3 && cat <&3' "$HOST" "$1" 2>/dev/null)" || return 1
  case "$out" in *"Mode: standalone"* | *"Mode: leader"* | *"Mode: follower"*) return 0 ;; esac
  return 1
}

etcd_serving() {  # port: etcd's v3 gateway answers a range
  curl -fsS --max-time 3 -X POST -d '{"key":"Lw=="}' "http://$HOST:$1/v3/kv/range" 2>/dev/null | grep -q '"header"'
}

http_ok() {  # url
  curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
}

wait_for() {  # seconds command...
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

show_log() {  # files...: the last lines of each, on stderr
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f:" >&2
    tail -n 15 "$f" >&2
  done
}

need_port_free() {  # port what env-var
  if port_open "$1"; then
    die "port $1 ($2) is taken by a process the quickstart did not start.
  Stop that process or choose another port: $3=..."
  fi
}

# TLS for clients: a private CA and one certificate (127.0.0.1, localhost) for
# both proxies, made once with openssl in $STATE/tls and kept across runs.
# Clients trust $STATE/tls/ca.crt: redis-cli --tls --cacert $STATE/tls/ca.crt.
ensure_tls() {
  local d="$STATE/tls"
  [ -s "$d/ca.crt" ] && [ -s "$d/proxy.crt" ] && [ -s "$d/proxy.key" ] && return
  command -v openssl >/dev/null || die "openssl is not installed (run deploy/install-deps.sh)"
  mkdir -p "$d"
  (
    umask 077
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
      -days 825 -subj "/CN=codis quickstart CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout proxy.key -out proxy.csr \
      -subj "/CN=codis-proxy" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >proxy.ext
    openssl x509 -req -in proxy.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out proxy.crt \
      -extfile proxy.ext 2>/dev/null
    rm -f proxy.csr proxy.ext
    chmod 644 ca.crt proxy.crt
  ) || die "could not make the TLS certificates in $d"
}

# The admin secret: made once (256 random bits), then kept across runs.
ensure_secret() {
  umask 077
  if [ ! -s "$SECRET" ]; then
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$SECRET.tmp"
    echo >>"$SECRET.tmp"
    mv "$SECRET.tmp" "$SECRET"
  fi
  chmod 600 "$SECRET"
  printf 'Authorization: Bearer %s\n' "$(head -n 1 "$SECRET")" >"$AUTH_HEADER"
  chmod 600 "$AUTH_HEADER"
  umask 022
}

# Writes a file from a template with sed expressions applied.
render() {  # template output sed-expression...
  local tpl="$1" out="$2" args=() e
  shift 2
  for e in "$@"; do args+=(-e "$e"); done
  [ -f "$tpl" ] || die "template $tpl is missing"
  sed "${args[@]}" "$tpl" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# A TOML key's value: `key = value` -> sed expression (value given TOML-quoted).
toml() { printf 's|^%s = .*|%s = %s|' "$1" "$1" "$2"; }

# --- the dashboard API (Codis rpc: 200 + JSON, or 800 + {"Cause": ...}) ------

API_BODY=""
api() {  # METHOD path-after-/api/topom/ [json-body]; the reply body in $API_BODY
  local method="$1" path="$2" body="${3:-}" out code
  out="$(mktemp)"
  if [ -n "$body" ]; then
    code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 60 -X "$method" -H "@$AUTH_HEADER" \
      -H 'Content-Type: application/json' --data-binary "$body" "$DASH/api/topom/$path" 2>&1)" || code="000"
  else
    code="$(curl -sS -o "$out" -w '%{http_code}' --max-time 60 -X "$method" -H "@$AUTH_HEADER" \
      "$DASH/api/topom/$path" 2>&1)" || code="000"
  fi
  API_BODY="$(cat "$out")"
  rm -f "$out"
  [ "$code" = "200" ]
}

api_or_die() {  # METHOD path [body] -- what
  local what="${*: -1}"
  set -- "${@:1:$(($# - 1))}"
  api "$@" || die "$what failed: $(cause "$API_BODY")
  (dashboard log: $STATE/dashboard/dashboard.log)"
}

cause() {  # body -> the Cause of a Codis error, or the body
  printf '%s' "$1" | "$PY" -c 'import json,sys
t = sys.stdin.read()
try: print(json.loads(t).get("Cause", t))
except Exception: print(t[:500] or "no answer")'
}

# Runs a python expression on the JSON in $1 (as j); prints the result.
jq_py() {  # json expression
  printf '%s' "$1" | "$PY" -c 'import json,sys
j = json.load(sys.stdin); r = eval(sys.argv[1])
if isinstance(r, (list, tuple)): print("\n".join(str(x) for x in r))
elif isinstance(r, bool): print(int(r))
elif r is not None: print(r)' "$2"
}

stats_json() {
  api GET "stats/$XAUTH" || die "the dashboard does not answer $DASH/api/topom/stats: $(cause "$API_BODY")"
  echo "$API_BODY"
}

# --- processes -----------------------------------------------------------------

zk_dir() { echo "$STATE/zookeeper"; }
redis_dir() { echo "$STATE/redis-$1"; }
sentinel_dir() { echo "$STATE/sentinel-$1"; }
proxy_dir() { echo "$STATE/proxy-$1"; }

zk_pid() { live_pid "$(zk_dir)/zookeeper.pid" QuorumPeerMain "$(zk_dir)/zoo.cfg"; }
etcd_dir() { echo "$STATE/etcd"; }
etcd_pid() { live_pid "$(etcd_dir)/etcd.pid" etcd "$(etcd_dir)/etcd.conf.yml"; }
redis_pid() { live_pid "$(redis_dir "$1")/redis.pid" redis-server ":$1"; }
sentinel_pid() { live_pid "$(sentinel_dir "$1")/sentinel.pid" ":$1" sentinel; }
dash_pid() { live_pid "$STATE/dashboard/dashboard.pid" codis-dashboard "$STATE/dashboard/dashboard.toml"; }
proxy_pid() { live_pid "$(proxy_dir "$1")/proxy.pid" codis-proxy "$(proxy_dir "$1")/proxy.toml"; }
haproxy_pid() { live_pid "$STATE/haproxy/haproxy.pid" haproxy "$STATE/haproxy/haproxy.cfg"; }

zk_classpath() {
  local cp=/usr/share/java/zookeeper.jar
  [ -f "$cp" ] || die "$cp is missing: install Debian's zookeeper package (deploy/install-deps.sh)"
  [ -f /usr/share/java/slf4j-simple.jar ] && cp="$cp:/usr/share/java/slf4j-simple.jar"
  echo "$cp"
}

start_zookeeper() {
  local dir pid
  dir="$(zk_dir)"
  if pid="$(zk_pid)"; then
    say "ZooKeeper 127.0.0.1:$ZK_PORT already running (pid $pid)"
    return
  fi
  need_port_free "$ZK_PORT" ZooKeeper CODIS_QS_ZK_PORT
  command -v java >/dev/null || die "java is not installed (apt-get install zookeeper pulls it in)"
  mkdir -p "$dir/data"
  # A single node from the ensemble example: its server.N lines and myid go.
  render "$CONFIGS/zookeeper/zoo.cfg" "$dir/zoo.cfg" \
    "s|^dataDir=.*|dataDir=$dir/data|" "s|^clientPort=.*|clientPort=$ZK_PORT|" \
    "s|^#clientPortAddress=.*|clientPortAddress=$HOST|" "/^server\.[0-9]*=/d" \
    "s|^autopurge.purgeInterval=.*|autopurge.purgeInterval=1|"
  setsid java -Xmx256m -XX:+UseSerialGC -Dzookeeper.admin.enableServer=false \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$(zk_classpath)" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
    </dev/null >>"$dir/zookeeper.log" 2>&1 &
  echo $! >"$dir/zookeeper.pid"
  if ! wait_for 60 zk_serving "$ZK_PORT"; then
    show_log "$dir/zookeeper.log"
    die "ZooKeeper did not answer on 127.0.0.1:$ZK_PORT within 60s (log: $dir/zookeeper.log)"
  fi
  say "ZooKeeper 127.0.0.1:$ZK_PORT is up (pid $(zk_pid))"
}

start_etcd() {
  local dir pid
  dir="$(etcd_dir)"
  if pid="$(etcd_pid)"; then
    say "etcd 127.0.0.1:$ETCD_PORT already running (pid $pid)"
    return
  fi
  need_port_free "$ETCD_PORT" etcd CODIS_QS_ETCD_PORT
  need_port_free "$ETCD_PEER_PORT" "etcd (peers)" CODIS_QS_ETCD_PEER_PORT
  command -v etcd >/dev/null || die "etcd is not installed (apt-get install etcd-server, or deploy/install-deps.sh)"
  mkdir -p "$dir"
  # One member from the 3-member example: its own name, loopback URLs.
  render "$CONFIGS/etcd/etcd.conf.yml" "$dir/etcd.conf.yml" \
    "s|^name: .*|name: quickstart|" "s|^data-dir: .*|data-dir: $dir/data|" \
    "s|^listen-client-urls: .*|listen-client-urls: http://$HOST:$ETCD_PORT|" \
    "s|^advertise-client-urls: .*|advertise-client-urls: http://$HOST:$ETCD_PORT|" \
    "s|^listen-peer-urls: .*|listen-peer-urls: http://$HOST:$ETCD_PEER_PORT|" \
    "s|^initial-advertise-peer-urls: .*|initial-advertise-peer-urls: http://$HOST:$ETCD_PEER_PORT|" \
    "s|^initial-cluster: .*|initial-cluster: quickstart=http://$HOST:$ETCD_PEER_PORT|"
  setsid etcd --config-file "$dir/etcd.conf.yml" </dev/null >>"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  if ! wait_for 60 etcd_serving "$ETCD_PORT"; then
    show_log "$dir/etcd.log"
    die "etcd did not answer on 127.0.0.1:$ETCD_PORT within 60s (log: $dir/etcd.log)"
  fi
  say "etcd 127.0.0.1:$ETCD_PORT is up (pid $(etcd_pid))"
}

# The coordinator the quickstart runs (CODIS_QS_COORDINATOR).
coord_port() { if [ "$COORD" = etcd ]; then echo "$ETCD_PORT"; else echo "$ZK_PORT"; fi; }
coord_label() { if [ "$COORD" = etcd ]; then echo etcd; else echo ZooKeeper; fi; }
coord_pid() { if [ "$COORD" = etcd ]; then etcd_pid; else zk_pid; fi; }
coord_serving() { if [ "$COORD" = etcd ]; then etcd_serving "$ETCD_PORT"; else zk_serving "$ZK_PORT"; fi; }
start_coordinator() { if [ "$COORD" = etcd ]; then start_etcd; else start_zookeeper; fi; }

start_redis() {  # port role
  local port="$1" role="$2" dir pid
  dir="$(redis_dir "$port")"
  if pid="$(redis_pid "$port")"; then
    say "redis-server 127.0.0.1:$port ($role) already running (pid $pid)"
    return
  fi
  need_port_free "$port" "redis-server, $role" "CODIS_QS_G*_*_PORT"
  [ -f "$MODULE" ] || die "the codis_slots module is not built ($MODULE); run deploy/build.sh"
  mkdir -p "$dir"
  render "$CONFIGS/redis.conf" "$dir/redis.conf" \
    "s|^bind .*|bind $HOST|" "s|^port .*|port $port|" \
    "s|^loadmodule .*|loadmodule $MODULE|" \
    "s|^daemonize .*|daemonize yes|" "s|^supervised .*|supervised no|" \
    "s|^pidfile .*|pidfile $dir/redis.pid|" "s|^logfile .*|logfile $dir/redis.log|" \
    "s|^dir .*|dir $dir|" "s|^maxmemory .*|maxmemory 256mb|"
  rm -f "$dir/redis.pid"
  if ! redis-server "$dir/redis.conf" >>"$dir/redis.out" 2>&1; then
    show_log "$dir/redis.out" "$dir/redis.log"
    die "redis-server on port $port did not start (log: $dir/redis.log)"
  fi
  if ! wait_for 30 answers_ping "$port"; then
    show_log "$dir/redis.log"
    die "redis-server on port $port did not answer PING (log: $dir/redis.log)"
  fi
  wait_for 5 redis_pid "$port" >/dev/null || die "redis-server on port $port wrote no pidfile ($dir/redis.pid)"
  say "redis-server 127.0.0.1:$port ($role, with the module) is up (pid $(redis_pid "$port"))"
}

start_sentinel() {  # port
  local port="$1" dir pid
  dir="$(sentinel_dir "$port")"
  if pid="$(sentinel_pid "$port")"; then
    say "redis-sentinel 127.0.0.1:$port already running (pid $pid)"
    return
  fi
  need_port_free "$port" redis-sentinel "CODIS_QS_SENTINEL*_PORT"
  mkdir -p "$dir"
  # Sentinel rewrites its file with what it learns: keep it across restarts.
  if [ ! -f "$dir/sentinel.conf" ]; then
    render "$CONFIGS/sentinel.conf" "$dir/sentinel.conf" \
      "s|^bind .*|bind $HOST|" "s|^port .*|port $port|" \
      "s|^daemonize .*|daemonize yes|" "s|^supervised .*|supervised no|" \
      "s|^pidfile .*|pidfile $dir/sentinel.pid|" "s|^logfile .*|logfile $dir/sentinel.log|" \
      "s|^dir .*|dir $dir|"
  fi
  rm -f "$dir/sentinel.pid"
  if ! redis-server "$dir/sentinel.conf" --sentinel >>"$dir/sentinel.out" 2>&1; then
    show_log "$dir/sentinel.out" "$dir/sentinel.log"
    die "redis-sentinel on port $port did not start (log: $dir/sentinel.log)"
  fi
  if ! wait_for 30 answers_ping "$port"; then
    show_log "$dir/sentinel.log"
    die "redis-sentinel on port $port did not answer PING (log: $dir/sentinel.log)"
  fi
  wait_for 5 sentinel_pid "$port" >/dev/null || die "redis-sentinel on port $port wrote no pidfile"
  say "redis-sentinel 127.0.0.1:$port is up (pid $(sentinel_pid "$port"))"
}

dash_answers() { http_ok "$DASH/health"; }

start_dashboard() {
  local dir="$STATE/dashboard" pid i
  if pid="$(dash_pid)"; then
    if wait_for 30 dash_answers; then
      say "codis-dashboard $DASH already running (pid $pid)"
      return
    fi
    die "codis-dashboard (pid $pid) runs but does not answer on $DASH (log: $dir/dashboard.log)"
  fi
  need_port_free "$DASH_PORT" codis-dashboard CODIS_QS_DASHBOARD_PORT
  [ -x "$DASH_BIN" ] || die "$DASH_BIN not found: the build did not produce codis-dashboard"
  mkdir -p "$dir"
  render "$CONFIGS/dashboard.toml" "$dir/dashboard.toml" \
    "$(toml coordinator_name "\"$COORD\"")" "$(toml coordinator_addr "\"$HOST:$(coord_port)\"")" \
    "$(toml admin_addr "\"$HOST:$DASH_PORT\"")" "$(toml product_name "\"$PRODUCT\"")" \
    "$(toml sentinel_down_after "\"$DOWN_AFTER\"")" "$(toml sentinel_failover_timeout '"60s"')" \
    "$(toml admin_auth_file "\"$SECRET\"")"
  rm -f "$dir/dashboard.pid"
  setsid "$DASH_BIN" --config "$dir/dashboard.toml" --log "$dir/dashboard.log" --log-level info \
    --pidfile "$dir/dashboard.pid" </dev/null >>"$dir/dashboard.out" 2>&1 &
  pid=$!
  # A dashboard killed without a clean stop holds the lock until its
  # ZooKeeper session expires; the new one waits as standby until then.
  for ((i = 0; i < 450; i++)); do
    dash_answers && break
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$dir/dashboard.out" "$dir/dashboard.log"
      die "codis-dashboard exited (logs: $dir/dashboard.log, $dir/dashboard.out)"
    fi
    [ "$i" = 25 ] && grep -qs standby "$dir/dashboard.log" &&
      say "the dashboard waits for the lock of a previous run (its ZooKeeper session must expire) ..."
    sleep 0.2
  done
  dash_answers || {
    show_log "$dir/dashboard.log"
    die "codis-dashboard (pid $pid) does not answer on $DASH (log: $dir/dashboard.log)"
  }
  live_pid "$dir/dashboard.pid" codis-dashboard >/dev/null || echo "$pid" >"$dir/dashboard.pid"
  say "codis-dashboard $DASH is up (pid $pid, product $PRODUCT)"
}

start_proxy() {  # index(1,2)
  local n="$1" port="${PROXY_PORTS[$(($1 - 1))]}" admin="${PROXY_ADMIN_PORTS[$(($1 - 1))]}" dir pid
  local tls_port="${PROXY_TLS_PORTS[$(($1 - 1))]}"
  dir="$(proxy_dir "$n")"
  if pid="$(proxy_pid "$n")"; then
    say "codis-proxy $n 127.0.0.1:$port already running (pid $pid)"
    return
  fi
  need_port_free "$port" "codis-proxy $n" "CODIS_QS_PROXY${n}_PORT"
  need_port_free "$admin" "codis-proxy $n admin" "CODIS_QS_PROXY${n}_ADMIN_PORT"
  need_port_free "$tls_port" "codis-proxy $n TLS" "CODIS_QS_PROXY${n}_TLS_PORT"
  ensure_tls
  [ -x "$PROXY_BIN" ] || die "$PROXY_BIN not found: the build did not produce codis-proxy"
  mkdir -p "$dir"
  render "$CONFIGS/proxy.toml" "$dir/proxy.toml" \
    "$(toml product_name "\"$PRODUCT\"")" "$(toml admin_addr "\"$HOST:$admin\"")" \
    "$(toml proxy_addr "\"$HOST:$port\"")" "$(toml admin_auth_file "\"$SECRET\"")" \
    "$(toml proxy_tls_addr "\"$HOST:$tls_port\"")" "$(toml proxy_tls_cert_file "\"$STATE/tls/proxy.crt\"")" \
    "$(toml proxy_tls_key_file "\"$STATE/tls/proxy.key\"")"
  rm -f "$dir/proxy.pid"
  # --zookeeper (--etcd): the proxy registers itself, serves the routing
  # stored there and asks the running dashboard to take it over.
  setsid "$PROXY_BIN" --config "$dir/proxy.toml" "--$COORD" "$HOST:$(coord_port)" \
    --log "$dir/proxy.log" --log-level info --pidfile "$dir/proxy.pid" \
    </dev/null >>"$dir/proxy.out" 2>&1 &
  pid=$!
  if ! wait_for 30 answers_ping "$port"; then
    show_log "$dir/proxy.out" "$dir/proxy.log"
    kill -0 "$pid" 2>/dev/null || die "codis-proxy $n exited (logs: $dir/proxy.log, $dir/proxy.out)"
    die "codis-proxy $n (pid $pid) does not answer PING on port $port (logs: $dir/)"
  fi
  live_pid "$dir/proxy.pid" codis-proxy >/dev/null || echo "$pid" >"$dir/proxy.pid"
  wait_for 15 http_ok "http://$HOST:$admin/health" ||
    die "codis-proxy $n admin API http://$HOST:$admin/health does not answer (log: $dir/proxy.log)"
  say "codis-proxy $n is up (pid $pid): RESP 127.0.0.1:$port, TLS 127.0.0.1:$tls_port, admin http://127.0.0.1:$admin"
}

start_haproxy() {
  local dir="$STATE/haproxy" pid
  if pid="$(haproxy_pid)"; then
    say "HAProxy 127.0.0.1:$HAPROXY_PORT already running (pid $pid)"
    return
  fi
  need_port_free "$HAPROXY_PORT" HAProxy CODIS_QS_HAPROXY_PORT
  need_port_free "$HAPROXY_STATS_PORT" "HAProxy status page" CODIS_QS_HAPROXY_STATS_PORT
  need_port_free "$HAPROXY_TLS_PORT" "HAProxy TLS" CODIS_QS_HAPROXY_TLS_PORT
  command -v haproxy >/dev/null || die "haproxy is not installed (run deploy/install-deps.sh)"
  mkdir -p "$dir"
  render "$CONFIGS/haproxy.cfg" "$dir/haproxy.cfg" \
    "/^    log /d" "/^    option tcplog/d" "/^    option httplog/d" \
    "s|^    maxconn 20000|    maxconn 2000|" \
    "s|^    stats socket .*|    stats socket $dir/haproxy.sock mode 600 level admin|" \
    "s|^    bind 127.0.0.1:19100|    bind $HOST:$HAPROXY_PORT|" \
    "s|^    bind 127.0.0.1:19101|    bind $HOST:$HAPROXY_STATS_PORT|" \
    "s|^    server proxy-1 [^ ]* check port [0-9]*|    server proxy-1 $HOST:${PROXY_PORTS[0]} check port ${PROXY_ADMIN_PORTS[0]}|" \
    "s|^    server proxy-2 [^ ]* check port [0-9]*|    server proxy-2 $HOST:${PROXY_PORTS[1]} check port ${PROXY_ADMIN_PORTS[1]}|" \
    "s|^    bind 127.0.0.1:19110|    bind $HOST:$HAPROXY_TLS_PORT|" \
    "s|^    server proxy-1-tls [^ ]* check port [0-9]*|    server proxy-1-tls $HOST:${PROXY_TLS_PORTS[0]} check port ${PROXY_ADMIN_PORTS[0]}|" \
    "s|^    server proxy-2-tls [^ ]* check port [0-9]*|    server proxy-2-tls $HOST:${PROXY_TLS_PORTS[1]} check port ${PROXY_ADMIN_PORTS[1]}|"
  haproxy -c -q -f "$dir/haproxy.cfg" >"$dir/haproxy.out" 2>&1 || {
    show_log "$dir/haproxy.out"
    die "HAProxy refused its config $dir/haproxy.cfg"
  }
  rm -f "$dir/haproxy.pid"
  if ! haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" >>"$dir/haproxy.out" 2>&1; then
    show_log "$dir/haproxy.out"
    die "HAProxy did not start (output: $dir/haproxy.out)"
  fi
  wait_for 10 haproxy_pid >/dev/null || die "HAProxy wrote no pidfile ($dir/haproxy.pid)"
  say "HAProxy 127.0.0.1:$HAPROXY_PORT is up (pid $(haproxy_pid)), status page http://127.0.0.1:$HAPROXY_STATS_PORT/"
}

# --- cluster setup through the dashboard (each part only if not done yet) -------

replica_in_sync() {  # replica-port master-port
  local info
  info="$(timeout 3 redis-cli -h "$HOST" -p "$1" INFO replication 2>/dev/null | tr -d '\r')" || return 1
  grep -qx "role:slave" <<<"$info" && grep -qx "master_port:$2" <<<"$info" &&
    grep -qx "master_link_status:up" <<<"$info"
}

setup_groups() {
  local spec gid master replica beg end stats servers created=0
  stats="$(stats_json)"
  for spec in "${GROUPS_SPEC[@]}"; do
    read -r gid master replica beg end <<<"$spec"
    if [ "$(jq_py "$stats" "any(g['id'] == $gid for g in j['group']['models'])")" != 1 ]; then
      api_or_die PUT "group/create/$XAUTH/$gid" "creating group $gid"
      say "group $gid created"
      created=1
      stats="$(stats_json)"
    fi
    servers="$(jq_py "$stats" "[s['server'] for g in j['group']['models'] if g['id'] == $gid for s in g['servers']]")"
    if ! grep -qx "$HOST:$master" <<<"$servers"; then
      [ -z "$servers" ] || die "group $gid already has servers ($servers) but not its master $HOST:$master;
  fix it in the dashboard ($DASH) or start from scratch: $0 stop; rm -rf $STATE"
      api_or_die PUT "group/add/$XAUTH/$gid/$HOST:$master" "adding $HOST:$master to group $gid"
      say "group $gid: master $HOST:$master added"
      created=1
    fi
    if ! grep -qx "$HOST:$replica" <<<"$servers"; then
      api_or_die PUT "group/add/$XAUTH/$gid/$HOST:$replica" "adding $HOST:$replica to group $gid"
      say "group $gid: replica $HOST:$replica added"
      created=1
    fi
  done
  [ "$created" = 1 ] || say "groups 1 and 2 already exist with their servers"
}

# "master-port replica-port" of a group as the dashboard has it now: its
# servers[0] is the master, which after a Sentinel failover is the former
# replica (and the old master, restarted, is the one to replicate it).
group_ports() {  # stats-json gid first-master-port first-replica-port
  local current
  current="$(jq_py "$1" "next((g['servers'][0]['server'] for g in j['group']['models'] if g['id'] == $2 and g['servers']), '')")"
  if [ "$current" = "$HOST:$4" ]; then echo "$4 $3"; else echo "$3 $4"; fi
}

setup_replication() {
  local spec gid master replica first second beg end stats pending=()
  stats="$(stats_json)"
  for spec in "${GROUPS_SPEC[@]}"; do
    read -r gid first second beg end <<<"$spec"
    read -r master replica <<<"$(group_ports "$stats" "$gid" "$first" "$second")"
    if replica_in_sync "$replica" "$master"; then
      continue
    fi
    # A sync action: the dashboard's poller runs SLAVEOF as the group's list says.
    api PUT "group/action/create/$XAUTH/$HOST:$replica" ||
      case "$(cause "$API_BODY")" in
        *exist*) ;;  # an action is already queued for it
        *) die "sync action for $HOST:$replica failed: $(cause "$API_BODY")" ;;
      esac
    say "group $gid: replica $HOST:$replica set to replicate $HOST:$master (sync action)"
    pending+=("$replica $master")
  done
  for spec in "${pending[@]}"; do
    read -r replica master <<<"$spec"
    wait_for 60 replica_in_sync "$replica" "$master" ||
      die "replica $HOST:$replica did not sync from $HOST:$master within 60s
  (logs: $(redis_dir "$replica")/redis.log, $STATE/dashboard/dashboard.log)"
    say "replica $HOST:$replica is in sync with $HOST:$master"
  done
  [ "${#pending[@]}" -gt 0 ] || say "replicas already in sync with their masters"
}

proxy_known() {  # token: registered with the dashboard
  api GET "stats/$XAUTH" &&
    [ "$(jq_py "$API_BODY" "any(p['token'] == '$1' for p in j['proxy']['models'])")" = 1 ]
}

setup_proxies() {
  local i admin token stale t
  for i in 0 1; do
    admin="$HOST:${PROXY_ADMIN_PORTS[$i]}"
    token="$(curl -fsS --max-time 5 -H "@$AUTH_HEADER" "http://$admin/proxy/model" | jq_py "$(cat)" "j['token']")" ||
      die "cannot read the model of proxy $admin (log: $(proxy_dir $((i + 1)))/proxy.log)"
    # A proxy started with --zookeeper hands itself to the dashboard on its own.
    if ! wait_for 15 proxy_known "$token"; then
      api PUT "proxy/create/$XAUTH/$admin" || proxy_known "$token" ||
        die "registering proxy $admin with the dashboard failed: $(cause "$API_BODY")"
      say "proxy $admin registered with the dashboard"
      api_or_die GET "stats/$XAUTH" "reading the proxies"
    fi
    # Registrations of earlier runs of this proxy (same address, another
    # token) would make every routing push fail: remove them. ($API_BODY:
    # the stats proxy_known just read)
    stale="$(jq_py "$API_BODY" "[p['token'] for p in j['proxy']['models'] if p['admin_addr'] == '$admin' and p['token'] != '$token']")"
    for t in $stale; do
      api_or_die PUT "proxy/remove/$XAUTH/$t/1" "removing the stale registration $t of proxy $admin"
      say "removed the stale registration of an earlier run of proxy $admin (token $t)"
    done
  done
  say "both proxies are registered with the dashboard"
}

setup_slots() {
  local spec gid master replica beg end body n stats
  stats="$(stats_json)"
  for spec in "${GROUPS_SPEC[@]}"; do
    read -r gid master replica beg end <<<"$spec"
    # only slots nobody owns: a slot already moved elsewhere is left alone
    body="$(jq_py "$stats" "__import__('json').dumps([{'id': s['id'], 'group_id': $gid} for s in j['slots'] if $beg <= s['id'] <= $end and not s.get('group_id')])")"
    n="$(jq_py "$body" "len(j)")"
    if [ "$n" = 0 ]; then
      say "slots $beg-$end: already assigned"
      continue
    fi
    api_or_die PUT "slots/assign/$XAUTH" "$body" "assigning slots $beg-$end to group $gid"
    say "slots $beg-$end: $n assigned to group $gid"
  done
}

sentinel_monitors_all() {  # addr
  api GET "sentinels/info/$1/monitored" || return 1
  [ "$(jq_py "$API_BODY" "all('$PRODUCT-%d' % g in j['masters'] for g in (1, 2))")" = 1 ]
}

setup_sentinels() {
  local stats port added=0 resync=0
  stats="$(stats_json)"
  for port in "${SENTINEL_PORTS[@]}"; do
    if [ "$(jq_py "$stats" "'$HOST:$port' in j['sentinels']['model'].get('servers', [])")" != 1 ]; then
      api_or_die PUT "sentinels/add/$XAUTH/$HOST:$port" "adding sentinel $HOST:$port"
      say "sentinel $HOST:$port added to the dashboard"
      added=1
    fi
  done
  if [ "$added" = 0 ]; then
    [ "$(jq_py "$stats" "bool(j['sentinels']['model'].get('out_of_sync'))")" = 1 ] && resync=1
    for port in "${SENTINEL_PORTS[@]}"; do
      [ "$resync" = 1 ] || sentinel_monitors_all "$HOST:$port" || resync=1
    done
  fi
  if [ "$resync" = 1 ] || [ "$added" = 1 ]; then
    api_or_die PUT "sentinels/resync-all/$XAUTH" "registering the group masters with the sentinels"
    for port in "${SENTINEL_PORTS[@]}"; do
      wait_for 15 sentinel_monitors_all "$HOST:$port" ||
        die "sentinel $HOST:$port does not monitor $PRODUCT-1 and $PRODUCT-2 (log: $(sentinel_dir "$port")/sentinel.log)"
    done
    say "sentinels monitor $PRODUCT-1 and $PRODUCT-2"
  else
    say "sentinels already monitor $PRODUCT-1 and $PRODUCT-2"
  fi
}

# A key "quickstart:check:N" whose slot (crc32 % 1024) group $2 owns in the
# stats $1; empty when it owns none.
key_of_group() {  # stats-json gid
  jq_py "$1" "(lambda owned: next((k for k in ('quickstart:check:%d' % i for i in range(100000))
    if __import__('zlib').crc32(k.encode()) % 1024 in owned), None) if owned else None)(
    {s['id'] for s in j['slots'] if s.get('group_id') == $2})"
}

end_to_end_check() {
  # one key per group, written through HAProxy, read back through each proxy,
  # from the group's master and from its replica
  local k r spec gid master replica first second beg end got port stats
  stats="$(stats_json)"
  for spec in "${GROUPS_SPEC[@]}"; do
    read -r gid first second beg end <<<"$spec"
    read -r master replica <<<"$(group_ports "$stats" "$gid" "$first" "$second")"
    # a key in a slot this group owns now (slots may have moved since the
    # first start: migrations, rebalances)
    k="$(key_of_group "$stats" "$gid")"
    if [ -z "$k" ]; then
      say "end-to-end check: group $gid owns no slot now; skipped"
      continue
    fi
    got="$(redis-cli -h "$HOST" -p "$HAPROXY_PORT" SET "$k" ok 2>&1)"
    [ "$got" = "OK" ] || die "SET $k through HAProxy :$HAPROXY_PORT failed: $got"
    for port in "${PROXY_PORTS[@]}"; do
      got="$(redis-cli -h "$HOST" -p "$port" GET "$k" 2>&1)"
      [ "$got" = "ok" ] || die "GET $k through codis-proxy :$port gave '$got' (log: $STATE/proxy-*/proxy.log)"
    done
    [ "$(redis-cli -h "$HOST" -p "$master" GET "$k")" = "ok" ] || die "$k did not land on group $gid's master :$master"
    got=""
    for ((r = 0; r < 50; r++)); do
      got="$(redis-cli -h "$HOST" -p "$replica" GET "$k")"
      [ "$got" = "ok" ] && break
      sleep 0.1
    done
    [ "$got" = "ok" ] || die "$k did not reach group $gid's replica :$replica"
    got="$(redis-cli --tls --cacert "$STATE/tls/ca.crt" -h "$HOST" -p "$HAPROXY_TLS_PORT" GET "$k" 2>&1)"
    [ "$got" = "ok" ] || die "GET $k over TLS through HAProxy :$HAPROXY_TLS_PORT gave '$got' (log: $STATE/proxy-*/proxy.log)"
    redis-cli -h "$HOST" -p "$HAPROXY_PORT" DEL "$k" >/dev/null
  done
  say "end-to-end check: ok (through HAProxy, plain and TLS, and both proxies, to each group's master and replica)"
}

print_info() {
  local stats g1 g2
  stats="$(stats_json)"
  g1="$(group_ports "$stats" 1 "$G1_MASTER" "$G1_REPLICA")"
  g2="$(group_ports "$stats" 2 "$G2_MASTER" "$G2_REPLICA")"
  cat <<EOF

Codis quickstart cluster "$PRODUCT" is running (state dir $STATE).
  connect:    redis-cli -p $HAPROXY_PORT              (HAProxy in front of both proxies)
              redis-cli -p ${PROXY_PORTS[0]}  /  redis-cli -p ${PROXY_PORTS[1]}   (each proxy directly)
  TLS:        redis-cli --tls --cacert $STATE/tls/ca.crt -p $HAPROXY_TLS_PORT   (HAProxy passes TLS through to the proxies' TLS ports ${PROXY_TLS_PORTS[0]}, ${PROXY_TLS_PORTS[1]})
  admin secret: $SECRET   (root only; the dashboard, the proxies and codis-admin use it)
  web UI:     http://127.0.0.1:$DASH_PORT/   (sign in as "admin" with the admin secret)
  dashboard:  127.0.0.1:$DASH_PORT   e.g. $BUILD/dashboard/admin/codis-admin --dashboard=127.0.0.1:$DASH_PORT --group-status
              (codis-admin reads the secret from $SECRET; elsewhere: CODIS_ADMIN_AUTH_FILE=FILE)
  proxies:    admin http://127.0.0.1:${PROXY_ADMIN_PORTS[0]}  http://127.0.0.1:${PROXY_ADMIN_PORTS[1]}
              e.g. curl -H @$AUTH_HEADER http://127.0.0.1:${PROXY_ADMIN_PORTS[0]}/proxy/stats   (/metrics is open)
  groups:     1 = 127.0.0.1:${g1% *} + replica :${g1#* } (slots 0-511)
              2 = 127.0.0.1:${g2% *} + replica :${g2#* } (slots 512-1023)
  sentinels:  127.0.0.1:${SENTINEL_PORTS[0]} :${SENTINEL_PORTS[1]} :${SENTINEL_PORTS[2]}  (masters $PRODUCT-1, $PRODUCT-2)
  $(printf '%-11s' "$(coord_label):") 127.0.0.1:$(coord_port)
  HAProxy:    status page http://127.0.0.1:$HAPROXY_STATS_PORT/
  logs:       $STATE/*/*.log   (dashboard/dashboard.log, proxy-1/proxy.log, redis-$G1_MASTER/redis.log, ...)
  status:     $0 status
  stop:       $0 stop
EOF
}

all_running() {
  local p
  coord_pid >/dev/null && dash_pid >/dev/null && haproxy_pid >/dev/null || return 1
  for p in "${REDIS_PORTS[@]}"; do redis_pid "$p" >/dev/null || return 1; done
  for p in "${SENTINEL_PORTS[@]}"; do sentinel_pid "$p" >/dev/null || return 1; done
  proxy_pid 1 >/dev/null && proxy_pid 2 >/dev/null
}

cmd_start() {
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  ensure_secret
  local running=0
  all_running && running=1
  step 1 "dependencies"
  if [ "${CODIS_QS_SKIP_DEPS:-0}" = 1 ]; then
    say "skipped (CODIS_QS_SKIP_DEPS=1)"
  elif [ "$running" = 1 ]; then
    say "skipped: the cluster is already running"
  else
    bash "$ROOT/deploy/install-deps.sh"
  fi
  step 2 "build ($BUILD)"
  if [ "${CODIS_QS_SKIP_BUILD:-0}" = 1 ]; then
    say "skipped (CODIS_QS_SKIP_BUILD=1)"
  elif [ "$running" = 1 ]; then
    say "skipped: the cluster is already running"
  else
    say "building with deploy/build.sh (log: $STATE/build.log; the first build takes a while) ..."
    CODIS_BUILD_DIR="$BUILD" bash "$ROOT/deploy/build.sh" >"$STATE/build.log" 2>&1 &
    local build_pid=$! last="" now n=0
    while kill -0 "$build_pid" 2>/dev/null; do
      sleep 1
      n=$((n + 1))
      [ $((n % 15)) = 0 ] || continue
      now="$(grep -aoE '^\[[0-9]+/[0-9]+\]' "$STATE/build.log" | tail -n 1 || true)"
      [ -n "$now" ] && [ "$now" != "$last" ] && say "building ... $now" && last="$now"
    done
    wait "$build_pid" || {
      tail -n 30 "$STATE/build.log" >&2
      die "build failed (full log: $STATE/build.log)"
    }
    say "build ok"
  fi
  local t
  local coord_tool=java
  [ "$COORD" = etcd ] && coord_tool=etcd
  for t in redis-server redis-cli curl "$PY" sha256sum haproxy "$coord_tool"; do
    command -v "$t" >/dev/null || die "$t is not installed (run deploy/install-deps.sh)"
  done

  step 3 "starting $(coord_label) ..."
  start_coordinator
  step 4 "starting the Redis group servers (with the codis_slots module) ..."
  start_redis "$G1_MASTER" "group 1, first master"
  start_redis "$G1_REPLICA" "group 1, first replica"
  start_redis "$G2_MASTER" "group 2, first master"
  start_redis "$G2_REPLICA" "group 2, first replica"
  step 5 "starting sentinels ..."
  local p
  for p in "${SENTINEL_PORTS[@]}"; do start_sentinel "$p"; done
  step 6 "starting codis-dashboard ..."
  start_dashboard
  step 7 "creating groups and replicas ..."
  setup_groups
  setup_replication
  step 8 "starting codis-proxies, assigning slots, registering with the sentinels ..."
  start_proxy 1
  start_proxy 2
  setup_proxies
  setup_slots
  setup_sentinels
  step 9 "starting HAProxy and checking the whole path ..."
  start_haproxy
  wait_for 20 answers_ping "$HAPROXY_PORT" || die "HAProxy :$HAPROXY_PORT does not answer PING (no proxy up?)"
  end_to_end_check
  print_info
}

# --- stop / status -------------------------------------------------------------

pid_alive() {  # pid: running (a zombie waiting to be reaped counts as gone)
  local st
  st="$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# Stops a set of processes together: SIGTERM to all, then wait (SIGKILL
# after 15 s). Arguments: "name|pid|pidfile" (pid empty: not running).
stop_all() {
  local item name pid pf i left
  local -a live=()
  for item in "$@"; do
    IFS='|' read -r name pid pf <<<"$item"
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      live+=("$item")
      STOPPED=1
    fi
    rm -f "$pf"
  done
  for ((i = 0; i < 150; i++)); do
    left=0
    for item in "${live[@]}"; do
      IFS='|' read -r name pid pf <<<"$item"
      pid_alive "$pid" && left=1
    done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for item in "${live[@]}"; do
    IFS='|' read -r name pid pf <<<"$item"
    if pid_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      say "$name: killed (pid $pid did not exit within 15s of SIGTERM)"
    else
      say "$name: stopped (pid $pid)"
    fi
  done
}

STOPPED=0
cmd_stop() {
  local p n
  local -a items=()
  # clients first, the coordinator last (the dashboard releases its lock cleanly)
  items=("HAProxy|$(haproxy_pid || true)|$STATE/haproxy/haproxy.pid")
  # the single proxy of an older quickstart, if one still runs
  items+=("codis-proxy (older quickstart)|$(live_pid "$STATE/proxy/proxy.pid" codis-proxy || true)|$STATE/proxy/proxy.pid")
  for n in 1 2; do
    items+=("codis-proxy $n|$(proxy_pid "$n" || true)|$(proxy_dir "$n")/proxy.pid")
  done
  stop_all "${items[@]}"
  stop_all "codis-dashboard|$(dash_pid || true)|$STATE/dashboard/dashboard.pid"
  items=()
  for p in "${SENTINEL_PORTS[@]}"; do
    items+=("redis-sentinel :$p|$(sentinel_pid "$p" || true)|$(sentinel_dir "$p")/sentinel.pid")
  done
  stop_all "${items[@]}"
  items=()
  for p in "${REDIS_PORTS[@]}"; do
    items+=("redis-server :$p|$(redis_pid "$p" || true)|$(redis_dir "$p")/redis.pid")
  done
  stop_all "${items[@]}"
  stop_all "ZooKeeper|$(zk_pid || true)|$(zk_dir)/zookeeper.pid"
  stop_all "etcd|$(etcd_pid || true)|$(etcd_dir)/etcd.pid"
  if [ "$STOPPED" = 1 ]; then
    say "stopped (configs, data and logs kept in $STATE; $0 starts it again)"
  else
    say "nothing was running (state dir $STATE)"
  fi
}

status_line() {  # name pid-or-empty check-command...
  local name="$1" pid="$2"
  shift 2
  if [ -z "$pid" ]; then
    say "$name: stopped"
    return 1
  fi
  if "$@"; then
    say "$name: running (pid $pid)"
  else
    say "$name: running (pid $pid) but NOT answering"
  fi
}

cmd_status() {
  local ok=0 p n
  status_line "$(coord_label) 127.0.0.1:$(coord_port)" "$(coord_pid || true)" coord_serving || ok=1
  for p in "${REDIS_PORTS[@]}"; do
    status_line "redis-server 127.0.0.1:$p" "$(redis_pid "$p" || true)" answers_ping "$p" || ok=1
  done
  for p in "${SENTINEL_PORTS[@]}"; do
    status_line "redis-sentinel 127.0.0.1:$p" "$(sentinel_pid "$p" || true)" answers_ping "$p" || ok=1
  done
  status_line "codis-dashboard $DASH" "$(dash_pid || true)" dash_answers || ok=1
  for n in 1 2; do
    p="${PROXY_PORTS[$((n - 1))]}"
    status_line "codis-proxy $n 127.0.0.1:$p" "$(proxy_pid "$n" || true)" answers_ping "$p" || ok=1
  done
  status_line "HAProxy 127.0.0.1:$HAPROXY_PORT" "$(haproxy_pid || true)" answers_ping "$HAPROXY_PORT" || ok=1
  if [ "$ok" = 0 ]; then
    print_info
  else
    say "not everything is running: $0 starts what is missing"
  fi
  return "$ok"
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *) die "unknown command '$1' (use: start | status | stop)" ;;
esac
