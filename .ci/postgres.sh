#!/usr/bin/env bash
# Installs (if needed) and starts a local PostgreSQL from Debian packages, then prints
# the URL that the tests read from COMITY_TEST_POSTGRES_URL. Loopback only.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
read -r ver cluster _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${ver:-}" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1); cluster=main
  pg_createcluster "$ver" "$cluster" >&2
fi
pg_ctlcluster "$ver" "$cluster" start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -q && break
  sleep 1
done
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'comity'\"" >&2
echo "postgresql+psycopg://postgres:comity@127.0.0.1:5432/postgres"
