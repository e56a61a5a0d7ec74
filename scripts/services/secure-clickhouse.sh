# shellcheck shell=bash
# Sourced by scripts/services.sh: the secured side of the one ClickHouse 18.16 server.
#
#   https://127.0.0.1:$CLICKHOUSE_HTTPS_PORT  HTTPS with the throwaway CA's server certificate
#   user tributary  password (stored as password_sha256_hex), profile default, every database
#   user analyst    password, profile analyst (readonly=1, 256 MB, 30 s, 100k rows / 64 MB results
#                   that throw when exceeded, 2 threads), allow_databases: tributary_analytics
#   "default" (no password, loopback) is unchanged: the existing tests use it.
#
# What 18.16.1 (Debian) really does, checked against this server; [test] marks what
# test/integration/secure-services-clickhouse.test.ts asserts, the rest was checked by hand:
#   [test] wrong password: Code 193 "Wrong password for user X"; unknown user: Code 192 "Unknown
#          user X"; both with HTTP 401. (Basic auth, X-ClickHouse-User/-Key and ?user=&password= work.)
#   [test] analyst reads tributary_analytics; another database, also inside IN (SELECT ...), gives
#          Code 291 "Access denied to database default for user analyst" (by hand: the same for a JOIN,
#          a scalar subquery and ?database=default). Its current database stays "default" unless the
#          client names one.
#   [test] system.* is readable (18.16 lets every user read the system database), but system.tables
#          and .columns list only "system" and the allowed databases (by hand: .databases and .parts too).
#          By hand: system.processes is NOT filtered: analyst sees every user's running queries with
#          their text. KILL QUERY on another user's query: Code 164 "Readonly user analyst attempts to
#          kill query created by tributary".
#   [test] readonly=1 cannot be undone: SET readonly=0, and SETTINGS readonly=0 in a subquery (by hand:
#          at the top too), give Code 164 "Cannot execute SET query in readonly mode" (chDB 26.7 differs,
#          see platform-notes); the HTTP parameter readonly=0 (by hand: or 2) or any other setting
#          (max_result_rows; by hand: max_memory_usage, max_threads) gives 164 "Cannot override setting
#          (...) in readonly mode". A setting passed at its current value (readonly=1) is accepted.
#   [test] INSERT and DROP: Code 164 (by hand: CREATE, DETACH, RENAME, OPTIMIZE, ALTER ... DELETE and
#          SYSTEM ... as well).
#   [test] file(): Code 164 "Table functions are forbidden in readonly mode" (by hand: url, remote,
#          numbers, merge too), so remote() cannot reach the password-less "default" user either.
#   [test] max_result_rows with throw: Code 396 "Limit for result exceeded"; over HTTP that error comes
#          after the first rows (HTTP 200) unless the request sets wait_end_of_query=1 (then HTTP 500).
#   By hand: max_memory_usage 256 MB: Code 241 "Memory limit (for query) exceeded".

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
