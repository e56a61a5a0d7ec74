# shellcheck shell=bash
# Sourced by scripts/services.sh: the throwaway CA, certificates and passwords of the secured
# endpoints, and the manifest that tells tests where they are ($SECURE/services.json).
#
# Everything lives in $SECURE (mode 700): one file per secret (mode 600), never printed. The
# material is made anew on a fresh start and reused while services that were started with it
# run (a second `start`) or on a KEEP_DATA restart, so running servers and files always agree.

SECURE="$STATE/secure"
SECURE_FRESH=0 # 1 once secure_prepare made new material (services.sh then formats Kafka anew)
SECURE_DAYS=30
# One password file per user and service: the manifest and the servers' configs name these.
SECRET_NAMES=(kafka-tributary kafka-intruder redis-tributary redis-reader clickhouse-tributary clickhouse-analyst)

secret_file() { printf '%s/%s.password' "$SECURE" "$1"; }
secret() { cat "$(secret_file "$1")"; } # for configs only: never echo its result
sha256_hex() { printf '%s' "$1" | sha256sum | cut -c1-64; }

secure_complete() { # all files of a previous start are present
  local f
  for f in ca.crt ca.key server.crt server.key client.crt client.key; do [[ -s $SECURE/$f ]] || return 1; done
  for f in "${SECRET_NAMES[@]}"; do [[ -s $(secret_file "$f") ]] || return 1; done
}

secure_in_use() { # a service of ours that was started with the current material is running
  our_pid kafka "$KAFKA_PATTERN" >/dev/null || our_pid clickhouse "$CLICKHOUSE_PATTERN" >/dev/null ||
    our_pid redis-secure "$REDIS_PATTERN" >/dev/null
}

# secure_prepare: reuse the material (KEEP_DATA, or a second start while ours run), else make it.
secure_prepare() {
  if secure_complete && { [[ ${KEEP_DATA:-0} == 1 ]] || secure_in_use; }; then
    log "secure: reusing the CA, certificates and passwords in $SECURE"
    return 0
  fi
  local t0=$EPOCHREALTIME
  rm -rf "$SECURE"
  (umask 077 && mkdir -p "$SECURE" && make_secrets && make_certificates) || die "secure: could not create the CA and certificates in $SECURE"
  SECURE_FRESH=1
  log "secure: new throwaway CA, certificates and passwords in $SECURE ($(elapsed "$t0") s)"
}

make_secrets() { # 24 random bytes per secret, hex: no character needs quoting in any config
  local name
  for name in "${SECRET_NAMES[@]}"; do openssl rand -hex 24 | tr -d '\n' >"$(secret_file "$name")"; done
}

# new_key_csr NAME SUBJECT: an EC P-256 key (PKCS#8 PEM, which Kafka's PEM keystore needs) + CSR
new_key_csr() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$SECURE/$1.key" \
    -subj "$2" -out "$SECURE/$1.csr" 2>/dev/null
}

# sign NAME EXTENSIONS: certificate NAME.crt from NAME.csr, signed by the CA
sign() {
  openssl x509 -req -in "$SECURE/$1.csr" -CA "$SECURE/ca.crt" -CAkey "$SECURE/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$SECURE_DAYS" -out "$SECURE/$1.crt" \
    -extfile <(printf '%b' "$2") 2>/dev/null
  rm -f "$SECURE/$1.csr"
}

make_certificates() { # CA, server (127.0.0.1 and localhost) and client (mutual TLS, CN=tributary)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$SECURE_DAYS" \
    -keyout "$SECURE/ca.key" -out "$SECURE/ca.crt" -subj "/CN=Tributary throwaway test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  new_key_csr server /CN=localhost
  sign server 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n'
  new_key_csr client /CN=tributary
  sign client 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n'
  # Kafka's PEM keystore: the private key and the certificate chain in one file.
  cat "$SECURE/server.key" "$SECURE/server.crt" >"$SECURE/kafka-keystore.pem"
  chmod 644 "$SECURE"/*.crt
}

json_str() { # a JSON string literal (paths come from the environment)
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

manifest_user() { printf '{ "passwordFile": %s }' "$(json_str "$(secret_file "$1")")"; }

# write_manifest: $SECURE/services.json, ports, user names and the PATHS of secret files (no secret)
write_manifest() {
  local tmp="$SECURE/services.json.tmp"
  cat >"$tmp" <<EOF
{
  "version": 1,
  "tls": { "caCert": $(json_str "$SECURE/ca.crt"), "serverCert": $(json_str "$SECURE/server.crt"), "serverKey": $(json_str "$SECURE/server.key"),
           "clientCert": $(json_str "$SECURE/client.crt"), "clientKey": $(json_str "$SECURE/client.key"), "serverNames": ["127.0.0.1", "localhost"] },
  "kafka": {
    "saslPlaintext": "$HOST:$KAFKA_SASL_PORT", "saslSsl": "$HOST:$KAFKA_SASL_SSL_PORT", "ssl": "$HOST:$KAFKA_SSL_PORT",
    "mechanisms": ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"], "superUser": "tributary", "sslClientPrincipal": "tributary",
    "users": { "tributary": $(manifest_user kafka-tributary), "intruder": $(manifest_user kafka-intruder) }
  },
  "redis": {
    "url": "redis://$HOST:$REDIS_SECURE_PORT", "tlsUrl": "rediss://$HOST:$REDIS_TLS_PORT",
    "users": { "tributary": $(manifest_user redis-tributary), "reader": $(manifest_user redis-reader) }, "readerKeyPrefix": "tributary:"
  },
  "clickhouse": {
    "url": "http://$HOST:$CLICKHOUSE_HTTP_PORT", "httpsUrl": "https://$HOST:$CLICKHOUSE_HTTPS_PORT", "analyticsDatabase": "tributary_analytics",
    "users": { "tributary": $(manifest_user clickhouse-tributary), "analyst": $(manifest_user clickhouse-analyst) }
  }
}
EOF
  mv "$tmp" "$SECURE/services.json"
}
