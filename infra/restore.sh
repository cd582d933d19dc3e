#!/usr/bin/env bash
# Restore a dump made by infra/backup.sh into a NEW database, then bring it to this
# version of Guardian and rebuild every read model from the event store
# (docs/runbook.md "Restore from a backup").
#
#   infra/restore.sh DUMP NEW_DATABASE_URL
#
# NEW_DATABASE_URL names a database that must not exist yet (the SQLAlchemy form
# postgresql+psycopg2://… is accepted); it is created on that server, owned by the URL's
# user. Nothing is written to the database in use: once this has finished, stop the
# services, point GUARDIAN_DATABASE_URL at the new database and start them again.
# GUARDIAN_BIN is the guardian command (default: the one on PATH, else
# /srv/guardian/venv/bin/guardian). The other GUARDIAN_* settings come from the
# environment (e.g. `set -a; . /etc/guardian/guardian.env; set +a` first).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: restore.sh DUMP NEW_DATABASE_URL" >&2
  exit 2
fi
dump="$1"
target="${2/postgresql+psycopg2:\/\//postgresql://}"
if [[ ! -r "$dump" ]]; then
  echo "restore.sh: cannot read $dump" >&2
  exit 2
fi
if [[ "$target" != postgresql://* && "$target" != postgres://* ]]; then
  echo "restore.sh: not a PostgreSQL URL: $target" >&2
  exit 2
fi
guardian="${GUARDIAN_BIN:-$(command -v guardian || echo /srv/guardian/venv/bin/guardian)}"

# The database's name is the URL's path; its query (options=…) stays with it.
rest="${target#*://}"
path="${rest#*/}"
name="${path%%\?*}"
query=""
[[ "$path" == *\?* ]] && query="?${path#*\?}"
server="${target%%://*}://${rest%%/*}/postgres"
if [[ -z "$name" || ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
  echo "restore.sh: the new database's name must be letters, digits and _: '$name'" >&2
  exit 2
fi
exists="$(psql "$server" -XAtq -c "SELECT 1 FROM pg_database WHERE datname = '$name'")"
if [[ -n "$exists" ]]; then
  echo "restore.sh: database $name already exists; restore into a new one" >&2
  exit 1
fi

echo "restore.sh: creating database $name" >&2
psql "$server" -Xq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\" ENCODING 'UTF8' TEMPLATE template0"
echo "restore.sh: restoring $dump" >&2
pg_restore --no-owner --exit-on-error --jobs=2 --dbname="${target%%\?*}" "$dump"

# The restored store, upgraded to this version's tables, its read models rebuilt from
# its events (the event store is the record).
export GUARDIAN_DATABASE_URL="postgresql+psycopg2://${rest%%/*}/$name$query"
echo "restore.sh: guardian db init" >&2
"$guardian" db init
echo "restore.sh: guardian project --rebuild" >&2
"$guardian" project --rebuild
echo "restore.sh: done. Stop the services, set GUARDIAN_DATABASE_URL to" >&2
echo "  postgresql+psycopg2://…/$name and start them (docs/runbook.md)." >&2
