#!/usr/bin/env bash
# `make demo`: the demo's SMTP server, task worker, data and web server, stopped together.
#
# The servers run in one process group of their own (setsid makes it), so that one kill
# reaches every one of them, whatever a shell did with their signals. This script stays
# in its caller's group, so it gets what the caller gets: Ctrl-C (also with the output
# piped, e.g. to tee), a kill of `make` (make passes SIGTERM on), a closed terminal
# (SIGHUP). On any of these, and on every exit (an error included), it stops the group;
# should it be killed outright (SIGKILL), the group notices within a second and stops.
#
# Settings come from the environment: PY (the Python of the virtualenv), SMTP_PORT and
# WEB_PORT, and the site's own (MESSAGING_VAR_DIR, DATABASE_URL, ...).
set -euo pipefail

PY=${PY:-.venv/bin/python}
SMTP_PORT=${SMTP_PORT:-8025}
WEB_PORT=${WEB_PORT:-8000}
export PY SMTP_PORT WEB_PORT
export EMAIL_PORT=$SMTP_PORT
export WAGTAILADMIN_BASE_URL=${WAGTAILADMIN_BASE_URL:-http://127.0.0.1:$WEB_PORT}

servers=""  # the servers' process group

stop() {
    trap - INT TERM HUP EXIT
    [ -n "$servers" ] || return 0
    kill -TERM -- "-$servers" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 -- "-$servers" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$servers" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop; exit 129' HUP
trap stop EXIT

run_servers() {
    set -euo pipefail
    # Should this script die unannounced (SIGKILL), the group stops itself.
    (while kill -0 "$DEMO_SCRIPT" 2>/dev/null; do sleep 1; done; kill -TERM 0) &
    "$PY" manage.py messaging_smtpd --port "$SMTP_PORT" &
    "$PY" manage.py db_worker --interval 0.5 &
    for _ in $(seq 100); do
        (echo >"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break
        sleep 0.1
    done
    "$PY" manage.py messaging_demo
    echo "Admin: http://127.0.0.1:$WEB_PORT/admin/  login: admin / admin"
    "$PY" manage.py runserver "127.0.0.1:$WEB_PORT"
}
export -f run_servers

export DEMO_SCRIPT=$$
mkdir -p "${MESSAGING_VAR_DIR:-var}"
"$PY" manage.py migrate --noinput
# A background child is never a group leader, so setsid makes the new group in place:
# $! is its leader, whose number names the group.
setsid "$BASH" -c run_servers &
servers=$!
# `wait` returns as soon as a trapped signal comes; the trap then stops the servers.
wait "$servers"
