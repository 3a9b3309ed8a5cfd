# Sourced by scripts/test.sh: gives the PostgreSQL cases of the test suite a fresh, empty
# database and exports its URL as OOLOI_TEST_POSTGRES_URL (the variable that enables them).
# - OOLOI_TEST_POSTGRES_URL already set: that database is used as it is.
# - Otherwise: the local server on 127.0.0.1:5432 (trust auth, user postgres; started with
#   pg_ctlcluster if it is installed but down), and a database ooloi_test_<pid> created in it and
#   dropped when the tests end.
# Without a reachable PostgreSQL the cases print NOT RUN; under CI=true that is an error instead,
# so CI never skips them silently.
pg_host="${OOLOI_TEST_PGHOST:-127.0.0.1}"
pg_port="${OOLOI_TEST_PGPORT:-5432}"
pg_user="${OOLOI_TEST_PGUSER:-postgres}"

ooloi_pg_ready() { pg_isready -h "$pg_host" -p "$pg_port" -q 2>/dev/null; }

if [ -z "${OOLOI_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_isready >/dev/null 2>&1 && ! ooloi_pg_ready && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== postgres: starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do ooloi_pg_ready && break; sleep 0.5; done
  fi
  if command -v psql >/dev/null 2>&1 && ooloi_pg_ready; then
    ooloi_test_db="ooloi_test_$$"
    psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qAtc \
      "DROP DATABASE IF EXISTS $ooloi_test_db" -c "CREATE DATABASE $ooloi_test_db" >/dev/null
    export OOLOI_TEST_POSTGRES_URL="postgres://$pg_user@$pg_host:$pg_port/$ooloi_test_db"
    ooloi_drop_test_db() {
      psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qAtc \
        "DROP DATABASE IF EXISTS $ooloi_test_db WITH (FORCE)" >/dev/null 2>&1 || true
    }
    trap ooloi_drop_test_db EXIT
    echo "== postgres: fresh database $ooloi_test_db for the PostgreSQL cases"
  elif [ "${CI:-}" = "true" ]; then
    echo "postgres: no PostgreSQL on $pg_host:$pg_port; CI needs one for the PostgreSQL cases" >&2
    exit 1
  else
    echo "postgres: WARNING: no PostgreSQL on $pg_host:$pg_port: the PostgreSQL cases will print NOT RUN" >&2
  fi
fi
