#!/bin/sh
# Sourced by the MariaDB image's entrypoint once, when it initialises an
# empty data folder (docker-compose.yml: service db, volume db-data; the
# Kubernetes dev overlay: StatefulSet db): the notes service's own database,
# owned by the same app user as the backend's (MARIADB_USER). For data
# initialised before this file existed, run the same two statements once
# (docs/deployment.md "The notes database").
docker_process_sql --database=mysql <<SQL
CREATE DATABASE IF NOT EXISTS \`${NOTES_MYSQL_DATABASE:-notes}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON \`${NOTES_MYSQL_DATABASE:-notes}\`.* TO '${MARIADB_USER}'@'%';
SQL
