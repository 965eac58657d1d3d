#!/usr/bin/env python3
"""Migration soak: 2 groups, 2 proxies, a ZooKeeper; loads N small keys and a
big hash, then moves SLOTS slots from group 1 to group 2 and back while a
writer per proxy runs INCR/SET/HSET/GET and checks every reply. Prints the
time of each move, writer ops, errors and lost/wrong values (must be 0).

    CODIS_BUILD_DIR=build python3 bench/migration_soak.py [--slots 512]
        [--keys 64000] [--big 1000000] [--kill-dashboard]

Reuses the test harnesses (tests/dashboard, tests/integration,
tests/coordinator) and tests/dashboard/test_migration.py's Writer."""

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for d in ("tests/dashboard", "tests/integration", "tests/coordinator"):
    sys.path.insert(0, str(ROOT / d))

from zk_harness import ZooKeeperServer  # noqa: E402
from harness import keys_in_slots, key_in_slot  # noqa: E402
import importlib.util  # noqa: E402

# tests/integration has a test_migration.py too: load ours by path.
_spec = importlib.util.spec_from_file_location("dashboard_test_migration", ROOT / "tests/dashboard/test_migration.py")
tm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slots", type=int, default=512)
    ap.add_argument("--keys", type=int, default=64000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--kill-dashboard", action="store_true", help="SIGKILL + restart the dashboard mid-way")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mig-soak-"))
    zk = ZooKeeperServer(str(tmp / "zk")).start()
    c = tm.Cluster(tmp, zk)
    try:
        d = c.dash
        for gid, srv in ((1, c.servers[0]), (2, c.servers[1])):
            d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
            d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
        for p in c.proxies:
            d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{p.admin_url[7:]}")
        d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
        small = keys_in_slots(0, a.slots - 1, a.keys, "s")
        big = key_in_slot(7, "big")
        t = time.time()
        with c.proxies[0].conn(timeout=120) as conn:
            for i in range(0, len(small), 5000):
                tm.pipeline(conn, [("SET", k, k) for k in small[i:i + 5000]])
            for base in range(0, a.big, 100_000):
                cmds = []
                for b in range(base, min(a.big, base + 100_000), 1000):
                    args = ["HSET", big]
                    for j in range(b, min(a.big, b + 1000)):
                        args += [f"f{j}", str(j)]
                    cmds.append(args)
                tm.pipeline(conn, cmds)
        print(f"loaded {len(small)} keys + {a.big}-field hash in {time.time() - t:.1f}s", flush=True)
        writers = [tm.Writer(p, tid, keys_in_slots(0, a.slots - 1, 200, f"cnt{tid}"),
                             keys_in_slots(0, a.slots - 1, 200, f"str{tid}"), big)
                   for tid, p in enumerate(c.proxies)]
        for w in writers:
            w.start()
        for src, dst in ((1, 2), (2, 1)):
            t = time.time()
            c.dash.ok("PUT", f"/api/topom/slots/action/create-range/{{x}}/0/{a.slots - 1}/{dst}")
            if a.kill_dashboard:
                time.sleep(1)
                c.dash.stop(signal.SIGKILL)
                c.shell.remove(f"/codis3/{tm.PRODUCT}/topom")
                c.dash = c.new_dashboard()
            tm.wait_actions_done(c, range(a.slots), 3600)
            print(f"moved {a.slots} slots {src} -> {dst} in {time.time() - t:.1f}s", flush=True)
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(60)
        with c.proxies[1].conn(timeout=120) as conn:
            bad = [b for w in writers for b in w.verify(conn)]
            vals = []
            for i in range(0, len(small), 5000):
                vals += tm.pipeline(conn, [("GET", k) for k in small[i:i + 5000]])
            wrong = sum(1 for k, v in zip(small, vals) if v != k.encode())
            hlen = conn.call("HLEN", big)
        errors = [e for w in writers for e in w.errors]
        print(f"writer ops {[w.ops for w in writers]}, errors {len(errors)}, lost/wrong writes {len(bad)}, "
              f"wrong small keys {wrong}, big HLEN {hlen}")
        for e in (errors + bad)[:10]:
            print("  ", e)
        return 0 if not errors and not bad and not wrong else 1
    finally:
        c.close()
        zk.close()


if __name__ == "__main__":
    sys.exit(main())
