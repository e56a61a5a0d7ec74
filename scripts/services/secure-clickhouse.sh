# shellcheck shell=bash
# Sourced by scripts/services.sh: the secured side of the one ClickHouse 18.16 server.
#
#   https://127.0.0.1:$CLICKHOUSE_HTTPS_PORT  HTTPS with the throwaway CA's server certificate
#   user tributary  password (stored as password_sha256_hex), profile default, every database
#   user analyst    password, profile analyst (readonly=1, 256 MB, 30 s, 100k rows / 64 MB results
#                   that throw when exceeded, 2 threads), allow_databases: tributary_analytics
#   "default" (no password, loopback) is unchanged: the existing tests use it.
#
# What 18.16.1 (Debian) really does with "analyst" (checked by hand against this server, and the
# lines marked [test] by test/integration/secure-services-clickhouse.test.ts):
#   @FINDINGS@

CLICKHOUSE_ANALYTICS_DB=tributary_analytics

# clickhouse_secure_config DIR: the secured parts of the server configured in DIR (config.d/,
# users.d/ and a copy of the server cert and key that the server's own user can read). Written
# on every start, so a KEEP_DATA restart matches the current passwords; removed when turned off.
clickhouse_secure_config() {
  local dir=$1 esc
  rm -rf "$dir/etc/config.d" "$dir/etc/users.d" "$dir/etc/tls"
  secure_on || return 0
  mkdir -p "$dir/etc/config.d" "$dir/etc/users.d" "$dir/etc/tls"
  esc="$(printf '%s' "$dir" | sed 's/[&|\\]/\\&/g')"
  sed -e "s|@STATE@|$esc|g" -e "s|@HTTPS_PORT@|$CLICKHOUSE_HTTPS_PORT|g" \
    "$ROOT/scripts/clickhouse/secure-config.xml" >"$dir/etc/config.d/secure.xml"
  sed -e "s|@TRIBUTARY_SHA256@|$(sha256_hex "$(secret clickhouse-tributary)")|g" \
    -e "s|@ANALYST_SHA256@|$(sha256_hex "$(secret clickhouse-analyst)")|g" \
    "$ROOT/scripts/clickhouse/secure-users.xml" >"$dir/etc/users.d/secure.xml"
  cp "$SECURE/server.crt" "$SECURE/server.key" "$dir/etc/tls/"
  chmod 700 "$dir/etc/tls"
  chmod 600 "$dir/etc/tls/server.key" "$dir/etc/users.d/secure.xml"
  ((EUID != 0)) || chown -R clickhouse:clickhouse "$dir/etc"
}

clickhouse_https_ping() { # /ping over HTTPS, the certificate checked against the CA
  [[ "$(curl -s --max-time 2 --cacert "$SECURE/ca.crt" "https://$HOST:$CLICKHOUSE_HTTPS_PORT/ping" 2>/dev/null)" == "Ok." ]]
}

# clickhouse_secure_ready: HTTPS answers, and the analysts' database exists (as "default")
clickhouse_secure_ready() {
  secure_on || return 0
  local deadline=$((SECONDS + 10))
  until clickhouse_https_ping; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
  curl -sS --fail-with-body --max-time 10 "http://$HOST:$CLICKHOUSE_HTTP_PORT/" \
    --data-binary "CREATE DATABASE IF NOT EXISTS $CLICKHOUSE_ANALYTICS_DB" >/dev/null
}
