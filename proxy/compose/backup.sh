#!/usr/bin/env bash
# Backup of the compose stack's PostgreSQL while it serves: `npm run compose:backup [-- DIR]`.
# pg_dump runs in the postgres container, so it is the server's own major version (the app image
# has no pg_dump, and compose publishes no PostgreSQL port). The archive (custom format, the whole
# linkyard database) streams to DIR on the host (default ./backups) as linkyard-<UTC time>.pgdump,
# written as .partial and renamed only once pg_restore --list reads it back whole.
# KEEP_DAYS=N also deletes this folder's backups older than N days. docs/data.md#in-compose
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

dir=${1:-backups}
mkdir -p "$dir"
file="$dir/linkyard-$(date -u +%Y%m%dT%H%M%SZ).pgdump"
trap 'rm -f "$file.partial"' EXIT

# -T: no TTY, so the archive's bytes reach the file as pg_dump wrote them.
docker compose exec -T postgres pg_dump -U linkyard -d linkyard --format=custom >"$file.partial"
if ! docker compose exec -T postgres pg_restore --list <"$file.partial" | grep -q 'TABLE DATA public bookmarks '; then
  echo "compose:backup: the archive does not read back with its bookmarks table; nothing kept" >&2
  exit 1
fi
mv "$file.partial" "$file"
echo "$file ($(du -h "$file" | cut -f1))"

if [[ -n ${KEEP_DAYS:-} ]]; then
  find "$dir" -maxdepth 1 -name 'linkyard-*.pgdump' -mtime +"$KEEP_DAYS" -print -delete
fi
