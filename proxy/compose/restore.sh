#!/usr/bin/env bash
# Restore of a compose:backup archive (or any `pg_dump --format=custom` of a linkyard database)
# into the compose stack's PostgreSQL: `npm run compose:restore -- FILE`. Only into an empty
# store: one holding any link, key or audit entry is refused, nothing changed. The apps and nginx
# are stopped meanwhile (nothing may write), the empty database is made anew and the archive
# restored in one transaction by pg_restore of the server's version (in the postgres container);
# then the schema version is checked and the stack started again. docs/data.md#in-compose
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

readonly SERVICES=(nginx app1 app2 app3)
archive=${1:?usage: compose:restore FILE (a .pgdump of compose:backup)}
[[ -f $archive ]] || { echo "compose:restore: no file $archive" >&2; exit 1; }

psql() { docker compose exec -T postgres psql -U linkyard -v ON_ERROR_STOP=1 -Atq "$@"; }

# Rows in the tables that hold data; a database the apps only migrated has none.
rows=$(psql -d linkyard -c "SELECT CASE WHEN to_regclass('bookmarks') IS NULL THEN 0 ELSE
  (SELECT count(*) FROM bookmarks) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM audit_log)
  + (SELECT count(*) FROM blocked_hosts) END")
if [[ $rows != 0 ]]; then
  echo "compose:restore: the store holds $rows rows (links, keys, audit, blocklist): restore only into an empty store" >&2
  exit 1
fi
if ! docker compose exec -T postgres pg_restore --list <"$archive" | grep -q 'TABLE DATA public bookmarks '; then
  echo "compose:restore: $archive is not a linkyard archive this server's pg_restore reads" >&2
  exit 1
fi

echo "Stopping ${SERVICES[*]}"
docker compose stop "${SERVICES[@]}"
psql -d postgres -c 'DROP DATABASE IF EXISTS linkyard WITH (FORCE)' -c 'CREATE DATABASE linkyard OWNER linkyard'
echo "Restoring $archive"
docker compose exec -T postgres pg_restore -U linkyard -d linkyard --no-owner --exit-on-error --single-transaction <"$archive"
version=$(psql -d linkyard -c 'SELECT max(version) FROM schema_migrations')
links=$(psql -d linkyard -c 'SELECT count(*) || $$ links, $$ || coalesce(sum(visits), 0) || $$ visits$$ FROM bookmarks')
echo "Restored: $links, schema version $version"
echo "Starting ${SERVICES[*]}"
docker compose up -d --wait --no-build "${SERVICES[@]}"
