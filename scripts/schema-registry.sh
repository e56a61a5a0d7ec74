#!/usr/bin/env bash
# A real Confluent-compatible Schema Registry for tests, without Docker: Apicurio Registry 2.4.2
# (in-memory H2 storage) built from Maven Central by scripts/schema-registry/pom.xml.
#
#   bash scripts/schema-registry.sh start    build once if needed, start, wait until it answers
#   bash scripts/schema-registry.sh stop     stop the registry this script started
#   bash scripts/schema-registry.sh status   up/down (exit 0 when up, 3 otherwise)
#   bash scripts/schema-registry.sh env      print the export line for SCHEMA_REGISTRY_URL
#   bash scripts/schema-registry.sh build    only build (e.g. to warm a CI cache)
#
# The Confluent API is served under /apis/ccompat/v7 on 127.0.0.1:$SCHEMA_REGISTRY_PORT. Storage is
# in memory: every start begins empty. No authentication: it listens on loopback only.
#
# State (pid file, logs, the built server) lives in ${TRIBUTARY_SERVICES_DIR:-<repo>/.services}. The
# build is cached per hash of scripts/schema-registry/ (its jars are copied into the build, Maven's
# downloads stay in ~/.m2), so only the first start runs Maven.
# Environment knobs: SCHEMA_REGISTRY_PORT (18081), SCHEMA_REGISTRY_START_TIMEOUT (90 s),
# SCHEMA_REGISTRY_COMPATIBILITY (BACKWARD: the default rule for subjects without their own, as in
# Confluent's registry), SCHEMA_REGISTRY_HEAP_OPTS, SCHEMA_REGISTRY_JVM_OPTS, STOP_TIMEOUT (10 s).
set -Eeuo pipefail
trap 'printf "[schema-registry] ERROR: \"%s\" failed (exit %s) at %s line %s\n" "$BASH_COMMAND" "$?" "${BASH_SOURCE[0]}" "$LINENO" >&2' ERR
set +m # no job control: a background `setsid cmd` then execs in place, so $! is the daemon's pid and pgid

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${TRIBUTARY_SERVICES_DIR:-$ROOT/.services}"
SRC="$ROOT/scripts/schema-registry"
HOST=127.0.0.1
PORT="${SCHEMA_REGISTRY_PORT:-18081}"
START_TIMEOUT="${SCHEMA_REGISTRY_START_TIMEOUT:-90}"
COMPATIBILITY="${SCHEMA_REGISTRY_COMPATIBILITY:-BACKWARD}"
HEAP_OPTS="${SCHEMA_REGISTRY_HEAP_OPTS:--Xms32m -Xmx256m}"
JVM_OPTS="${SCHEMA_REGISTRY_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
STOP_TIMEOUT="${STOP_TIMEOUT:-10}"
API_PATH=/apis/ccompat/v7
RUNNER=tributary-schema-registry-1-runner.jar
PATTERN="java .*$RUNNER"

[[ $PORT =~ ^[0-9]+$ ]] || { echo "[schema-registry] ERROR: SCHEMA_REGISTRY_PORT must be a port number, got '$PORT'" >&2; exit 2; }
[[ $START_TIMEOUT =~ ^[0-9]+$ ]] || { echo "[schema-registry] ERROR: SCHEMA_REGISTRY_START_TIMEOUT must be whole seconds, got '$START_TIMEOUT'" >&2; exit 2; }
case "$COMPATIBILITY" in
BACKWARD | BACKWARD_TRANSITIVE | FORWARD | FORWARD_TRANSITIVE | FULL | FULL_TRANSITIVE | NONE) ;;
*) echo "[schema-registry] ERROR: SCHEMA_REGISTRY_COMPATIBILITY must be one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE; got '$COMPATIBILITY'" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- helpers

log() { printf '[schema-registry] %s\n' "$*"; }
die() { printf '[schema-registry] ERROR: %s\n' "$*" >&2; exit 1; }

elapsed() { # elapsed START_EPOCHREALTIME -> seconds with one decimal
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

port_open() { # port_open HOST PORT
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner bash
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

port_owner() { # what listens on a TCP port (for error messages)
  ss -ltnpH "sport = :$1" 2>/dev/null || true
}

registry_ready() { # health says UP and the Confluent API answers
  curl -sf --max-time 2 "http://$HOST:$PORT/health/ready" >/dev/null 2>&1 &&
    curl -sf --max-time 2 "http://$HOST:$PORT$API_PATH/subjects" >/dev/null 2>&1
}

read_pid() { # read_pid FILE -> pid or empty
  if [[ -s $1 ]]; then tr -dc '0-9' <"$1"; fi
}

# our_pid -> the pid from $STATE/schema-registry.pid if that process is alive and its command line
# is our registry's (guards against pid reuse); returns 1 otherwise.
our_pid() {
  local pid cmd
  pid="$(read_pid "$STATE/schema-registry.pid")"
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ $cmd =~ $PATTERN ]] || return 1
  printf '%s\n' "$pid"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_registry() { # TERM the process group we started, KILL after STOP_TIMEOUT s
  local pid t0 deadline
  if pid="$(our_pid)"; then
    t0=$EPOCHREALTIME
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while group_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if group_alive "$pid"; then
      log "still running after ${STOP_TIMEOUT}s, sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
      while group_alive "$pid"; do sleep 0.1; done
    fi
    log "stopped (pid $pid) in $(elapsed "$t0") s"
  fi
  rm -f "$STATE/schema-registry.pid"
}

as_root() {
  if ((EUID == 0)); then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

ensure_packages() { # Java 17 and Maven from Debian when missing (services.sh installs them too)
  local pkgs=()
  command -v curl >/dev/null || pkgs+=(curl)
  command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || pkgs+=(maven)
  ((${#pkgs[@]})) || return 0
  log "installing with apt-get: ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y "${pkgs[@]}"; then
    as_root apt-get update
    as_root apt-get install -y "${pkgs[@]}" || die "apt-get install ${pkgs[*]} failed"
  fi
}

# ---------------------------------------------------------------- build

BUILD="" # set by build_registry: the folder whose target/ holds the runnable server

build_hash() { # the build's inputs: the pom and the build-time Quarkus settings
  (cd "$SRC" && sha256sum pom.xml src/main/resources/application.properties) | sha256sum | cut -c1-16
}

build_registry() {
  local hash dir tmp t0 old
  hash="$(build_hash)"
  dir="$STATE/cache/schema-registry-$hash"
  BUILD="$dir"
  [[ -f $dir/.built && -s $dir/target/$RUNNER ]] && return 0
  mkdir -p "$STATE/cache"
  tmp="$dir.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp -r "$SRC/pom.xml" "$SRC/src" "$tmp/"
  t0=$EPOCHREALTIME
  log "building Apicurio Registry with Maven (first time only; jars cached in ~/.m2)"
  if ! mvn -q -B -f "$tmp/pom.xml" package >"$STATE/cache/schema-registry-mvn.log" 2>&1; then
    tail -n 40 "$STATE/cache/schema-registry-mvn.log" >&2
    die "Maven could not build $SRC/pom.xml (log: $STATE/cache/schema-registry-mvn.log)"
  fi
  [[ -s $tmp/target/$RUNNER ]] || die "Maven finished but $tmp/target/$RUNNER is missing"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  touch "$dir/.built"
  log "built in $(elapsed "$t0") s"
  for old in "$STATE"/cache/schema-registry-*/; do # builds of older poms (~110 MB each)
    [[ ${old%/} == "$dir" ]] || rm -rf "${old%/}"
  done
}

# ---------------------------------------------------------------- commands

lock() { # our own lock file: services.sh may call this script while it holds $STATE/.lock
  mkdir -p "$STATE"
  exec 8>"$STATE/.schema-registry.lock"
  flock -w 300 8 || die "another schema-registry.sh start/stop holds $STATE/.schema-registry.lock"
}

fail() { # fail MESSAGE: why, the log's tail, stop it, exit 1
  printf '[schema-registry] ERROR: %s\n' "$1" >&2
  if [[ -s $STATE/schema-registry/stdout.log ]]; then
    printf -- '--- tail of %s\n' "$STATE/schema-registry/stdout.log" >&2
    tail -n 40 "$STATE/schema-registry/stdout.log" >&2
  fi
  stop_registry >&2
  exit 1
}

cmd_start() {
  local t0=$EPOCHREALTIME pid dir="$STATE/schema-registry" deadline
  local -a jvm
  lock
  if pid="$(our_pid)" && registry_ready; then
    log "already running (pid $pid) on http://$HOST:$PORT$API_PATH"
    cmd_env
    return 0
  fi
  stop_registry # a stale or half-started one of ours
  port_open "$HOST" "$PORT" && die "port $PORT is in use by a process this script did not start: $(port_owner "$PORT") (set SCHEMA_REGISTRY_PORT)"
  ensure_packages
  build_registry
  rm -rf "$dir"
  mkdir -p "$dir/tmp"
  # Runtime settings as system properties: they outrank the %prod values in Apicurio's own
  # application.properties. Pools sized for tests, not for Apicurio's production default of 20.
  # Sentry is off (no DSN) but warns at every start.
  # shellcheck disable=SC2206 # the *_OPTS variables are word lists, split on purpose
  jvm=($HEAP_OPTS $JVM_OPTS "-Djava.io.tmpdir=$dir/tmp"
    "-Dquarkus.http.host=$HOST" "-Dquarkus.http.port=$PORT"
    -Dquarkus.datasource.jdbc.initial-size=2 -Dquarkus.datasource.jdbc.min-size=2
    -Dquarkus.datasource.jdbc.max-size=20
    "-Dregistry.rules.global.compatibility=$COMPATIBILITY"
    '-Dquarkus.log.category."io.sentry".level=ERROR')
  # A clean environment (env -i): Apicurio maps many variables (KAFKA_BOOTSTRAP_SERVERS,
  # REGISTRY_*, LOG_LEVEL, QUARKUS_*) to settings; none of the caller's may leak into the server.
  (cd "$dir" && exec setsid env -i "PATH=$PATH" "HOME=$HOME" LANG=C.UTF-8 \
    java "${jvm[@]}" -jar "$BUILD/target/$RUNNER" >"$dir/stdout.log" 2>&1 </dev/null 8>&- 9>&-) &
  pid=$!
  echo "$pid" >"$STATE/schema-registry.pid"
  deadline=$((SECONDS + START_TIMEOUT))
  until registry_ready; do
    kill -0 "$pid" 2>/dev/null || fail "the registry exited during startup"
    ((SECONDS < deadline)) || fail "not ready after ${START_TIMEOUT}s"
    sleep 0.2
  done
  log "started and ready in $(elapsed "$t0") s (pid $pid)"
  cmd_env
}

cmd_build() {
  lock
  ensure_packages
  build_registry
  log "server: $BUILD/target/$RUNNER"
}

cmd_stop() {
  lock
  stop_registry
  rm -rf "$STATE/schema-registry"
}

cmd_status() {
  local pid
  if pid="$(our_pid)" && registry_ready; then
    echo "schema-registry  up    http://$HOST:$PORT$API_PATH (pid $pid)"
  elif registry_ready; then
    echo "schema-registry  up?   http://$HOST:$PORT$API_PATH answers, but not a registry this script started"
  elif port_open "$HOST" "$PORT"; then
    echo "schema-registry  down  (port $PORT is open but does not answer as a registry)"; return 3
  else
    echo "schema-registry  down"; return 3
  fi
}

cmd_env() {
  echo "export SCHEMA_REGISTRY_URL=http://$HOST:$PORT$API_PATH"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status || exit $? ;;
env) cmd_env ;;
build) cmd_build ;;
*)
  echo "usage: bash scripts/schema-registry.sh start|stop|status|env|build" >&2
  exit 2
  ;;
esac
