#!/bin/sh
# Container start: apply migrations (waiting for the database), then become gunicorn.
# MIGRATE_ON_BOOT=false where a one-shot job migrates before the instances start (several instances must not
# run Alembic at once: docker-compose.yml's migrate service).
set -e
if [ "${MIGRATE_ON_BOOT:-true}" != false ]; then
  tries=${MIGRATE_TRIES:-30}
  until flask db upgrade; do
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
      echo "boot: the database did not come up; giving up" >&2
      exit 1
    fi
    echo "boot: database not ready, retrying in 2 s ($tries tries left)" >&2
    sleep 2
  done
fi
exec gunicorn --config gunicorn.conf.py wsgi:app
