#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for ioc-monitor's tests (the archive's production back end).
#
#   scripts/postgres.sh start    initdb a fresh cluster, start it on 127.0.0.1, create the database
#   scripts/postgres.sh stop     stop it and delete its files
#   scripts/postgres.sh url      print the SQLAlchemy URL of the running cluster
#   scripts/postgres.sh halt     stop the server, keep its files (an outage, for tests)
#   scripts/postgres.sh resume   start the halted server again
#
# The server refuses to run as root, so as root it runs as the `postgres` user (created by the
# Debian package) in a directory that user owns. TCP on 127.0.0.1 only; fsync off (tests).
#
# Environment (all optional):
#   PG_PORT        port on 127.0.0.1 (default 15432)
#   PG_STATE_DIR   cluster, log and socket (default /tmp/ioc-postgres-$PG_PORT)
#   PG_BIN         the server's binaries (default: the newest /usr/lib/postgresql/*/bin)
#   PG_DATABASE    database to create (default ioc)
set -euo pipefail

PG_PORT="${PG_PORT:-15432}"
PG_STATE_DIR="${PG_STATE_DIR:-/tmp/ioc-postgres-${PG_PORT}}"
PG_DATABASE="${PG_DATABASE:-ioc}"

say() { echo "postgres.sh: $*"; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }

find_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then echo "${PG_BIN}"; return; fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    [[ -n "${d}" && -x "${d}/initdb" ]] || die "no PostgreSQL server found (apt-get install postgresql)"
    echo "${d}"
}

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

url() { echo "postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/${PG_DATABASE}"; }

run_server() {
    as_owner "$1/pg_ctl" -D "${PG_STATE_DIR}/data" -l "${PG_STATE_DIR}/postgres.log" -w \
        -t 60 -o "-c listen_addresses=127.0.0.1 -p ${PG_PORT} -k ${PG_STATE_DIR} -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start \
        >/dev/null || { cat "${PG_STATE_DIR}/postgres.log" >&2; die "the server did not start"; }
}

halt() {
    as_owner "$(find_bin)/pg_ctl" -D "${PG_STATE_DIR}/data" -m fast -w -t 30 stop >/dev/null
}

start() {
    local bin
    bin="$(find_bin)"
    rm -rf "${PG_STATE_DIR}"
    mkdir -p "${PG_STATE_DIR}"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian package)"
        chown postgres:postgres "${PG_STATE_DIR}"
        chmod 0755 "${PG_STATE_DIR}"
    fi
    as_owner "${bin}/initdb" -D "${PG_STATE_DIR}/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"${PG_STATE_DIR}/initdb.log" 2>&1 \
        || { cat "${PG_STATE_DIR}/initdb.log" >&2; die "initdb failed"; }
    run_server "${bin}"
    "${bin}/createdb" -h 127.0.0.1 -p "${PG_PORT}" -U postgres "${PG_DATABASE}"
    say "PostgreSQL $("${bin}/postgres" --version | awk '{print $3}') on 127.0.0.1:${PG_PORT} (state ${PG_STATE_DIR})"
}

stop() {
    local bin
    bin="$(find_bin)"
    if [[ -d "${PG_STATE_DIR}/data" ]]; then
        as_owner "${bin}/pg_ctl" -D "${PG_STATE_DIR}/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "${PG_STATE_DIR}"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    halt) halt ;;
    resume) run_server "$(find_bin)" ;;
    *) die "usage: scripts/postgres.sh start|stop|url|halt|resume" ;;
esac
