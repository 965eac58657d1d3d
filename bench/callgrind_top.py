#!/usr/bin/python3
"""Top functions by self (exclusive) Ir in a callgrind dump.

callgrind_annotate 3.19 attributes everything to the outermost frame
(io_context::run) for dumps taken with `callgrind_control -d` after
`callgrind_control -z` while the event loop runs; this reads the dump itself.

Usage: bench/callgrind_top.py DUMP [N] [--requests R]
  With --requests, also prints Ir per request for each function.
"""

import collections
import re
import sys

NAMED = re.compile(r"^(c?fn)=\((\d+)\)(?: (.*))?$")


def self_costs(path):
    names = {}
    cost = collections.Counter()
    cur = None
    after_calls = False
    summary = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if after_calls:  # inclusive cost of a call: not self cost
                    after_calls = False
                    continue
                parts = line.split()
                if len(parts) >= 2 and cur is not None:
                    cost[cur] += int(parts[1])
                continue
            m = NAMED.match(line)
            if m:
                kind, ident, name = m.groups()
                if name:
                    names[ident] = name
                if kind == "fn":
                    cur = names.get(ident, ident)
                continue
            if line.startswith("calls="):
                after_calls = True
            elif line.startswith("summary:"):
                summary = int(line.split()[1])
    return cost, summary


def main():
    args = [a for a in sys.argv[1:]]
    requests = None
    if "--requests" in args:
        i = args.index("--requests")
        requests = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    n = int(args[1]) if len(args) > 1 else 30
    cost, summary = self_costs(args[0])
    total = sum(cost.values())
    print("summary Ir %s, sum of self costs %s" % (summary, total))
    for name, c in cost.most_common(n):
        per = " %8.1f/req" % (c / requests) if requests else ""
        print("%12d %5.1f%%%s  %s" % (c, 100.0 * c / total, per, name[:160]))


if __name__ == "__main__":
    main()
