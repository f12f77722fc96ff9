#!/usr/bin/env bash
# Makes sure a Docker engine answers. Where none runs and this is root on Debian, it
# installs docker.io and starts dockerd in the background; otherwise it says what is missing.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "docker-ready: no Docker engine answers 'docker info'; start Docker (the integration suite needs it)." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-ready: installing docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-ready: starting dockerd" >&2
  nohup dockerd >/tmp/dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "docker-ready: dockerd did not answer within 60 s; see /tmp/dockerd.log" >&2
tail -20 /tmp/dockerd.log >&2 || true
exit 1
