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
# Each suite in its own pytest run: they are separate directories whose test
# modules share basenames (test_migration.py, ...).
passed=0
failed=0
status=0
for suite in coordinator integration dashboard module admin ha web; do
  echo "== integration tests: tests/$suite"
  log="$(mktemp)"
  set +e
  /usr/bin/python3 -m pytest -q -p no:cacheprovider "tests/$suite" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary="$(tail -n 1 "$log")"
  p=$(grep -oE '[0-9]+ passed' <<<"$summary" | awk '{s += $1} END {print s + 0}')
  f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{s += $1} END {print s + 0}')
  set -e
  rm -f "$log"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ]; then
    status=1
    [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))  # a suite that could not even run counts as a failure
  fi
done
echo "integration: $passed passed, $failed failed"
exit "$status"
