#!/usr/bin/env bash
# Starts a local PostgreSQL for trustframe-store's tests and prints the URL to export.
# Idempotent: installs only if missing, creates/starts the cluster only if needed.
#
#   eval "$(crates/store/ci-postgres.sh)"      # sets TRUSTFRAME_TEST_POSTGRES_URL
#   cargo test -p trustframe-store
#
# Listens on 127.0.0.1 only. Overrides: PGPORT (5432), TF_PG_PASSWORD (trustframe).
# Progress goes to stderr; stdout carries only the export line. Needs root or sudo (Debian/Ubuntu).
set -euo pipefail

port="${PGPORT:-5432}"
password="${TF_PG_PASSWORD:-trustframe}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
log() { echo "ci-postgres: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    $sudo apt-get update >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y postgresql >&2
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
cluster=main
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
    log "creating cluster $version/$cluster"
    $sudo pg_createcluster "$version" "$cluster" --port "$port" >&2
fi

# Loopback only, on the chosen port (conf.d is included by Debian's postgresql.conf).
conf_dir="/etc/postgresql/$version/$cluster/conf.d"
want="listen_addresses = '127.0.0.1'
port = $port"
if [ "$($sudo cat "$conf_dir/trustframe.conf" 2>/dev/null || true)" != "$want" ]; then
    echo "$want" | $sudo tee "$conf_dir/trustframe.conf" >/dev/null
    if pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
        log "restarting cluster $version/$cluster for the new settings"
        $sudo pg_ctlcluster "$version" "$cluster" restart >&2
    fi
fi

if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
    log "starting cluster $version/$cluster"
    $sudo pg_ctlcluster "$version" "$cluster" start >&2
fi

for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
    sleep 1
done
pg_isready -h 127.0.0.1 -p "$port" >&2

# Password auth over TCP is Debian's default (scram-sha-256 for 127.0.0.1); give postgres one.
if [ -z "$sudo" ]; then as_postgres=(runuser -u postgres --); else as_postgres=(sudo -u postgres); fi
(cd / && "${as_postgres[@]}" psql -q -p "$port" -h /var/run/postgresql -v ON_ERROR_STOP=1 \
    -c "ALTER USER postgres PASSWORD '$password'" >&2)

url="postgres://postgres:$password@127.0.0.1:$port/postgres"
log "ready: $url"
echo "export TRUSTFRAME_TEST_POSTGRES_URL=$url"
