#!/usr/bin/env bash
# Builds everything and runs every test: unit tests (Catch2, through CTest)
# and integration tests (pytest) against real redis-server processes that the
# tests start on free loopback ports and always stop.
# Usage: tests/run.sh [extra pytest arguments]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
bash deploy/build.sh

export CODIS_BUILD_DIR="${CODIS_BUILD_DIR:-$root/build}"
echo "== unit tests"
ctest --test-dir "$CODIS_BUILD_DIR" --output-on-failure
echo "== integration tests (real ZooKeeper, redis-server with our module, our daemons)"
# Debian's python3 has the python3-pytest and python3-redis packages installed above.
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/coordinator tests/integration tests/dashboard tests/module "$@"
