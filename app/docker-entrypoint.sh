#!/bin/sh
# Container entry point. Commands:
#   serve    (default) gunicorn on GUNICORN_BIND (0.0.0.0:8000)
#   migrate  apply migrations (advisory-locked) with the user in DB_USER, then exit
#   check    Django's deployment checks
#   *        run the given command as is (debugging)
# exec replaces this shell, so the server is PID 1 and gets ECS's SIGTERM itself.
set -eu

cd "$(dirname "$0")"

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
  serve)
    exec gunicorn --config gunicorn.conf.py "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  check)
    exec python manage.py check --deploy --fail-level WARNING "$@"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
