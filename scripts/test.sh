#!/usr/bin/env bash
# The full test command (`npm test`): typecheck, then every *.test.ts under test/ and topologies/
# with node's test runner (through tsx) against real local Kafka, ClickHouse and Redis
# started by scripts/services.sh. TRIBUTARY_KEEP_SERVICES=1 leaves the services running afterwards.
# `--unit` (`npm run test:unit`): only test/unit/ and topologies/, no services. The file list is
# built here because Node 20's test runner takes no glob patterns.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${1:-} == --unit ]]; then
  mapfile -t files < <(find test/unit topologies -name '*.test.ts' -type f | sort)
  echo "[test] running ${#files[@]} unit test file(s)"
  exec node --import tsx --test --test-concurrency=2 "${files[@]}"
fi

if [[ ! -d node_modules ]]; then
  ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" npm ci --no-audit --no-fund
fi

if [[ ${TRIBUTARY_KEEP_SERVICES:-0} != 1 ]]; then
  trap 'bash scripts/schema-registry.sh stop || true; bash scripts/services.sh stop || true' EXIT
fi
# The dashboard tests drive Debian's chromium; services.sh installs it when missing.
export TRIBUTARY_NEED_BROWSER=1
# The /metrics test runs `promtool check metrics` (Debian's prometheus package); likewise.
export TRIBUTARY_NEED_PROMTOOL=1
bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"
# The Confluent-compatible Schema Registry (Apicurio, built once with Maven, then cached).
bash scripts/schema-registry.sh start
eval "$(bash scripts/schema-registry.sh env)"

echo "[test] typecheck: tsc --noEmit (engine, tests) and -p src/dashboard (browser code)"
npx tsc --noEmit
npx tsc --noEmit -p src/dashboard

dirs=()
for d in test topologies; do [[ -d $d ]] && dirs+=("$d"); done
files=()
if ((${#dirs[@]})); then
  mapfile -t files < <(find "${dirs[@]}" -name '*.test.ts' -type f -not -path '*/node_modules/*' | sort)
fi
if ((${#files[@]} == 0)); then
  echo "[test] ERROR: no *.test.ts files found under test/ or topologies/" >&2
  exit 1
fi

echo "[test] running ${#files[@]} test file(s)"
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=420000 "${files[@]}" || status=$?
exit "$status"
