#!/bin/sh
# The certbot service of docker-compose.acme.yml (docs/https.md#acme): the first certificate, then
# `certbot renew` on a schedule, all by HTTP-01 through nginx (--webroot: certbot writes the token
# into the acme-webroot volume, nginx serves it on the public plain port). The certificate lives
# in the letsencrypt volume, which nginx reads: its live/linkyard/ links are repointed at each
# renewal and nginx takes the new files up at the next handshake, with no reload.
set -eu

: "${LINKYARD_ACME_DOMAINS:?set LINKYARD_ACME_DOMAINS: the name(s) to certify, comma-separated}"
server="${LINKYARD_ACME_SERVER:-https://acme-v02.api.letsencrypt.org/directory}"
every="${LINKYARD_ACME_RENEW_SECONDS:-43200}"
retry="${LINKYARD_ACME_RETRY_SECONDS:-3600}"
if [ -n "${LINKYARD_ACME_EMAIL:-}" ]; then account="--email ${LINKYARD_ACME_EMAIL}"; else account="--register-unsafely-without-email"; fi

# nginx's workers run as nginx (uid and gid 101 in the nginx image) and read the files at each
# handshake: certbot keeps live/ and archive/ to root (0700) and the key 0600. Group 101 may read
# the key; certbot keeps a key's group and mode for the next one at renewal.
readable() {
  chmod 0755 /etc/letsencrypt/live /etc/letsencrypt/archive
  chgrp 101 /etc/letsencrypt/archive/linkyard/privkey*.pem
  chmod 0640 /etc/letsencrypt/archive/linkyard/privkey*.pem
}

# A refused order is not retried at once: Let's Encrypt allows 5 failed validations an hour.
fail() {
  echo "certbot: $1; trying again in ${retry} s" >&2
  sleep "$retry" &
  wait $!
  exit 1
}

trap 'exit 0' TERM INT

if [ ! -e /etc/letsencrypt/live/linkyard/fullchain.pem ]; then
  echo "certbot: asking ${server} for a certificate for ${LINKYARD_ACME_DOMAINS}"
  # shellcheck disable=SC2086 # $account is two words
  certbot certonly --non-interactive --agree-tos $account --server "$server" \
    --webroot --webroot-path /srv/acme --cert-name linkyard --domains "$LINKYARD_ACME_DOMAINS" ||
    fail "the first certificate was refused"
fi
readable
echo "certbot: certificate in /etc/letsencrypt/live/linkyard/; renewal checked every ${every} s"

while :; do
  sleep "$every" &
  wait $!
  # Renews when fewer than 30 days are left (certbot's rule), after a random wait of up to 8
  # minutes (certbot's own, without a terminal: it spreads the load on the CA); nginx needs no signal.
  certbot renew --non-interactive --server "$server" --webroot --webroot-path /srv/acme ||
    echo "certbot: renewal failed; the current certificate stays, next try in ${every} s" >&2
  readable
done
