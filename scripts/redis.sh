#!/usr/bin/env bash
# A throwaway Redis server on loopback, for tests: nothing kept, nothing shared with any other run.
#   scripts/redis.sh start DIR   installs Debian's redis-server if missing, starts one on a free port
#                                with DIR as its home, prints its URL
#   scripts/redis.sh stop DIR    stops it
set -euo pipefail
action=${1:?start or stop}; dir=${2:?directory}
case "$action" in
start)
  if ! command -v redis-server >/dev/null; then
    echo "Redis is not installed: installing Debian's redis-server package..." >&2
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  fi
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "redis://127.0.0.1:$port/1"
  ;;
stop)
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
