#!/usr/bin/env bash
# Installs every system dependency of the project with apt. Idempotent: a
# second run installs nothing new. Needs root (or sudo) on Debian 12.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # libraries (Boost 1.81: Asio and Beast are header-only, compiled once by us)
  libboost1.81-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev catch2 libzookeeper-mt-dev libsodium-dev libssl-dev
  # real parts the tests and the quickstart run
  redis-server redis-tools zookeeper etcd-server haproxy
  # the web UI: built with npm (Vite), tested in headless Chromium
  nodejs chromium
  # the Redis module's build fetches redismodule.h from Debian's redis source package
  dpkg-dev xz-utils
  # test and benchmark tools
  python3 python3-pytest python3-redis nutcracker valgrind linux-perf procps
  # the quickstart drives the dashboard's HTTP API; openssl makes its private CA
  # (and the TLS tests' certificates)
  curl openssl
)
# Debian's nodejs has npm as a separate package; NodeSource's nodejs bundles
# it (and conflicts with Debian's npm), so ask for npm only when it is missing.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

# redismodule.h ships only in Debian's redis *source* package: enable deb-src
# for the configured Debian mirrors (once; a separate file we own).
SRC_LIST=/etc/apt/sources.list.d/codis-deb-src.sources
need_update=0
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      sed -e 's/^Types: deb$/Types: deb-src/' "$f"
      echo
    done
    if [ -f /etc/apt/sources.list ]; then
      grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' | while read -r line; do
        set -- $line
        echo "Types: deb-src"; echo "URIs: $2"; echo "Suites: $3"; shift 3; echo "Components: $*"; echo
      done
    fi
  } | $SUDO tee "$SRC_LIST" >/dev/null
  echo "install-deps: enabled deb-src in $SRC_LIST"
  need_update=1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  if [ "$need_update" = 1 ]; then $SUDO apt-get update -qq; fi
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # Boost 1.81's dev packages conflict with the 1.74 ones (libboost-dev & co).
  old=$(dpkg-query -W -f='${Package} ${Status}\n' 'libboost*1.74*-dev' 'libboost-dev' 2>/dev/null \
        | awk '/install ok installed/ {print $1}' || true)
  if [ -n "$old" ]; then
    echo "install-deps: removing Boost 1.74 dev packages: $old"
    $SUDO apt-get remove -y -qq $old
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The packaged redis-server starts a system instance on 6379; our tests and
# the quickstart run their own instances, so keep the system one out of the way.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
  $SUDO systemctl disable redis-server >/dev/null 2>&1 || true
fi
