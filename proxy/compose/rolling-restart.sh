#!/usr/bin/env bash
# Rolling restart of the compose stack: replaces app1, app2, app3 one at a time (new image, new
# config) while the other two serve, with no failed request. `npm run compose:rolling-restart`,
# or with service names to restart only those. New code: `docker compose build` first.
#
# For each app service:
#   1. nginx stops sending it anything new: its `server` line in nginx's copy of upstream.conf is
#      marked `down` and nginx reloads (mark-upstream.sh, run inside the nginx container).
#      New workers never pick it; the old workers finish what they hold and exit. This is the
#      native stack's method too (app/src/stack/). Waiting for nginx's passive checks instead
#      would cost requests: a POST sent on a keep-alive connection at the moment the app starts
#      closing gets a 503 that nginx may not retry (it could have created the bookmark).
#   2. `docker compose up --force-recreate --wait` replaces the container. Compose sends SIGTERM
#      through tini (init: true) to node, which drains: /readyz turns 503, the requests still in
#      flight are answered, visits are flushed, the store is closed, exit 0 — within
#      SHUTDOWN_TIMEOUT_MS (10 s), under stop_grace_period (15 s), so SIGKILL never cuts it short.
#      No --timeout here: it would override stop_grace_period. The new container has a new
#      address; --wait returns once its healthcheck (GET /readyz) passes.
#   3. The server is marked up again and nginx reloads; `resolve` finds the new address.
# A failure stops the script with that app still marked down: the others keep serving.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Long enough for a fresh container to connect to PostgreSQL and pass its first healthchecks.
readonly WAIT_TIMEOUT_SECONDS=${WAIT_TIMEOUT_SECONDS:-120}
# nginx applies a reload within milliseconds; this margin makes sure the new workers are the ones
# taking requests before the app is told to stop.
readonly SETTLE_SECONDS=${SETTLE_SECONDS:-2}

log() {
  printf '%s rolling-restart: %s\n' "$(date +%H:%M:%S)" "$*"
}

fail() {
  log "error: $*" >&2
  exit 1
}

# Marks one app `down` or `up` in nginx's copy of upstream.conf and reloads nginx.
mark() {
  local service=$1 state=$2
  docker compose exec -T nginx sh -s -- "$service" "$state" <proxy/compose/mark-upstream.sh ||
    fail "could not mark $service $state in nginx"
}

health_of() {
  local id
  id=$(docker compose ps -q "$1")
  [ -n "$id" ] || { echo missing; return; }
  docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

# --wait is Compose v2's, --wait-timeout v2.17's; docker-compose 1.x has neither.
docker compose version >/dev/null 2>&1 ||
  fail "needs Docker Compose v2.17 or later ('docker compose')"

all_apps=(app1 app2 app3)
if [ $# -gt 0 ]; then apps=("$@"); else apps=("${all_apps[@]}"); fi
for app in "${apps[@]}"; do
  case " ${all_apps[*]} " in
    *" $app "*) ;;
    *) fail "unknown app service '$app' (one of: ${all_apps[*]})" ;;
  esac
done

# The app that is out of rotation right now, to say so if the script stops half-way.
out_of_rotation=''
on_exit() {
  if [ -n "$out_of_rotation" ]; then
    log "$out_of_rotation is still marked down in nginx: run this script again for it, or 'docker compose restart nginx' (which re-copies upstream.conf)" >&2
  fi
}
trap on_exit EXIT

[ "$(health_of nginx)" = healthy ] || fail "nginx is not healthy; start the stack with 'docker compose up -d --wait' first"

for app in "${apps[@]}"; do
  # Taking one app out must leave another one serving.
  serving=0
  for other in "${all_apps[@]}"; do
    if [ "$other" != "$app" ] && [ "$(health_of "$other")" = healthy ]; then serving=$((serving + 1)); fi
  done
  [ "$serving" -gt 0 ] || fail "no other app is healthy; restarting $app now would take the site down"

  log "$app: out of rotation (nginx marks it down and reloads)"
  out_of_rotation=$app
  mark "$app" down
  sleep "$SETTLE_SECONDS"

  log "$app: replacing the container (SIGTERM, drain, new container, wait for /readyz)"
  if ! docker compose up --detach --no-deps --force-recreate --wait --wait-timeout "$WAIT_TIMEOUT_SECONDS" "$app"; then
    fail "$app did not become healthy: docker compose logs $app"
  fi

  log "$app: healthy, back in rotation"
  mark "$app" up
  out_of_rotation=''
  sleep "$SETTLE_SECONDS"
done

log "done: ${apps[*]} restarted"
