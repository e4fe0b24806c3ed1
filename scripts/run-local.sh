#!/usr/bin/env bash
# README command 1: sets up a fresh Debian machine (system packages when missing,
# dependencies) and runs the whole pipeline locally with a demo exporter. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh run
pnpm install --frozen-lockfile
exec node_modules/.bin/tsx scripts/local-stack.ts
