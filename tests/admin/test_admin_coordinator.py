"""codis-admin on the coordinator itself, as Codis 3.2's: --dashboard-list,
--config-dump and --remove-lock with --zookeeper, --etcd or --filesystem,
against a product stored as a dashboard leaves it and a lock held by a live
client (no dashboard runs)."""

import json

import pytest

from coordinator_shell import CoordinatorShell, run_cli
from test_admin_cli import admin, fails, ok

PRODUCT = "codis-admin-coord"
BASE = f"/codis3/{PRODUCT}"


@pytest.mark.parametrize("kind", ["zookeeper", "etcd", "filesystem"])
def test_coordinator_commands(kind, request, tmp_path):
    addr = str(tmp_path / "store") if kind == "filesystem" else request.getfixturevalue(kind).addr
    nodes = {
        f"{BASE}/group/group-0001": {"id": 1, "servers": [], "promoting": {}, "out_of_sync": False},
        f"{BASE}/slots/slot-0000": {"id": 0, "group_id": 1, "action": {}},
        f"{BASE}/slots/slot-0001": {"id": 1, "group_id": 1, "action": {}},
        f"{BASE}/proxy/proxy-abc": {"id": 1, "token": "abc", "admin_addr": "127.0.0.1:11080"},
        f"{BASE}/sentinel": {"servers": ["127.0.0.1:26379"], "out_of_sync": False},
    }
    for path, value in nodes.items():
        r = run_cli(kind, addr, "update", path, json.dumps(value))
        assert r.returncode == 0, r.stderr
    holder = CoordinatorShell(kind, addr)  # a dashboard that hangs on to its lock
    try:
        holder.ephemeral(f"{BASE}/topom", json.dumps({"admin_addr": "127.0.0.1:18080", "pid": 1}))
        store = [f"--{kind}", addr]

        assert ok("--dashboard-list", *store).json() == [{"name": PRODUCT, "dashboard": "127.0.0.1:18080"}]
        dump = ok("--config-dump", f"--product={PRODUCT}", *store).json()
        assert dump == {"slots": [nodes[f"{BASE}/slots/slot-0000"], nodes[f"{BASE}/slots/slot-0001"]],
                        "group": [nodes[f"{BASE}/group/group-0001"]],
                        "proxy": [nodes[f"{BASE}/proxy/proxy-abc"]],
                        "sentinel": nodes[f"{BASE}/sentinel"]}

        r = ok("--remove-lock", f"--product={PRODUCT}", *store)
        assert r.out == ""
        assert holder.read(f"{BASE}/topom") is None
        assert ok("--dashboard-list", *store).json() == []
        ok("--remove-lock", f"--product={PRODUCT}", *store)  # absent: still fine
    finally:
        holder.close()

    fails("--remove-lock", *store, needle="--product")
    fails("--remove-lock", f"--product={PRODUCT}", *store, "--dashboard=127.0.0.1:1", needle="without --proxy")
    fails("--config-dump", f"--product={PRODUCT}", needle="--zookeeper, --etcd or --filesystem")
    fails("--config-dump", "--create-group", f"--product={PRODUCT}", *store, needle="nothing else")


def test_unreachable_store_fails_cleanly():
    r = admin("--dashboard-list", "--etcd=127.0.0.1:1", "--timeout=2")
    assert r.rc == 1 and r.out == "" and "no endpoint answered" in r.err, r
