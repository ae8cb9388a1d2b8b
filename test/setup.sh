#!/usr/bin/env bash
# What `npm test` needs beyond npm packages, installed when missing so the README's test command works on a fresh
# machine: Debian's Chromium for the dashboard tests, and a PostgreSQL. Idempotent and quiet when everything is there.
set -euo pipefail
log() { echo "[test setup] $*" >&2; }

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    log "Chromium is missing and this user cannot install it: run 'apt-get install chromium' as root"
    exit 1
  fi
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  log "installing Debian's chromium (apt) for the dashboard tests"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq chromium >&2
fi

# A PostgreSQL to test against: the machine's own server if one answers, else the harness starts a private cluster
# from the installed binaries (test/helpers/postgres.ts). Only when neither is possible are the binaries installed.
if ! (command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}") \
  && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  log "installing Debian's postgresql (apt): no server answers and no binaries are installed"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq postgresql >&2
fi
