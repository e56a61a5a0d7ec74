#!/bin/bash
# Run once by the clickhouse/clickhouse-server image on an empty data directory (mounted at
# /docker-entrypoint-initdb.d by docker-compose.yml): the topology's database and the read-only
# user the engine's SQL endpoint runs analyst queries as (README "For analysts"). readonly = 1
# CONST: the user can change no setting, so its limits hold; SELECT on the topology's database
# only. The password comes from ANALYST_PASSWORD (TRIBUTARY_ANALYST_PASSWORD in compose).
set -euo pipefail
: "${ANALYST_PASSWORD:?set TRIBUTARY_ANALYST_PASSWORD (e.g. openssl rand -hex 24) before docker compose up}"
# The password inside a SQL string literal: backslashes and quotes escaped.
escaped=${ANALYST_PASSWORD//\\/\\\\}
escaped=${escaped//\'/\\\'}
clickhouse client --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS tributary_analytics;
CREATE USER IF NOT EXISTS analyst IDENTIFIED WITH sha256_password BY '${escaped}'
  DEFAULT DATABASE tributary_analytics
  SETTINGS readonly = 1 CONST, max_memory_usage = 268435456 CONST, max_execution_time = 30 CONST,
           timeout_overflow_mode = 'throw' CONST, max_result_rows = 100000 CONST,
           max_result_bytes = 67108864 CONST, result_overflow_mode = 'throw' CONST, max_threads = 2 CONST;
GRANT SELECT ON tributary_analytics.* TO analyst;
SQL
