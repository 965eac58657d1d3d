#!/usr/bin/env bash
# Configures and builds the project into ./build (Release with debug info),
# then the operator web UI (web-fe/ -> web-fe/dist, served by codis-dashboard).
# Usage: deploy/build.sh [extra cmake -D options]
# CODIS_BUILD_DIR: the build directory (default ./build).
# CODIS_SKIP_WEB=1: do not build the web UI (no node/npm needed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${CODIS_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  # ccache, when installed, makes rebuilds in other checkouts cheap (not needed).
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@"
fi
ninja -C "$build"

# The web UI: `npm ci` from the committed lockfile only when node_modules is
# missing or older than package-lock.json; `npm run build` (tsc --noEmit, then
# vite build) only when a source is newer than dist/.
if [ "${CODIS_SKIP_WEB:-0}" = "1" ]; then
  echo "build.sh: CODIS_SKIP_WEB=1: web UI not built"
  exit 0
fi
web="$root/web-fe"
if ! command -v npm >/dev/null 2>&1; then
  echo "build.sh: npm not found: run deploy/install-deps.sh (node 18+ and npm), or set CODIS_SKIP_WEB=1" >&2
  exit 1
fi
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "== web-fe: npm ci"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
stamp="$web/dist/index.html"
if [ ! -f "$stamp" ] || [ -n "$(find "$web/src" "$web/index.html" "$web/package.json" "$web/package-lock.json" \
  "$web/vite.config.ts" "$web/tsconfig.json" -newer "$stamp" -print -quit)" ]; then
  echo "== web-fe: npm run build"
  (cd "$web" && npm run --silent build)
else
  echo "== web-fe: dist/ is up to date"
fi
