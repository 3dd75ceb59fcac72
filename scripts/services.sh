#!/usr/bin/env bash
# Installs (Debian packages) and starts the local services the project uses.
#   scripts/services.sh redis            Redis on 127.0.0.1:6379 (the service's queue and events)
#   scripts/services.sh redis postgres   also PostgreSQL on 127.0.0.1:5432 with a database "test"
#   scripts/services.sh chromium         Debian's Chromium, for the browser tests
# Anything already running is left as it is.
set -euo pipefail

wanted=("${@:-redis}")
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

apt_install() {
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  echo "nothing answers on 127.0.0.1:$1" >&2
  return 1
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! port_open 6379; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/smartlic-redis.log
    wait_port 6379
  fi
  echo "redis: 127.0.0.1:6379"
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  if ! port_open 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    "${as_root[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port 5432
  fi
  if ! psql "postgresql://postgres@127.0.0.1:5432/test" -qAtc "select 1" >/dev/null 2>&1; then
    # A fresh Debian cluster asks for passwords on TCP: trust the local test database only.
    hba=$(as_postgres psql -qAtc "show hba_file")
    if ! as_postgres grep -q "smartlic-tests" "$hba"; then
      as_postgres sed -i '1i host test postgres 127.0.0.1/32 trust # smartlic-tests' "$hba"
      as_postgres psql -qc "select pg_reload_conf()" >/dev/null
    fi
    as_postgres psql -qAtc "select 1 from pg_database where datname = 'test'" | grep -q 1 \
      || as_postgres createdb test
  fi
  echo "postgres: 127.0.0.1:5432/test"
}

install_chromium() {
  command -v chromium >/dev/null || apt_install chromium fonts-liberation
  echo "chromium: $(command -v chromium)"
}

for service in "${wanted[@]}"; do
  case "$service" in
    redis) start_redis ;;
    postgres) start_postgres ;;
    chromium) install_chromium ;;
    *) echo "unknown service: $service" >&2; exit 2 ;;
  esac
done
