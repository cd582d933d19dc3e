#!/usr/bin/env bash
# Nightly backup of Guardian's database (docs/runbook.md "Back up", docs/deployment.md).
#
#   infra/backup.sh [DATABASE_URL]
#
# A pg_dump in custom format (compressed, restorable table by table, in parallel) of the
# whole database, written beside the others and then renamed into place, so a dump that
# is there is complete; then checked by listing its contents, and the oldest beyond the
# newest GUARDIAN_BACKUP_KEEP removed. The event store is the record: read models in the
# dump only make a restore quicker (infra/restore.sh rebuilds them anyway).
#
# DATABASE_URL defaults to GUARDIAN_DATABASE_URL (the SQLAlchemy form
# postgresql+psycopg2://… is accepted). Settings:
#   GUARDIAN_BACKUP_DIR   where the dumps go (default /var/backups/guardian)
#   GUARDIAN_BACKUP_KEEP  how many dumps to keep (default 14)
# Copy the folder off the host as well (the trust's backup system): a dump kept only
# beside the database is lost with it. Exit 0 with the dump's path on standard output.
set -euo pipefail

url="${1:-${GUARDIAN_DATABASE_URL:-}}"
if [[ -z "$url" ]]; then
  echo "backup.sh: give the database URL or set GUARDIAN_DATABASE_URL" >&2
  exit 2
fi
url="${url/postgresql+psycopg2:\/\//postgresql://}"  # libpq's form of the URL
if [[ "$url" != postgresql://* && "$url" != postgres://* ]]; then
  echo "backup.sh: not a PostgreSQL URL (SQLite: sqlite3 FILE '.backup COPY')" >&2
  exit 2
fi
dir="${GUARDIAN_BACKUP_DIR:-/var/backups/guardian}"
keep="${GUARDIAN_BACKUP_KEEP:-14}"
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "backup.sh: GUARDIAN_BACKUP_KEEP must be a whole number of at least 1" >&2
  exit 2
fi

umask 077  # the dumps hold patient data: the service account and operators only
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$dir/guardian-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --no-owner --file="$partial" "$url"
pg_restore --list "$partial" >/dev/null  # readable to the end
mv "$partial" "$final"
trap - EXIT

# Rotation: the names sort by time; keep the newest $keep.
mapfile -t dumps < <(find "$dir" -maxdepth 1 -name 'guardian-*.dump' -printf '%f\n' | sort)
excess=$(( ${#dumps[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
  rm -f -- "$dir/${dumps[$i]}"
done
echo "$final"
