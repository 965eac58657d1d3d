"""codis-dashboard on etcd (coordinator_name = "etcd"), with real etcd,
redis-servers and codis-proxy: the lock is a lease-bound key, a standby
dashboard takes over when the holder is killed (its lease expires), a slot
migration interrupted by the kill resumes under the new dashboard, and a proxy
started with --etcd serves the routing stored there."""

import json
import signal

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server
from harness import Proxy, key_in_slot, wait_until

PRODUCT = "codis-dash-etcd"


def dashboard(tmp_path, etcd):
    return Dashboard(tmp_path, PRODUCT, etcd.addr, coordinator_name="etcd",
                     extra_config="migration_parallel_slots = 4\n")


def test_dashboard_on_etcd_takeover_and_migration_resume(tmp_path, etcd):
    servers = [codis_server(tmp_path).start() for _ in range(2)]
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}).start()
    shell = CoordinatorShell("etcd", etcd.addr)
    first = dashboard(tmp_path, etcd).start()
    second = later = None
    try:
        lock = json.loads(etcd.get(f"/codis3/{PRODUCT}/topom"))
        assert lock["pid"] == first.proc.pid
        assert etcd.lease_of(f"/codis3/{PRODUCT}/topom") not in (None, "0")  # ephemeral: bound to a lease

        for gid, srv in ((1, servers[0]), (2, servers[1])):
            first.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
            first.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
        first.ok("PUT", f"/api/topom/proxy/create/{{x}}/{proxy.admin_url[7:]}")
        first.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(1024)])
        keys = [key_in_slot(s, "etcd") for s in range(0, 16)]
        with proxy.conn() as c:
            for k in keys:
                assert c.call("SET", k, k) == "OK"

        second = dashboard(tmp_path, etcd).start(wait_active=False)
        wait_until(lambda: "standby" in second.log(), 15, what="second dashboard waits as standby")

        # A slow migration of slots 0-15 to group 2, killed mid-way with its holder.
        first.ok("PUT", "/api/topom/slots/action/interval/{x}/300000")
        first.ok("PUT", "/api/topom/slots/action/create-range/{x}/0/15/2")
        wait_until(lambda: any(json.loads(shell.read(f"/codis3/{PRODUCT}/slots/slot-{s:04d}"))["action"]
                               .get("state") not in (None, "pending") for s in range(16)),
                   20, what="a slot action under way")
        first.stop(signal.SIGKILL)  # its lease must expire (20 s) before the standby can take over
        second.wait_active(45)
        assert "taking over" in second.log()
        assert json.loads(etcd.get(f"/codis3/{PRODUCT}/topom"))["pid"] == second.proc.pid

        second.ok("PUT", "/api/topom/slots/action/interval/{x}/0")
        wait_until(lambda: all(json.loads(shell.read(f"/codis3/{PRODUCT}/slots/slot-{s:04d}")) ==
                               {"id": s, "group_id": 2, "action": {}} for s in range(16)),
                   60, what="the interrupted migration finished by the new dashboard")
        with proxy.conn() as c:
            assert all(c.call("GET", k) == k.encode() for k in keys)
        with servers[1].conn() as c:
            assert all(c.call("GET", k) == k.encode() for k in keys)

        # A clean shutdown releases the lock at once; a proxy started with
        # --etcd then serves from what is stored, with no dashboard.
        second.ok("PUT", "/api/topom/shutdown/{x}")
        wait_until(lambda: etcd.get(f"/codis3/{PRODUCT}/topom") is None, 10, what="lock released")
        proxy.stop()
        later = Proxy(tmp_path, None, {"product_name": PRODUCT}, extra_args=["--etcd", etcd.addr]).start()
        with later.conn() as c:
            assert all(c.call("GET", k) == k.encode() for k in keys)
    finally:
        for p in (first, second, later, proxy):
            if p:
                p.stop()
        for s in servers:
            s.stop()
        shell.close()
