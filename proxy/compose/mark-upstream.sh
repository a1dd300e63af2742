#!/bin/sh
# Takes one app out of nginx's rotation, or puts it back: marks its `server` line in upstream.conf
# `down` (or not) and reloads nginx. Runs inside the nginx container, fed on stdin by
# rolling-restart.sh:  docker compose exec -T nginx sh -s -- app2 down < proxy/compose/mark-upstream.sh
#
#   $1  the app service (its upstream line starts `server <service>:`)
#   $2  down | up
#   $3  the upstream file nginx includes (default: the container's copy, /etc/nginx/env/upstream.conf)
#
# `nginx -t` first: a reload with a broken config would keep the old one running and say nothing.
# A reload starts new workers with the new upstream list; the old ones finish what they hold.
set -eu

service=${1:?service}
state=${2:?down or up}
file=${3:-/etc/nginx/env/upstream.conf}

case $state in
  down | up) ;;
  *) echo "mark-upstream: state must be down or up, not '$state'" >&2; exit 2 ;;
esac
grep -q "^server $service:" "$file" || { echo "mark-upstream: no 'server $service:' line in $file" >&2; exit 1; }

# Up first (drop a ` down` already there), then down again if asked: the same result however
# often it runs.
sed -i -e "/^server $service:/s/ down;\$/;/" "$file"
if [ "$state" = down ]; then
  sed -i -e "/^server $service:/s/;\$/ down;/" "$file"
fi

nginx -t -q
nginx -s reload
