#!/usr/bin/env bash
# Makes sure PostgreSQL answers at 127.0.0.1:5432 for the store tests (.ci/run
# calls it before npm test). Development and CI machines normally run
# PostgreSQL 15 there already (trust auth, database "test"): then this does
# nothing. On a clean Debian machine (root, apt-get) it installs the
# distribution's PostgreSQL, trusts loopback connections (a test-only
# cluster) and creates the "test" database.
set -euo pipefail
# Something accepts connections on 5432 (checked without needing PostgreSQL's client tools): use it.
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "PostgreSQL does not answer at 127.0.0.1:5432 and cannot be installed here (needs root and apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
ver=$(ls /etc/postgresql | sort -V | tail -1)
sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
pg_ctlcluster "$ver" main restart || service postgresql restart
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
su postgres -c "psql -qc 'CREATE DATABASE test'" >/dev/null 2>&1 || true
pg_isready -h 127.0.0.1 -p 5432
