#!/bin/sh
# A self-signed certificate for trying HTTPS on this machine (docker-compose.tls.yml, or
# TLS_CERT_FILE/TLS_KEY_FILE with `npm start`): secrets/dev/tls.crt and tls.key, for localhost,
# 127.0.0.1 and ::1, valid 30 days, ECDSA P-256. Browsers warn about it (nobody vouches for it):
# fine for a try, never for people. A real name gets a real certificate (docs/https.md).
# Run again to replace it; git ignores both files.
set -eu
dir=$(cd "$(dirname "$0")/.." && pwd)/secrets/dev
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
# The certificate is public; the key stays readable by this user only.
chmod 644 "$dir/tls.crt"
echo "wrote $dir/tls.crt and $dir/tls.key (self-signed for localhost, 30 days)"
