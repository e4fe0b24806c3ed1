#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are running: PostgreSQL on 127.0.0.1:5432
# and Redis on 127.0.0.1:6379 (the suite's own databases and key prefixes live inside them).
# ClickHouse needs nothing here: the tests start private clickhouse-server processes.
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1 || true)"
  if [ -z "$version" ]; then
    echo "ensure-services: no PostgreSQL cluster found (apt-get install postgresql)" >&2
    exit 1
  fi
  echo "ensure-services: starting PostgreSQL $version" >&2
  # Tests connect as postgres over TCP without a password, like the CI machines.
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "flowbill-test-trust" "$hba"; then
    printf '# flowbill-test-trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - "$hba" > "$hba.new" && mv "$hba.new" "$hba"
    chown postgres:postgres "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "ensure-services: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/flowbill-test.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
echo "ensure-services: PostgreSQL and Redis are up" >&2
