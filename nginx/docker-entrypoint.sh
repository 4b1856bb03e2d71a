#!/bin/sh
# Entrypoint of the gateway container (nginx/Dockerfile): render the one
# gateway template with the same scripts/render-gateway the native stack uses
# (environment from nginx/Dockerfile and docker-compose.yml), replacing the
# image's /etc/nginx/nginx.conf, then run the command (nginx in the
# foreground). A bad setting stops the container here, with the reason.
set -eu
sh /opt/authgw/scripts/render-gateway /etc/nginx/nginx.conf >/dev/null
exec "$@"
