#!/usr/bin/env bash
# Rolling restart of the compose stack: replaces app1, app2, app3 one at a time (new image, new
# config) while the other two serve, with no failed request and no reset for nginx's clients.
# `npm run compose:rolling-restart`, or with service names to restart only those. New code:
# `docker compose build` first.
#
# nginx is not touched: a reload would close its clients' idle keep-alive connections, and a
# client that sends its next request at that moment gets a reset. Instead, for each app service:
#   1. `docker compose up --force-recreate --wait` stops the old container: SIGTERM through tini
#      (init: true) to node, which drains (app/src/drain.ts): it closes its listener at once, so
#      nginx's next connect is refused and retried on another app (a POST too: it was never sent);
#      it answers requests on the connections nginx already holds with `Connection: close`, never
#      closes an idle one itself, and exits once nginx has closed them all (nginx's upstream
#      keepalive_timeout, 3 s, bounds that), within SHUTDOWN_TIMEOUT_MS (10 s), under
#      stop_grace_period (15 s), so SIGKILL never cuts it short. No --timeout here: it would
#      override stop_grace_period. nginx's passive health check (max_fails) keeps away from the
#      refusing app meanwhile. --wait returns once the new container's healthcheck passes.
#   2. The new container has a new address. nginx asks Docker's DNS again every `valid` seconds
#      (`resolve`, proxy/compose/env/upstream.conf.template) and then sends to it; until then that
#      app's old address answers nothing and costs a retry. So the next app is stopped only after
#      that, leaving two apps in rotation while one restarts.
# A failure stops the script: the apps not yet reached keep running the old image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Long enough for a fresh container to connect to PostgreSQL and pass its first healthchecks.
readonly WAIT_TIMEOUT_SECONDS=${WAIT_TIMEOUT_SECONDS:-120}
# The resolver's valid=5s in upstream.conf.template, plus a second: nginx has the new address.
readonly RESOLVE_SECONDS=${RESOLVE_SECONDS:-6}

log() {
  printf '%s rolling-restart: %s\n' "$(date +%H:%M:%S)" "$*"
}

fail() {
  log "error: $*" >&2
  exit 1
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

[ "$(health_of nginx)" = healthy ] || fail "nginx is not healthy; start the stack with 'docker compose up -d --wait' first"

for app in "${apps[@]}"; do
  # Stopping one app must leave another one serving.
  serving=0
  for other in "${all_apps[@]}"; do
    if [ "$other" != "$app" ] && [ "$(health_of "$other")" = healthy ]; then serving=$((serving + 1)); fi
  done
  [ "$serving" -gt 0 ] || fail "no other app is healthy; restarting $app now would take the site down"

  log "$app: replacing the container (SIGTERM: it stops accepting and drains nginx's connections; new container; wait for /readyz)"
  if ! docker compose up --detach --no-deps --force-recreate --wait --wait-timeout "$WAIT_TIMEOUT_SECONDS" "$app"; then
    fail "$app did not become healthy: docker compose logs $app"
  fi

  log "$app: healthy; ${RESOLVE_SECONDS}s for nginx to resolve its new address"
  sleep "$RESOLVE_SECONDS"
done

log "done: ${apps[*]} restarted"
