#!/bin/sh
# Health of the gateway container: the request scripts/stack waits for,
# GET /api/health through the gateway to a backend, over HTTPS when TLS is on
# (plain HTTP then only redirects). -k: the certificate names the public host,
# not 127.0.0.1.
set -eu
http_listen=${GATEWAY_LISTEN:-8080}
tls_listen=${GATEWAY_TLS_LISTEN:-8443}
if [ -f "${GATEWAY_INCLUDE_DIR:-/run/gateway/gateway.d}/server-tls.conf" ]; then
    exec curl -fsS -k -o /dev/null --max-time 4 "https://127.0.0.1:${tls_listen##*:}/api/health"
fi
exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${http_listen##*:}/api/health"
