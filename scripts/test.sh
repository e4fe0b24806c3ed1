#!/usr/bin/env bash
# Sets up a fresh Debian machine for the test suite and runs it: system packages,
# dependencies, type check, then every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh test
bash scripts/ensure-services.sh
pnpm install --frozen-lockfile
# The tests cover the native receiver: its build must not be skipped silently here.
pnpm run build:native
pnpm run typecheck
# The production compose file must stay valid (no Docker engine is needed for this).
POSTGRES_PASSWORD=ci CLICKHOUSE_PASSWORD=ci COLLECTOR_EXPORTERS=192.0.2.0/24 \
  docker-compose -f docker/compose.yaml config -q
echo "docker/compose.yaml: valid"
pnpm run test
