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
  libtomlplusplus-dev libcli11-dev catch2 libzookeeper-mt-dev
  # real parts the tests and the quickstart run
  redis-server redis-tools
  # test and benchmark tools
  python3 python3-pytest python3-redis nutcracker valgrind linux-perf procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
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
