#!/usr/bin/env bash
# Makes sure Debian's Chromium is there for the browser tests. Where it is missing and
# this is root on Debian, it installs the chromium package; otherwise it says what is missing.
set -euo pipefail

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  exit 0
fi
if [ -n "${CHROMIUM_PATH:-}" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium-ready: no Chromium at $chromium; install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH (the browser tests need it)." >&2
  exit 1
fi
echo "chromium-ready: installing chromium" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
if [ ! -x "$chromium" ]; then
  echo "chromium-ready: apt-get installed chromium but $chromium is missing" >&2
  exit 1
fi
