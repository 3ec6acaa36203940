#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; it cannot download browsers here).
# Installs the package when /usr/bin/chromium is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is not installed: installing Debian's chromium package..." >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
