#!/usr/bin/env bash
# Runs the assistant with its demo shop: set-up, demo data, training (only if data changed),
# action server, Rasa server, the storefront page with the chat widget and the agent console.
# Ctrl-C stops everything it started.
#
# Environment (all optional): RASA_PORT (5005), ACTION_PORT (5055), STOREFRONT_PORT (8080),
# CONSOLE_PORT (8090), DATABASE_URL (default: a fresh embedded SQLite demo shop in var/), MODELS_DIR
# (models), RASA_AUTH_TOKEN, CUSTOMER_TOKEN_SECRET and DEMO_AGENT_PASSWORD (default: random per run),
# STOREFRONT_DEMO_LOGIN (1: the storefront's "sign in as a demo customer" menu).
set -euo pipefail
export RASA_TELEMETRY_ENABLED=false  # no usage reports or crash uploads to Rasa
cd "$(dirname "$0")/.."
scripts/setup.sh

export RASA_PORT=${RASA_PORT:-5005} ACTION_PORT=${ACTION_PORT:-5055}
export STOREFRONT_PORT=${STOREFRONT_PORT:-8080} CONSOLE_PORT=${CONSOLE_PORT:-8090}
export ACTION_SERVER_URL="http://127.0.0.1:$ACTION_PORT/webhook" RASA_URL="http://127.0.0.1:$RASA_PORT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
models=${MODELS_DIR:-models}
py=.venv/bin/python

mkdir -p var/log
$py -m bot policy check >/dev/null   # a bad policy file stops us here, with the reason
if [ -z "${DATABASE_URL:-}" ]; then
  # The demo starts from the same state every time, conversations included.
  rm -f var/shop.db var/shop.db-wal var/shop.db-shm var/tracker.db
  $py -m bot demo
else
  $py -m bot demo || echo "(using the orders already in DATABASE_URL)"
fi

# The model is named after a hash of everything that shapes it: same inputs, no training.
model="$models/shop-$(scripts/model_fingerprint.sh).tar.gz"
if [ -f "$model" ]; then
  echo "Model is up to date: $model"
else
  echo "Training the model (the data changed)..."
  .venv/bin/rasa train --out "$models" --fixed-model-name "$(basename "$model" .tar.gz)" >var/log/train.log 2>&1 \
    || { echo "training failed: see var/log/train.log" >&2; exit 1; }
  find "$models" -name 'shop-*.tar.gz' ! -path "$model" -delete
fi

token=${RASA_AUTH_TOKEN:-$($py -c 'import secrets; print(secrets.token_urlsafe(24))')}
export RASA_AUTH_TOKEN=$token  # the console talks to Rasa's HTTP API with it
# The storefront signs its customers' chat tokens with this and the actions check them.
export CUSTOMER_TOKEN_SECRET=${CUSTOMER_TOKEN_SECRET:-$($py -c 'import secrets; print(secrets.token_urlsafe(32))')}
export STOREFRONT_DEMO_LOGIN=${STOREFRONT_DEMO_LOGIN:-1}  # the demo's password-less "sign in as" menu
# One agent account for trying the console (more: python -m bot agent add NAME --name ... --language ..).
agent_password=${DEMO_AGENT_PASSWORD:-$($py -c 'import secrets; print(secrets.token_urlsafe(12))')}
echo "$agent_password" | $py -m bot agent add demo --name Alex --language en --password-stdin >/dev/null 2>&1 \
  || agent_password="(unchanged: the demo agent already exists in DATABASE_URL)"
pids=()
stop() {
  set +e  # stopping must not stop half-way
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null
    # Each server gets 20 s to finish what it is doing; then it is stopped for good.
    for _ in $(seq 40); do
      alive=0
      for pid in "${pids[@]}"; do
        # A stopped child stays a zombie until reaped: "alive" means still running.
        state=$(ps -o stat= -p "$pid" 2>/dev/null)
        [ -n "$state" ] && [ "${state:0:1}" != Z ] && alive=1
      done
      [ $alive = 0 ] && break
      sleep 0.5
    done
    kill -9 "${pids[@]}" 2>/dev/null
  fi
  wait 2>/dev/null
  echo "stopped."
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

.venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" >var/log/actions.log 2>&1 &
pids+=($!)
.venv/bin/rasa run --model "$model" --enable-api --auth-token "$token" --cors "*" \
  --interface 127.0.0.1 --port "$RASA_PORT" --endpoints endpoints.yml --credentials credentials.yml \
  >var/log/rasa.log 2>&1 &
pids+=($!)
$py -m storefront >var/log/storefront.log 2>&1 &
pids+=($!)
$py -m console >var/log/console.log 2>&1 &
pids+=($!)

echo "Starting the action server and the Rasa server (about a minute)..."
$py - <<PY || { echo "start-up failed: see var/log/rasa.log and var/log/actions.log" >&2; exit 1; }
import sys, time, urllib.request
deadline = time.time() + 300
for url in ("http://127.0.0.1:$ACTION_PORT/health", "http://127.0.0.1:$RASA_PORT/status?token=$token",
            "http://127.0.0.1:$STOREFRONT_PORT/", "http://127.0.0.1:$CONSOLE_PORT/login"):
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read(); break
        except Exception:
            if time.time() > deadline: sys.exit(1)
            time.sleep(1)
PY

cat <<TXT

The assistant is running on the demo shop (demo orders: README.md).
  Storefront + chat:   http://127.0.0.1:$STOREFRONT_PORT/?lang=es  (any of the 14 languages)
  Agent console:       http://127.0.0.1:$CONSOLE_PORT/  (user demo, password $agent_password)
  Chat in a terminal:  .venv/bin/python scripts/chat.py --port $RASA_PORT
  REST channel:        curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"me","message":"hi"}'
  Rasa HTTP API:       token $token  (e.g. curl -s 'localhost:$RASA_PORT/status?token=$token')
  Logs:                var/log/ (rasa, actions, storefront, console)
Press Ctrl-C to stop.
TXT
wait -n "${pids[@]}"
echo "a server exited: see var/log/" >&2
exit 1
