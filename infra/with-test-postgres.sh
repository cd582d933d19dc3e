#!/usr/bin/env bash
# with-test-postgres.sh CMD [ARG...]
#
# Runs CMD with GUARDIAN_TEST_PG_URL pointing at a PostgreSQL server the tests may use
# (they create and drop their own databases on it):
#   1. GUARDIAN_TEST_PG_URL already set  -> exec CMD as is;
#   2. a server on 127.0.0.1:$GUARDIAN_TEST_PG_PORT_PROBE (default 5432) that lets
#      user postgres in without a password -> use it;
#   3. otherwise a throwaway cluster (Debian's postgresql is installed if missing) on
#      the first free port from 55432, stopped and deleted when CMD ends.
# Exits with CMD's exit code.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi

if [ -n "${GUARDIAN_TEST_PG_URL:-}" ]; then
  exec "$@"
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VPY="$ROOT/.venv/bin/python"
PROBE_PORT="${GUARDIAN_TEST_PG_PORT_PROBE:-5432}"

# Does a server on 127.0.0.1:$1 answer and let postgres in without a password?
pg_answers() {
  local port="$1"
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$port" -t 3 || return 1
  fi
  # pg_isready says nothing about authentication: log in for real.
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 psql -X -w -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -Atc 'select 1' >/dev/null 2>&1
    return
  fi
  if [ -x "$VPY" ] && "$VPY" -c 'import psycopg2' 2>/dev/null; then
    "$VPY" - "$port" <<'EOF' >/dev/null 2>&1
import sys, psycopg2
psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres",
                 dbname="postgres", connect_timeout=3).close()
EOF
    return
  fi
  return 1
}

if pg_answers "$PROBE_PORT"; then
  export GUARDIAN_TEST_PG_URL="postgresql+psycopg2://postgres@127.0.0.1:${PROBE_PORT}/postgres"
  echo "with-test-postgres: using the server on 127.0.0.1:${PROBE_PORT}" >&2
  exec "$@"
fi

# --- Throwaway cluster ------------------------------------------------------------

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

find_bin() {
  local initdb
  initdb="$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$initdb" ] && dirname "$initdb"
}

if ! BIN="$(find_bin)"; then
  echo "with-test-postgres: installing Debian's postgresql" >&2
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
  BIN="$(find_bin)" || { echo "with-test-postgres: no initdb after installing postgresql" >&2; exit 1; }
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/guardian-pg.XXXXXX")"
if [ "$(id -u)" = 0 ]; then
  # initdb and pg_ctl refuse to run as root.
  chown postgres:postgres "$DIR"
  as_pg() { (cd "$DIR" && runuser -u postgres -- "$@"); }
else
  as_pg() { (cd "$DIR" && "$@"); }
fi

STARTED=""
cleanup() {
  if [ -n "$STARTED" ]; then
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PORT=""
for candidate in $(seq 55432 55531); do
  port_in_use "$candidate" && continue
  if as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -o \
      "-p $candidate -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
    PORT="$candidate"
    STARTED=1
    break
  fi
done
if [ -z "$PORT" ]; then
  echo "with-test-postgres: could not start a throwaway PostgreSQL; its log:" >&2
  cat "$DIR/server.log" >&2 || true
  exit 1
fi

export GUARDIAN_TEST_PG_URL="postgresql+psycopg2://postgres@127.0.0.1:${PORT}/postgres"
echo "with-test-postgres: throwaway PostgreSQL on 127.0.0.1:${PORT} ($DIR)" >&2

rc=0
"$@" || rc=$?
exit "$rc"
