# shellcheck shell=bash
# Source me from CI: `source .ci/pg.sh`.
# Exports NEWSINGEST_TEST_DSN when a PostgreSQL answers on 127.0.0.1:5432; otherwise leaves it
# unset, and the test suite starts its own throwaway cluster (plugins/newsingest/localdb.py).
# A DSN that is already set wins and is left alone.

_newsingest_pg_probe() {
    local dsn="postgresql://postgres@127.0.0.1:5432/postgres"
    local python="${BASH_SOURCE[0]%/*}/../.venv/bin/python"
    [ -n "${NEWSINGEST_TEST_DSN:-}" ] && return 0
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h 127.0.0.1 -p 5432 -t 3 || return 0
    elif [ -x "$python" ]; then
        # Without pg_isready, a real connection (which also proves the login works) decides.
        "$python" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' \
            "$dsn" >/dev/null 2>&1 || return 0
    else
        return 0
    fi
    export NEWSINGEST_TEST_DSN="$dsn"
}
_newsingest_pg_probe
unset -f _newsingest_pg_probe
