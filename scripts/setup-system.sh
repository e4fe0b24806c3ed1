#!/usr/bin/env bash
# Installs the system packages flowbill needs on Debian/Ubuntu, only those missing.
# Usage: scripts/setup-system.sh [test|run]   (test: what the test suite uses; run: the pipeline)
set -euo pipefail

profile="${1:-test}"

# binary -> Debian package
declare -A wanted=(
  [tshark]=tshark          # independent decoder the differential tests compare against
  [softflowd]=softflowd    # real exporter: turns generated pcaps into NetFlow v5/v9/IPFIX
  [nfcapd]=nfdump          # reference collector (benchmarks)
  [nfacctd]=pmacct         # reference collector (benchmarks)
  [clickhouse-server]=clickhouse-server   # usage store (tests start private servers)
  [clickhouse-client]=clickhouse-client
  [redis-server]=redis-server             # hot aggregates and job queues
  [pg_ctlcluster]=postgresql              # system of record
  [docker-compose]=docker-compose         # validates docker/compose.yaml (no engine needed)
  [cc]=gcc                                # builds the collector's native UDP receiver (collector/native)
)

missing=()
for bin in "${!wanted[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then
    missing+=("${wanted[$bin]}")
  fi
done

# The C library's headers, for the same build (gcc only recommends them).
if ! dpkg -s libc6-dev >/dev/null 2>&1; then
  missing+=(libc6-dev)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-system: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "setup-system: Node.js >= 20 is required (not found on PATH)" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "setup-system: Node.js >= 20 is required, found $(node --version)" >&2
  exit 1
fi
if ! command -v pnpm >/dev/null 2>&1; then
  # pnpm 11 crashes on Node 20; 10.x is what the lockfile was made with.
  npm install -g pnpm@10 >/dev/null
fi
echo "setup-system: ok ($profile)" >&2
