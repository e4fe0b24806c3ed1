#!/usr/bin/env bash
# Sets up a fresh Debian machine for the test suite and runs it: system packages,
# dependencies, type check, then every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh test
bash scripts/ensure-services.sh
pnpm install --frozen-lockfile
pnpm run typecheck
pnpm run test
