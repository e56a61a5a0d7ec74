#!/usr/bin/env bash
# Real local services for tests and benchmarks, without Docker.
#
#   bash scripts/services.sh start    install what is missing, start Kafka + ClickHouse + Redis (parallel)
#   bash scripts/services.sh stop     stop what this script started, remove their data dirs
#   bash scripts/services.sh status   print up/down per service (exit 0 when all up, 3 otherwise)
#   bash scripts/services.sh env      print the export line for KAFKA_BROKERS, CLICKHOUSE_URL, REDIS_URL
#   bash scripts/services.sh env-secure  print the export line for TRIBUTARY_SECURE_SERVICES_JSON (a path)
#   bash scripts/services.sh start-cluster | stop-cluster | cluster-env | kill-broker N | restart-broker N
#                                     a replicated 3-node Kafka cluster for failover tests (scripts/services/kafka-cluster.sh)
#
# Kafka:      Apache Kafka 4.1.1 (jars from Maven Central, see scripts/kafka/pom.xml) on Java 17,
#             one combined broker+controller KRaft node, PLAINTEXT 127.0.0.1:$KAFKA_PORT.
# ClickHouse: Debian's clickhouse-server (18.16), HTTP 127.0.0.1:$CLICKHOUSE_HTTP_PORT.
# Redis:      reuses a Redis already answering on 127.0.0.1:$REDIS_PORT, else starts one
#             (and only then stops it again).
# Secured endpoints (unless TRIBUTARY_SECURE_SERVICES=0), described by $STATE/secure/services.json
# (ports, users, paths of the password files; no secret is ever printed):
#   a throwaway CA with a server cert (127.0.0.1, localhost) and a client cert (scripts/services/secure-material.sh);
#   Kafka SASL_PLAINTEXT :$KAFKA_SASL_PORT, SASL_SSL :$KAFKA_SASL_SSL_PORT, mutual TLS :$KAFKA_SSL_PORT on the
#   same node (secure-kafka.sh); a second Redis with ACL users, :$REDIS_SECURE_PORT and TLS :$REDIS_TLS_PORT
#   (secure-redis.sh); ClickHouse users tributary and analyst and HTTPS :$CLICKHOUSE_HTTPS_PORT (secure-clickhouse.sh).
#
# State (pid files, logs, data, classpath cache) lives in ${TRIBUTARY_SERVICES_DIR:-<repo>/.services}.
# Environment knobs: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), CLICKHOUSE_HTTP_PORT (18123),
# CLICKHOUSE_TCP_PORT (19000), REDIS_PORT (6379), KAFKA_SASL_PORT (19094), KAFKA_SASL_SSL_PORT (19095),
# KAFKA_SSL_PORT (19096), REDIS_SECURE_PORT (16380), REDIS_TLS_PORT (16381), CLICKHOUSE_HTTPS_PORT (18443),
# TRIBUTARY_SECURE_SERVICES (1; 0 = none of the secured endpoints), KAFKA_START_TIMEOUT (90), CLICKHOUSE_START_TIMEOUT (60),
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, TRIBUTARY_NEED_BROWSER=1 (install chromium),
# TRIBUTARY_NEED_PROMTOOL=1 (install Debian's prometheus package for promtool).
set -Eeuo pipefail
trap 'printf "[services] ERROR: \"%s\" failed (exit %s) at %s line %s\n" "$BASH_COMMAND" "$?" "${BASH_SOURCE[0]}" "$LINENO" >&2' ERR
set +m # no job control: a background `setsid cmd` then execs in place, so $! is the daemon's pid and pgid

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TRIBUTARY_SERVICES_DIR:-$ROOT/.services}"
HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
CLICKHOUSE_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-18123}"
CLICKHOUSE_TCP_PORT="${CLICKHOUSE_TCP_PORT:-19000}"
REDIS_PORT="${REDIS_PORT:-6379}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-19094}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-19095}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-19096}"
REDIS_SECURE_PORT="${REDIS_SECURE_PORT:-16380}"
REDIS_TLS_PORT="${REDIS_TLS_PORT:-16381}"
CLICKHOUSE_HTTPS_PORT="${CLICKHOUSE_HTTPS_PORT:-18443}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
CLICKHOUSE_START_TIMEOUT="${CLICKHOUSE_START_TIMEOUT:-60}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m}"
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
STOP_TIMEOUT="${STOP_TIMEOUT:-10}"
CLICKHOUSE_BIN=/usr/sbin/clickhouse-server
for _v in KAFKA_PORT KAFKA_CONTROLLER_PORT CLICKHOUSE_HTTP_PORT CLICKHOUSE_TCP_PORT REDIS_PORT KAFKA_SASL_PORT \
  KAFKA_SASL_SSL_PORT KAFKA_SSL_PORT REDIS_SECURE_PORT REDIS_TLS_PORT CLICKHOUSE_HTTPS_PORT; do
  [[ ${!_v} =~ ^[0-9]+$ ]] || { echo "[services] ERROR: $_v must be a port number, got '${!_v}'" >&2; exit 2; }
done

secure_on() { [[ ${TRIBUTARY_SECURE_SERVICES:-1} != 0 ]]; }

# ---------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

elapsed() { # elapsed START_EPOCHREALTIME -> seconds with one decimal
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

port_open() { # port_open HOST PORT
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

port_owner() { # what listens on a TCP port (for error messages)
  ss -ltnpH "sport = :$1" 2>/dev/null || true
}

redis_ping() { # PING over raw RESP: works without redis-cli
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == "+PONG"* ]]' "$HOST" "$REDIS_PORT" 2>/dev/null
}

redis_shutdown() { # SHUTDOWN NOSAVE over raw RESP (a Redis this script did not start)
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "SHUTDOWN NOSAVE\r\n" >&3
    IFS= read -r -t 2 line <&3 || true' "$HOST" "$REDIS_PORT" 2>/dev/null || true
}

clickhouse_ping() {
  [[ "$(curl -s --max-time 2 "http://$HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" == "Ok." ]]
}

read_pid() { # read_pid FILE -> pid or empty
  if [[ -s $1 ]]; then tr -dc '0-9' <"$1"; fi
}

# our_pid NAME PATTERN -> prints the pid from $STATE/NAME.pid if that process is alive and its
# command line matches PATTERN (guards against pid reuse); returns 1 otherwise.
our_pid() {
  local pid cmd
  pid="$(read_pid "$STATE/$1.pid")"
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ $cmd =~ $2 ]] || return 1
  printf '%s\n' "$pid"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# stop_group NAME PATTERN: TERM the process group recorded in $STATE/NAME.pid, KILL after STOP_TIMEOUT s.
stop_group() {
  local name=$1 pattern=$2 pid t0 deadline
  if pid="$(our_pid "$name" "$pattern")"; then
    t0=$EPOCHREALTIME
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if group_alive "$pid"; then
      log "$name: still running after ${STOP_TIMEOUT}s, sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
      while group_alive "$pid"; do sleep 0.1; done
    fi
    log "$name: stopped (pid $pid) in $(elapsed "$t0") s"
  fi
  rm -f "$STATE/$name.pid"
}

as_root() {
  if ((EUID == 0)); then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

apt_install() { # apt_install PKG... (apt-get update only when the first try fails)
  log "installing with apt-get: $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y "$@"; then
    as_root apt-get update
    as_root apt-get install -y "$@" || die "apt-get install $* failed"
  fi
}

ensure_browser() { # chromium for browser tests, only on request
  if [[ ${TRIBUTARY_NEED_BROWSER:-0} == 1 && ! -x /usr/bin/chromium ]]; then apt_install chromium; fi
}

ensure_promtool() { # promtool (`promtool check metrics`) for the /metrics test, only on request
  if [[ ${TRIBUTARY_NEED_PROMTOOL:-0} == 1 ]] && ! command -v promtool >/dev/null; then
    # Only promtool is needed: no recommends (node exporter), and RUNLEVEL=1 keeps invoke-rc.d
    # from starting the Prometheus daemon where no policy-rc.d forbids it.
    RUNLEVEL=1 apt_install --no-install-recommends prometheus
  fi
}

ensure_packages() { # sequential (dpkg lock), before the parallel start
  local pkgs=()
  command -v curl >/dev/null || pkgs+=(curl)
  if secure_on && ! command -v openssl >/dev/null; then pkgs+=(openssl); fi
  command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || pkgs+=(maven)
  [[ -x $CLICKHOUSE_BIN ]] || pkgs+=(clickhouse-server)
  if { secure_on || ! redis_ping; } && ! command -v redis-server >/dev/null; then pkgs+=(redis-server); fi
  if ((${#pkgs[@]})); then apt_install "${pkgs[@]}"; fi
  ensure_browser
  ensure_promtool
}

# The secured endpoints (each file: what it adds, and why).
source "$ROOT/scripts/services/secure-material.sh"
source "$ROOT/scripts/services/secure-kafka.sh"
source "$ROOT/scripts/services/secure-clickhouse.sh"
source "$ROOT/scripts/services/secure-redis.sh"
# A replicated 3-node KRaft cluster for failover tests, started only on request (start-cluster).
source "$ROOT/scripts/services/kafka-cluster.sh"

# ---------------------------------------------------------------- Kafka

KAFKA_PATTERN='java .*kafka\.Kafka '
KAFKA_CP=""

kafka_classpath() { # sets KAFKA_CP; Maven runs only when the pom changed or a cached jar is gone
  local pom="$ROOT/scripts/kafka/pom.xml" hash cpfile jar ok=1 t0
  hash="$(sha256sum "$pom" | cut -c1-16)"
  cpfile="$STATE/cache/kafka-classpath-$hash.txt"
  if [[ -s $cpfile ]]; then
    IFS=: read -r -a jars <"$cpfile" || true # the file has no trailing newline
    for jar in "${jars[@]}"; do [[ -f $jar ]] || { ok=0; break; }; done
    if ((ok)); then KAFKA_CP="$(<"$cpfile")"; return 0; fi
  fi
  mkdir -p "$STATE/cache"
  t0=$EPOCHREALTIME
  log "kafka: resolving the broker classpath with Maven (jars cached in ~/.m2)"
  if ! mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.outputFile="$cpfile.tmp" \
    >"$STATE/cache/mvn.log" 2>&1; then
    tail -n 40 "$STATE/cache/mvn.log" >&2
    die "kafka: Maven could not resolve $pom (log: $STATE/cache/mvn.log)"
  fi
  [[ -s $cpfile.tmp ]] || die "kafka: Maven wrote an empty classpath"
  mv "$cpfile.tmp" "$cpfile"
  log "kafka: classpath resolved in $(elapsed "$t0") s"
  KAFKA_CP="$(<"$cpfile")"
}

kafka_cluster_id() { # 16 random bytes, base64url without padding = 22 chars (Kafka's Uuid format)
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

service_fail() { # service_fail NAME PATTERN MESSAGE LOG...: why it failed, its logs' tails, stop it, exit 1
  local name=$1 pattern=$2 f
  printf '[services] ERROR: %s\n' "$3" >&2
  for f in "${@:4}"; do
    [[ -s $f ]] && { printf -- '--- tail of %s\n' "$f" >&2; tail -n 40 "$f" >&2; }
  done
  stop_group "$name" "$pattern" >&2
  exit 1
}

kafka_fail() { # kafka_fail DIR MESSAGE [NAME]: NAME is the pid file's name (kafka, or kafka-N of the cluster)
  service_fail "${3:-kafka}" "$KAFKA_PATTERN" "$2" "$1/logs/server.log" "$1/logs/stdout.log"
}

start_kafka() {
  local dir="$STATE/kafka" pid cluster_id deadline scram
  local -a jvm
  if pid="$(our_pid kafka "$KAFKA_PATTERN")" && port_open "$HOST" "$KAFKA_PORT"; then
    log "kafka: already running (pid $pid) on $HOST:$KAFKA_PORT"
    kafka_secure_ports_open || log "kafka: WARNING: running without the secured listeners (started before they existed); to add them: bash scripts/services.sh stop && bash scripts/services.sh start"
    return 0
  fi
  stop_group kafka "$KAFKA_PATTERN" # a stale or half-started one of ours
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $(secure_on && echo "$KAFKA_SASL_PORT $KAFKA_SASL_SSL_PORT $KAFKA_SSL_PORT"); do
    port_open "$HOST" "$p" && die "kafka: port $p is in use by a process this script did not start: $(port_owner "$p")"
  done
  kafka_classpath
  # SCRAM users live in the storage: new passwords (SECURE_FRESH) need a fresh format.
  if [[ ${KEEP_DATA:-0} == 1 && -s $dir/data/meta.properties && $SECURE_FRESH == 0 ]]; then
    launch_kafka "$dir" # a restart (fault tests): same storage, topics and committed offsets
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/logs"
  (umask 077 && : >"$dir/server.properties") # it holds the PLAIN passwords of the secured listeners
  cat >>"$dir/server.properties" <<EOF
# generated by scripts/services.sh
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT$(kafka_secure_listeners)
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT$(kafka_secure_listeners)
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT$(kafka_secure_protocols)
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.retention.hours=24
EOF
  kafka_secure_properties >>"$dir/server.properties"
  cluster_id="$(kafka_cluster_id)"
  scram="$(kafka_scram_argfile "$dir")" # the SCRAM users, from a file (no password on a command line)
  if ! java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dkafka.logs.dir=$dir/logs" \
    "-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties" -cp "$KAFKA_CP" \
    kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$dir/server.properties" --standalone ${scram:+"$scram"} \
    >"$dir/logs/format.log" 2>&1; then
    rm -f "$dir/format.args"
    cat "$dir/logs/format.log" >&2
    die "kafka: storage format failed"
  fi
  rm -f "$dir/format.args"
  launch_kafka "$dir"
}

# launch_kafka DIR [NAME PORT HEAP]: start the formatted broker in DIR and wait until it serves
# (NAME: its pid file, default kafka; PORT: its client port; HEAP: its heap options; the cluster's nodes pass all three)
launch_kafka() {
  local dir=$1 name=${2:-kafka} port=${3:-$KAFKA_PORT} heap=${4:-$KAFKA_HEAP_OPTS} pid deadline
  local -a jvm=($heap $KAFKA_JVM_PERFORMANCE_OPTS
    "-Dkafka.logs.dir=$dir/logs" "-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties")
  local started_lines=0
  [[ -f $dir/logs/server.log ]] && started_lines=$(grep -c 'Kafka Server started' "$dir/logs/server.log" || true)
  (cd "$dir" && exec setsid java "${jvm[@]}" -cp "$KAFKA_CP" kafka.Kafka "$dir/server.properties" \
    >"$dir/logs/stdout.log" 2>&1 </dev/null 9>&-) &
  pid=$!
  STARTED=1
  echo "$pid" >"$STATE/$name.pid"
  deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until (($(grep -c 'Kafka Server started' "$dir/logs/server.log" 2>/dev/null || true) > started_lines)) && port_open "$HOST" "$port" && kafka_secure_ports_open; do
    kill -0 "$pid" 2>/dev/null || kafka_fail "$dir" "$name: broker exited during startup" "$name"
    ((SECONDS < deadline)) || kafka_fail "$dir" "$name: not ready after ${KAFKA_START_TIMEOUT}s" "$name"
    sleep 0.2
  done
}

kafka_secure_ports_open() { # the secured listeners answer (true when they are turned off)
  secure_on || return 0
  port_open "$HOST" "$KAFKA_SASL_PORT" && port_open "$HOST" "$KAFKA_SASL_SSL_PORT" && port_open "$HOST" "$KAFKA_SSL_PORT"
}

# ---------------------------------------------------------------- ClickHouse

CLICKHOUSE_PATTERN='clickhouse-server .*--config-file='

clickhouse_fail() { # clickhouse_fail DIR MESSAGE
  service_fail clickhouse "$CLICKHOUSE_PATTERN" "$2" "$1/log/clickhouse-server.err.log" "$1/log/stdout.log"
}

clickhouse_remove_dirs() { # the default dir and, if one was used, the /tmp fallback
  if [[ -s $STATE/clickhouse.dir ]]; then rm -rf "$(<"$STATE/clickhouse.dir")"; fi
  rm -rf "$STATE/clickhouse" "$STATE/clickhouse.dir"
}

start_clickhouse() {
  local dir="$STATE/clickhouse" pid deadline esc
  local -a runner=()
  if pid="$(our_pid clickhouse "$CLICKHOUSE_PATTERN")" && clickhouse_ping; then
    log "clickhouse: already running (pid $pid) on http://$HOST:$CLICKHOUSE_HTTP_PORT"
    if secure_on && ! port_open "$HOST" "$CLICKHOUSE_HTTPS_PORT"; then
      log "clickhouse: WARNING: running without HTTPS and the secured users (started before they existed); to add them: bash scripts/services.sh stop && bash scripts/services.sh start"
    fi
    return 0
  fi
  stop_group clickhouse "$CLICKHOUSE_PATTERN"
  for p in "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_TCP_PORT" $(secure_on && echo "$CLICKHOUSE_HTTPS_PORT"); do
    port_open "$HOST" "$p" && die "clickhouse: port $p is in use by a process this script did not start: $(port_owner "$p")"
  done
  if [[ ${KEEP_DATA:-0} == 1 && -s $STATE/clickhouse.dir ]]; then
    dir="$(<"$STATE/clickhouse.dir")"
  fi
  if [[ ${KEEP_DATA:-0} == 1 && -s $dir/etc/config.xml ]]; then
    clickhouse_secure_config "$dir"
    launch_clickhouse "$dir" # a restart (fault tests): same data and tables
    return
  fi
  clickhouse_remove_dirs
  if ((EUID == 0)); then
    id clickhouse >/dev/null 2>&1 || die "clickhouse: user 'clickhouse' missing (reinstall clickhouse-server)"
    runner=(runuser -u clickhouse --)
    mkdir -p "$dir"
    chown clickhouse:clickhouse "$dir"
    if ! runuser -u clickhouse -- test -w "$dir"; then
      # A parent of the state dir is not traversable for the clickhouse user (e.g. a checkout
      # under /root): keep ClickHouse's files in /tmp instead, remembered for `stop`.
      rmdir "$dir"
      dir="${TMPDIR:-/tmp}/tributary-clickhouse-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
      log "clickhouse: user 'clickhouse' cannot reach $STATE; using $dir"
      rm -rf "$dir"
      mkdir -p "$dir"
      chmod 755 "$dir"
      chown clickhouse:clickhouse "$dir"
      echo "$dir" >"$STATE/clickhouse.dir"
      runuser -u clickhouse -- test -w "$dir" || die "clickhouse: user 'clickhouse' cannot write $dir either"
    fi
  fi
  mkdir -p "$dir"/{etc,data,tmp,user_files,format_schemas,log}
  esc="$(printf '%s' "$dir" | sed 's/[&|\\]/\\&/g')"
  for f in config.xml users.xml; do
    sed -e "s|@STATE@|$esc|g" -e "s|@HTTP_PORT@|$CLICKHOUSE_HTTP_PORT|g" -e "s|@TCP_PORT@|$CLICKHOUSE_TCP_PORT|g" \
      "$ROOT/scripts/clickhouse/$f" >"$dir/etc/$f"
  done
  clickhouse_secure_config "$dir"
  ((EUID != 0)) || chown -R clickhouse:clickhouse "$dir"
  launch_clickhouse "$dir"
}

launch_clickhouse() { # launch_clickhouse DIR: start the server configured in DIR and wait for /ping
  local dir=$1 pid deadline
  local -a runner=()
  ((EUID != 0)) || runner=(runuser -u clickhouse --)
  (cd "$dir" && exec setsid "${runner[@]}" "$CLICKHOUSE_BIN" --config-file="$dir/etc/config.xml" \
    >"$dir/log/stdout.log" 2>&1 </dev/null 9>&-) &
  pid=$!
  STARTED=1
  echo "$pid" >"$STATE/clickhouse.pid"
  deadline=$((SECONDS + CLICKHOUSE_START_TIMEOUT))
  until clickhouse_ping; do
    kill -0 "$pid" 2>/dev/null || clickhouse_fail "$dir" "clickhouse: server exited during startup"
    ((SECONDS < deadline)) || clickhouse_fail "$dir" "clickhouse: no /ping answer after ${CLICKHOUSE_START_TIMEOUT}s"
    sleep 0.1
  done
  clickhouse_secure_ready || clickhouse_fail "$dir" "clickhouse: HTTPS on $HOST:$CLICKHOUSE_HTTPS_PORT or the $CLICKHOUSE_ANALYTICS_DB database is not ready"
}

# ---------------------------------------------------------------- Redis

REDIS_PATTERN='redis-server'

start_redis() {
  local dir="$STATE/redis" pid deadline
  if redis_ping; then
    if pid="$(our_pid redis "$REDIS_PATTERN")"; then
      log "redis: already running (pid $pid, started by this script) on $HOST:$REDIS_PORT"
    else
      log "redis: already running on $HOST:$REDIS_PORT (not started by this script; stop leaves it alone)"
    fi
    return 0
  fi
  rm -f "$STATE/redis.pid"
  port_open "$HOST" "$REDIS_PORT" && die "redis: port $REDIS_PORT is open but does not answer PING: $(port_owner "$REDIS_PORT")"
  rm -rf "$dir"
  mkdir -p "$dir"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" 9>&- ||
    die "redis: redis-server failed to start (log: $dir/redis.log)"
  STARTED=1
  deadline=$((SECONDS + 15))
  until redis_ping && [[ -s $dir/redis.pid ]]; do
    ((SECONDS < deadline)) || { tail -n 20 "$dir/redis.log" >&2 || true; die "redis: no PONG after 15s"; }
    sleep 0.1
  done
  cp "$dir/redis.pid" "$STATE/redis.pid" # presence of redis.pid = we started it
}

# ---------------------------------------------------------------- commands

lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another services.sh start/stop holds $STATE/.lock"
}

cmd_start() {
  local t0=$EPOCHREALTIME svc failed=() rc services=(kafka clickhouse redis)
  declare -A jobs
  lock
  ensure_packages
  if secure_on; then
    secure_prepare # before the parallel start: every service reads the same CA and passwords
    services+=(redis_secure)
  fi
  for svc in "${services[@]}"; do
    (
      t=$EPOCHREALTIME STARTED=0
      "start_$svc"
      ((STARTED == 0)) || log "$svc: started and ready in $(elapsed "$t") s"
    ) &
    jobs[$svc]=$!
  done
  for svc in "${services[@]}"; do
    rc=0
    wait "${jobs[$svc]}" || rc=$?
    ((rc == 0)) || failed+=("$svc")
  done
  ((${#failed[@]} == 0)) || die "failed to start: ${failed[*]} (the others are left running; run: bash scripts/services.sh stop)"
  if secure_on; then write_manifest; fi # only once every secured endpoint answers
  log "all services ready in $(elapsed "$t0") s"
  cmd_env
}

cmd_stop() {
  lock
  stop_group kafka "$KAFKA_PATTERN" &
  local k=$!
  stop_group clickhouse "$CLICKHOUSE_PATTERN" &
  local c=$!
  local pid
  if pid="$(our_pid redis "$REDIS_PATTERN")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "redis: stopped (pid $pid)"
  elif redis_ping; then
    log "redis: left running (not started by this script)"
  fi
  rm -f "$STATE/redis.pid"
  stop_redis_secure
  wait "$k" "$c"
  clickhouse_remove_dirs
  rm -rf "$STATE/kafka" "$STATE/redis" "$STATE/redis-secure" "$SECURE"
}

cmd_status() {
  local pid all=0
  if pid="$(our_pid kafka "$KAFKA_PATTERN")" && port_open "$HOST" "$KAFKA_PORT"; then
    echo "kafka       up    $HOST:$KAFKA_PORT (pid $pid)"
  elif port_open "$HOST" "$KAFKA_PORT"; then
    echo "kafka       up?   $HOST:$KAFKA_PORT is open, but not a broker this script started"
  else
    echo "kafka       down"; all=3
  fi
  if clickhouse_ping; then
    if pid="$(our_pid clickhouse "$CLICKHOUSE_PATTERN")"; then
      echo "clickhouse  up    http://$HOST:$CLICKHOUSE_HTTP_PORT (pid $pid)"
    else
      echo "clickhouse  up    http://$HOST:$CLICKHOUSE_HTTP_PORT (not started by this script)"
    fi
  else
    echo "clickhouse  down"; all=3
  fi
  if redis_ping; then
    if pid="$(our_pid redis "$REDIS_PATTERN")"; then
      echo "redis       up    redis://$HOST:$REDIS_PORT (pid $pid)"
    else
      echo "redis       up    redis://$HOST:$REDIS_PORT (not started by this script)"
    fi
  else
    echo "redis       down"; all=3
  fi
  if secure_on; then cmd_status_secure || all=3; fi
  return "$all"
}

cmd_status_secure() { # the secured endpoints, and the manifest that describes them
  local all=0
  if kafka_secure_ports_open; then
    echo "kafka-sec   up    SASL $HOST:$KAFKA_SASL_PORT, SASL_SSL $HOST:$KAFKA_SASL_SSL_PORT, SSL $HOST:$KAFKA_SSL_PORT"
  else
    echo "kafka-sec   down"; all=3
  fi
  if clickhouse_https_ping; then echo "ch-https    up    https://$HOST:$CLICKHOUSE_HTTPS_PORT"; else echo "ch-https    down"; all=3; fi
  if redis_secure_ping; then
    echo "redis-sec   up    redis://$HOST:$REDIS_SECURE_PORT, rediss://$HOST:$REDIS_TLS_PORT"
  else
    echo "redis-sec   down"; all=3
  fi
  if [[ -s $SECURE/services.json ]]; then echo "manifest    ok    $SECURE/services.json"; else echo "manifest    missing"; all=3; fi
  return "$all"
}

cmd_env() {
  echo "export KAFKA_BROKERS=$HOST:$KAFKA_PORT CLICKHOUSE_URL=http://$HOST:$CLICKHOUSE_HTTP_PORT REDIS_URL=redis://$HOST:$REDIS_PORT"
}

cmd_env_secure() { # the manifest's path only: it names the password files, never a password
  [[ -s $SECURE/services.json ]] || die "no $SECURE/services.json: run bash scripts/services.sh start (with TRIBUTARY_SECURE_SERVICES unset or 1)"
  printf 'export TRIBUTARY_SECURE_SERVICES_JSON=%q\n' "$SECURE/services.json"
}

# restart SERVICE [DOWN_SECONDS]: stop one service, wait, start it again with its data kept
# (fault tests: a broker or server restart, an outage). Redis is in-memory: it comes back empty.
cmd_restart() {
  local svc=${1:-} down=${2:-0} pid t0=$EPOCHREALTIME
  lock
  case "$svc" in
  kafka) stop_group kafka "$KAFKA_PATTERN" ;;
  clickhouse) stop_group clickhouse "$CLICKHOUSE_PATTERN" ;;
  redis)
    if pid="$(our_pid redis "$REDIS_PATTERN")"; then kill -TERM "$pid" 2>/dev/null || true; else redis_shutdown; fi
    for _ in $(seq 1 50); do redis_ping || break; sleep 0.1; done
    rm -f "$STATE/redis.pid"
    ;;
  *) die "restart: unknown service '$svc' (kafka, clickhouse or redis)" ;;
  esac
  log "$svc: down; starting again in $down s"
  sleep "$down"
  STARTED=0
  KEEP_DATA=1 "start_$svc"
  log "$svc: restarted in $(elapsed "$t0") s"
}

case "${1:-}" in
start) cmd_start ;;
start-cluster) cmd_start_cluster ;;
stop-cluster) cmd_stop_cluster ;;
cluster-env) cmd_cluster_env ;;
kill-broker) shift; cmd_kill_broker "$@" ;;
restart-broker) shift; cmd_restart_broker "$@" ;;
restart) shift; cmd_restart "$@" ;;
stop) cmd_stop ;;
status) cmd_status || exit $? ;;
env) cmd_env ;;
env-secure) cmd_env_secure ;;
*)
  echo "usage: bash scripts/services.sh start|stop|status|env|env-secure|restart SERVICE [DOWN_SECONDS]" >&2
  echo "       bash scripts/services.sh start-cluster|stop-cluster|cluster-env|kill-broker N|restart-broker N" >&2
  exit 2
  ;;
esac
