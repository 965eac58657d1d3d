#!/usr/bin/env bash
# Side-by-side benchmark: direct Redis vs codis-proxy (--ncpu 1, two backend
# groups) vs twemproxy (nutcracker -v 4, two backends), GET/SET with 50
# clients, with and without -P 16. Reports throughput (and the ratio to direct
# Redis in the same run), callgrind instructions/request and perf
# syscalls/request. See docs/benchmarks.md.
#
# Usage: bench/proxy_bench.sh [--quick] [--requests N] [--cg-requests N]
#          [--rounds N] [--only direct,proxy,twemproxy,direct-tls,proxy-tls]
#          [--tls] [--proxy-bin PATH] [--no-callgrind] [--no-perf]
# --tls adds direct-tls (redis-server's TLS port) and proxy-tls (the proxy's
# TLS port, backend_tls to the backends' TLS ports), compared with direct-tls.
# Output: Markdown table on stdout; JSON, table, logs and callgrind dumps in
# bench/out/ (gitignored).
#
# All processes listen on 127.0.0.1 ports in 20000-32000. The Python driver
# owns them: it stops every one of them at exit, on error and on
# SIGINT/SIGTERM/SIGHUP; this wrapper forwards those signals to it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" "$here/proxy_bench.py" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
while :; do
  wait "$child"
  rc=$?
  # wait returns >128 when interrupted by a trapped signal; keep waiting for
  # the driver to finish its cleanup.
  if kill -0 "$child" 2>/dev/null; then continue; fi
  exit "$rc"
done
