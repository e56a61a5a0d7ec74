# shellcheck shell=bash
# Sourced by scripts/services.sh: the secured listeners of the one KRaft node.
#
#   SASL_PLAINTEXT $KAFKA_SASL_PORT      SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
#   SASL_SSL       $KAFKA_SASL_SSL_PORT  the same mechanisms over TLS (server cert from the throwaway CA)
#   SSL            $KAFKA_SSL_PORT       mutual TLS: a client cert signed by the CA is required;
#                                        CN=tributary becomes the principal User:tributary
#
# The PLAINTEXT and CONTROLLER listeners (inter-broker and controller traffic) stay as they were.
# Users: tributary (super user) and intruder, both with a password; SCRAM credentials go into the
# metadata log when the storage is formatted, PLAIN ones into the listeners' JAAS config.
# StandardAuthorizer with allow.everyone.if.no.acl.found=true: without ACLs everyone may do
# everything (as before); a test that puts ACLs on its own topic sees intruder refused there.
# User:ANONYMOUS (the PLAINTEXT listener) is a super user, so ACLs never change PLAINTEXT clients.

KAFKA_MECHANISMS=(SCRAM-SHA-256 SCRAM-SHA-512 PLAIN)

kafka_secure_listeners() { # the secured listeners, for listeners= and advertised.listeners=
  secure_on || return 0
  printf ',SASL_PLAINTEXT://%s:%s,SASL_SSL://%s:%s,SSL://%s:%s' \
    "$HOST" "$KAFKA_SASL_PORT" "$HOST" "$KAFKA_SASL_SSL_PORT" "$HOST" "$KAFKA_SSL_PORT"
}

kafka_secure_protocols() { # their entries in listener.security.protocol.map
  secure_on || return 0
  printf ',SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL'
}

# kafka_jaas LISTENER MECHANISM: one listener.name.*.sasl.jaas.config line (the broker needs one
# per listener and mechanism; only PLAIN carries users: SCRAM's are in the metadata log)
kafka_jaas() {
  local module='org.apache.kafka.common.security.scram.ScramLoginModule required'
  if [[ $2 == PLAIN ]]; then
    module="org.apache.kafka.common.security.plain.PlainLoginModule required user_tributary=\"$(secret kafka-tributary)\" user_intruder=\"$(secret kafka-intruder)\""
  fi
  printf 'listener.name.%s.%s.sasl.jaas.config=%s;\n' "${1,,}" "${2,,}" "$module"
}

kafka_secure_properties() { # appended to server.properties (mode 600: it holds the PLAIN passwords)
  secure_on || return 0
  local listener mechanism
  cat <<EOF
sasl.enabled.mechanisms=$(IFS=,; echo "${KAFKA_MECHANISMS[*]}")
ssl.keystore.type=PEM
ssl.keystore.location=$SECURE/kafka-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE/ca.crt
ssl.client.auth=none
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS;User:tributary
EOF
  for listener in SASL_PLAINTEXT SASL_SSL; do
    for mechanism in "${KAFKA_MECHANISMS[@]}"; do kafka_jaas "$listener" "$mechanism"; done
  done
}

# kafka_scram_argfile DIR: StorageTool's --add-scram arguments in a mode 600 java @argfile, so
# the passwords never appear on a command line (ps); prints the @file argument, or nothing.
kafka_scram_argfile() {
  secure_on || return 0
  local file="$1/format.args" user sha
  (
    umask 077
    : >"$file"
    for user in tributary intruder; do
      for sha in 256 512; do
        printf -- '--add-scram\nSCRAM-SHA-%s=[name=%s,password=%s]\n' "$sha" "$user" "$(secret "kafka-$user")" >>"$file"
      done
    done
  )
  printf '@%s' "$file"
}
