#!/usr/bin/env bash
# Puts Redis's redismodule.h into OUTDIR (default: the current directory).
#
# No Debian binary package ships redismodule.h; it is in the `redis` source
# package (src/redismodule.h). This script downloads that source package once
# with `apt-get source --download-only` (no root needed, but deb-src lines must
# be enabled: deploy/install-deps.sh does that) into a temporary directory and
# extracts only the header. Idempotent: an existing OUTDIR/redismodule.h is
# kept. REDISMODULE_H=/path/to/redismodule.h skips the download.
set -euo pipefail

outdir="${1:-.}"
out="$outdir/redismodule.h"
mkdir -p "$outdir"

if [[ -s "$out" ]]; then
  exit 0
fi

if [[ -n "${REDISMODULE_H:-}" ]]; then
  cp "$REDISMODULE_H" "$out.tmp"
  mv "$out.tmp" "$out"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "fetch-redismodule-h.sh: apt-get not found; set REDISMODULE_H to a Redis 7.0 src/redismodule.h" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! (cd "$tmp" && apt-get source --download-only redis >"$tmp/apt.log" 2>&1); then
  cat "$tmp/apt.log" >&2
  echo "fetch-redismodule-h.sh: 'apt-get source --download-only redis' failed." >&2
  echo "  redismodule.h comes from Debian's redis source package, which needs deb-src" >&2
  echo "  entries in the apt sources: run deploy/install-deps.sh (it enables them and" >&2
  echo "  runs apt-get update), or set REDISMODULE_H=/path/to/redismodule.h." >&2
  exit 1
fi

shopt -s nullglob
tarballs=("$tmp"/redis_*.orig.tar.*)
if [[ ${#tarballs[@]} -eq 0 ]]; then
  echo "fetch-redismodule-h.sh: no redis_*.orig.tar.* in the downloaded source package" >&2
  exit 1
fi

if ! tar -xf "${tarballs[0]}" -C "$tmp" --wildcards '*/src/redismodule.h'; then
  echo "fetch-redismodule-h.sh: ${tarballs[0]##*/} has no src/redismodule.h" >&2
  exit 1
fi
headers=("$tmp"/*/src/redismodule.h)
cp "${headers[0]}" "$out.tmp"
mv "$out.tmp" "$out"
echo "fetch-redismodule-h.sh: extracted redismodule.h from ${tarballs[0]##*/}"
