#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for tests: nothing shared with any other run.
#   scripts/postgres.sh start DIR   installs PostgreSQL from Debian's packages if missing, starts a
#                                   fresh cluster in DIR on a free port, prints its admin URL
#   scripts/postgres.sh stop DIR    stops it (DIR can then be removed)
#   scripts/postgres.sh resume DIR  starts a stopped one again, on its port, with its data
set -euo pipefail
action=${1:?start or stop}; dir=${2:?directory}

as_owner() {  # PostgreSQL refuses to run as root: use the postgres account the package creates
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

serve() {  # BIN PORT: run the cluster in $dir
  as_owner "$1/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $2 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

case "$action" in
start)
  if [ -z "$(bindir)" ]; then
    echo "PostgreSQL is not installed: installing Debian's postgresql package..." >&2
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  bin=$(bindir)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$port" > "$dir/port"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  serve "$bin" "$port"
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
resume)
  serve "$(bindir)" "$(cat "$dir/port")"
  ;;
stop)
  bin=$(bindir)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  ;;
*) echo "usage: $0 start|stop|resume DIR" >&2; exit 2 ;;
esac
