# shellcheck shell=bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the multi-worker study tests.
#
#   source .ci/postgres.sh        # exports DESIGNSPACE_TEST_POSTGRES_URL (and PG_CI_DIR, PG_CI_STOP)
#   bash .ci/postgres.sh          # same, prints the URL (the server keeps running)
#   eval "$PG_CI_STOP"            # stop it and delete its data directory
#
# Installs Debian's postgresql package when no server binaries are found, creates a fresh cluster
# in a temporary directory owned by the postgres user (initdb refuses to run as root), starts it
# on a free port of 127.0.0.1 only (unix socket inside the data directory), and creates a user
# with a random password and a database.  Nothing here prints the password.
_pg_ci_main() {
  local bindir pgver port dir pw runas=()
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "postgres.sh: installing postgresql from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 || return 1
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  pgver=$("$bindir/postgres" --version | awk '{print $3}')
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
    runas=(runuser -u postgres --)
  fi
  dir=$(mktemp -d /tmp/designspace-pg.XXXXXX) || return 1
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --auth-host=scram-sha-256 \
    -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/data -c max_connections=100 -c fsync=off" start >&2 \
    || { cat "$dir/data/server.log" >&2; return 1; }
  "${runas[@]}" "$bindir/psql" -h "$dir/data" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE USER designspace WITH PASSWORD '$pw';" -c "CREATE DATABASE designspace_test OWNER designspace;" \
    >&2 || return 1
  export PG_CI_DIR="$dir"
  export PG_CI_STOP="${runas[*]} $bindir/pg_ctl -D $dir/data -m fast stop >/dev/null; rm -rf $dir"
  export DESIGNSPACE_TEST_POSTGRES_URL="postgresql+psycopg2://designspace:$pw@127.0.0.1:$port/designspace_test"
  echo "postgres.sh: PostgreSQL $pgver on 127.0.0.1:$port, database designspace_test (user designspace)" >&2
}

if ! _pg_ci_main; then
  echo "postgres.sh: could not start PostgreSQL; the PostgreSQL study tests will fail" >&2
  unset DESIGNSPACE_TEST_POSTGRES_URL
fi
unset -f _pg_ci_main
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "DESIGNSPACE_TEST_POSTGRES_URL=$DESIGNSPACE_TEST_POSTGRES_URL"
fi
