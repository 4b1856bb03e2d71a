#!/bin/sh
# Entrypoint of the gateway container (nginx/Dockerfile): render the gateway
# configuration with the same scripts/render-gateway the native stack uses
# (routes file, template, environment from nginx/Dockerfile and
# docker-compose.yml or the Kubernetes ConfigMap) into GATEWAY_CONF, on a
# writable tmpfs (the image's root filesystem may be read-only), then run the
# command (nginx in the foreground) with that file. A bad setting or routes
# file stops the container here, with every problem listed.
#
# GATEWAY_RESOLVER=auto (Kubernetes): the first nameserver of the pod's
# /etc/resolv.conf (the cluster DNS), which nginx's resolver needs as an
# address.
set -eu
conf=${GATEWAY_CONF:-/run/gateway/nginx.conf}
if [ "${GATEWAY_RESOLVER:-}" = auto ]; then
    GATEWAY_RESOLVER=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
    case $GATEWAY_RESOLVER in *:*) GATEWAY_RESOLVER="[$GATEWAY_RESOLVER]" ;; esac
    export GATEWAY_RESOLVER
fi
mkdir -p "$(dirname "$conf")"
# The image's /opt/authgw/scripts/render-gateway, found from this script's
# place (/opt/authgw/nginx) as in a checkout.
repo=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
"$repo/scripts/render-gateway" "$conf" >/dev/null
if [ "${1:-}" = nginx ]; then
    # -e: before reading its configuration nginx opens its compiled-in error
    # log (/var/log/nginx), which the unprivileged user cannot write.
    shift
    exec nginx -e stderr -c "$conf" "$@"
fi
exec "$@"
