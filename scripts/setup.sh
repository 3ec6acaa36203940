#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned requirements.
# Idempotent: does nothing when requirements.txt has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local candidate
  for candidate in "${PYTHON310:-}" python3.10 \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.10*/bin/python3.10 \
      "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    # A pyenv shim exists even when 3.10 is not selected: check the interpreter really runs.
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

# The storefront's chat widget, self-hosted: rasa-webchat 1.0.1 from the npm registry, checked
# against its published integrity hash (no CDN, nothing else from npm).
webchat=storefront/vendor/rasa-webchat
if [ ! -f "$webchat/lib/index.js" ]; then
  if ! command -v npm >/dev/null; then
    echo "npm is needed once to fetch the chat widget: installing Debian's npm package..." >&2
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent rasa-webchat@1.0.1 >/dev/null)
  python3 - "$tmp/rasa-webchat-1.0.1.tgz" <<'PY'
import base64, hashlib, sys
want = "Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIqo0x8w=="
got = base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode()
sys.exit(0 if got == want else f"rasa-webchat tarball integrity mismatch: {got}")
PY
  mkdir -p "$webchat"
  tar -xzf "$tmp/rasa-webchat-1.0.1.tgz" -C "$webchat" --strip-components=1 package/lib package/package.json package/LICENSE
  rm -rf "$tmp"
fi

stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

if ! py=$(find_python310); then
  echo "Rasa 3.6 needs Python 3.10: install it (e.g. 'pyenv install 3.10' or your system's python3.10 package) and run this again." >&2
  exit 1
fi

echo "Setting up .venv with $py (first run takes a few minutes)..."
[ -x .venv/bin/python ] || "$py" -m venv .venv
# (this machine's pip config names local wheel folders that may not exist: hide those warnings)
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet .venv/bin/python -m pip install --quiet --upgrade "pip<25"
quiet .venv/bin/python -m pip install --quiet -r requirements.txt
echo "$wanted" > "$stamp"
echo "Set-up done."
