"""The proxy's HTTP admin API (Codis 3.2 compatible) and /metrics."""

from __future__ import annotations

import json
import re
import time

import pytest

from harness import (Status, http, key_in_slot, key_in_slots, two_group_slots,
                     wait_until, xauth)

pytestmark = pytest.mark.real_proxy

WRONG = "0" * 32


def test_model(cluster):
    p = cluster.proxy
    m = p.model()
    assert m["product_name"] == "codis-it"
    assert m["proxy_addr"] == p.addr and m["admin_addr"] == f"127.0.0.1:{p.admin_port}"
    assert isinstance(m["token"], str) and len(m["token"]) >= 16
    for field in ("start_time", "pid", "pwd", "sys", "hostname"):
        assert field in m, (field, m)
    assert m["pid"] == p.proc.pid
    r = p.get("/api/proxy/model")
    assert r.status == 200 and r.json()["token"] == m["token"]
    r = p.get("/proxy")
    assert r.status == 200 and isinstance(r.json(), dict), r
    assert p.get("/no/such/path").status == 404


def test_stats_reset_and_loglevel(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    p = make_proxy(two_group_slots(g1.addr, g2.addr))
    with p.conn() as c:
        for i in range(10):
            c.call("SET", f"sr:{i}", i)
    assert p.get("/proxy/stats").json()["ops"]["total"] >= 10
    assert p.put(f"/api/proxy/stats/reset/{WRONG}", auth=None).status >= 400
    assert p.put(f"/api/proxy/stats/reset/{p.xauth}").status == 200
    assert p.get("/proxy/stats").json()["ops"]["total"] < 10
    assert p.put(f"/api/proxy/loglevel/{p.xauth}/debug").status == 200
    assert p.put(f"/api/proxy/loglevel/{WRONG}/debug", auth=None).status >= 400
    assert p.put(f"/api/proxy/loglevel/{p.xauth}/nonsense").status >= 400
    assert p.put(f"/api/proxy/loglevel/{p.xauth}/info").status == 200
    with p.conn() as c:
        assert c.call("PING") == Status("PONG")


def test_xping_xauth(make_redis, make_proxy):
    """Codis's xauth authorizes only with admin_compat_xauth (and without the
    admin secret); without that mode only the secret does."""
    g1, g2 = make_redis(), make_redis()
    p = make_proxy(two_group_slots(g1.addr, g2.addr), {"admin_compat_xauth": True})
    assert p.xauth == xauth("codis-it", "", p.token)
    assert p.get(f"/api/proxy/xping/{p.xauth}", auth=None).status == 200
    r = p.get(f"/api/proxy/xping/{WRONG}", auth=None)
    assert r.status == 800, r
    # xauth is bound to product_auth too
    r = p.get(f"/api/proxy/xping/{xauth('codis-it', 'other', p.token)}", auth=None)
    assert r.status == 800, r
    strict = make_proxy(two_group_slots(g1.addr, g2.addr))
    assert strict.get(f"/api/proxy/xping/{strict.xauth}", auth=None).status == 401
    assert strict.get(f"/api/proxy/xping/{WRONG}").status == 200  # the secret is enough


def test_slots(cluster):
    p = cluster.proxy
    slots = p.get("/proxy/slots").json()
    assert isinstance(slots, list) and len(slots) == 1024
    by_id = {s["id"]: s for s in slots}
    assert sorted(by_id) == list(range(1024))
    for i in (0, 511):
        assert by_id[i]["backend_addr"] == cluster.g1.addr and by_id[i]["backend_addr_group_id"] == 1
    for i in (512, 1023):
        assert by_id[i]["backend_addr"] == cluster.g2.addr and by_id[i]["backend_addr_group_id"] == 2
    r = p.get(f"/api/proxy/slots/{p.xauth}")
    assert r.status == 200 and len(r.json()) == 1024


def test_stats(cluster):
    p = cluster.proxy
    with p.conn() as c:
        for i in range(25):
            c.call("SET", key_in_slots(0, 1023, "st", start=i), i)
    st = p.get("/proxy/stats").json()
    assert st.get("online") is True, st
    ops = st["ops"]
    assert ops["total"] >= 25, ops
    assert "qps" in ops
    assert st["sessions"]["total"] >= 1 and "alive" in st["sessions"], st["sessions"]
    r = p.get(f"/api/proxy/stats/{p.xauth}")
    assert r.status == 200 and "ops" in r.json()
    assert p.get(f"/api/proxy/stats/{WRONG}", auth=None).status >= 400


def test_metrics_per_command_counters(cluster):
    p = cluster.proxy
    n_get = 37
    with p.conn() as c:
        for i in range(n_get):
            c.call("GET", key_in_slots(0, 1023, "mt", start=i))
        c.call("HSET", "mth", "f", "v")
    r = p.get("/metrics")
    assert r.status == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    lines = [l for l in r.text.splitlines() if l and not l.startswith("#")]
    assert lines, r.text[:500]
    for l in lines:   # Prometheus text format: name{labels} value
        assert re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+[-+0-9.eEInfNa]+(\s+\d+)?$', l), l
    pat = re.compile(r'^[a-zA-Z_:][\w:]*\{[^}]*="(get|GET)"[^}]*\}\s+([0-9.eE+]+)')
    vals = [float(m.group(2)) for m in map(pat.match, lines) if m]
    assert vals and max(vals) >= n_get, "no per-command counter for GET >= %d in /metrics:\n%s" % (
        n_get, "\n".join(lines[:40]))
    assert re.search(r'="(hset|HSET)"', r.text), "no HSET series in /metrics"


@pytest.mark.timeout(60)
def test_fillslots_moves_slot(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), {"product_auth": "", "product_name": "fs"})
    slot = 100                               # owned by group 1
    key = key_in_slot(slot, "fs")
    with g1.conn() as c1, g2.conn() as c2:
        c1.call("SET", key, "from-g1")
        c2.call("SET", key, "from-g2")
    with proxy.conn() as c:
        assert c.call("GET", key) == b"from-g1"
        # wrong xauth: rejected, routing unchanged
        moved = [{"id": slot, "backend_addr": g2.addr, "backend_addr_group_id": 2}]
        r = proxy.put(f"/api/proxy/fillslots/{WRONG}", moved, auth=None)
        assert r.status >= 400, r
        assert c.call("GET", key) == b"from-g1"
        # right xauth: the very next request goes to group 2
        r = proxy.fillslots(moved)
        assert r.status == 200, r
        assert c.call("GET", key) == b"from-g2"
        with proxy.conn() as c3:
            assert c3.call("GET", key) == b"from-g2"
        s = {x["id"]: x for x in proxy.get("/proxy/slots").json()}
        assert s[slot]["backend_addr"] == g2.addr and s[slot]["backend_addr_group_id"] == 2
        assert s[slot + 1]["backend_addr"] == g1.addr            # others untouched
        # and back
        assert proxy.fillslots([{"id": slot, "backend_addr": g1.addr,
                                 "backend_addr_group_id": 1}]).status == 200
        assert c.call("GET", key) == b"from-g1"
        # a slot moved to a backend the proxy never talked to
        g3 = make_redis()
        with g3.conn() as c4:
            c4.call("SET", key, "from-g3")
        assert proxy.fillslots([{"id": slot, "backend_addr": g3.addr,
                                 "backend_addr_group_id": 3}]).status == 200
        assert c.call("GET", key) == b"from-g3"
        assert proxy.fillslots([{"id": slot, "backend_addr": g1.addr,
                                 "backend_addr_group_id": 1}]).status == 200
        assert c.call("GET", key) == b"from-g1"
        # invalid bodies are rejected without changing anything
        for body in (b"not json", json.dumps([{"id": 5000, "backend_addr": g2.addr}]).encode()):
            r = proxy.put(f"/api/proxy/fillslots/{proxy.xauth}", body)
            assert r.status >= 400, (body, r)
        assert c.call("GET", key) == b"from-g1"
    assert proxy.alive()


def test_start_and_shutdown(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr))
    assert proxy.put(f"/api/proxy/start/{proxy.xauth}").status == 200
    assert proxy.put(f"/api/proxy/shutdown/{WRONG}", auth=None).status >= 400
    time.sleep(0.3)
    assert proxy.alive()
    with proxy.conn() as c:
        assert c.call("PING") == Status("PONG")
    r = proxy.put(f"/api/proxy/shutdown/{proxy.xauth}")
    assert r.status == 200, r
    proxy.proc.wait(timeout=10)
    assert proxy.proc.returncode == 0, proxy.proc.returncode


def test_default_config_and_cli_flags(tmp_path, make_redis):
    import subprocess
    from harness import Proxy, free_port, proxy_binary
    if not proxy_binary().exists():
        pytest.fail(f"codis-proxy not built: {proxy_binary()} missing (run deploy/build.sh)", pytrace=False)
    b = str(proxy_binary())
    r = subprocess.run([b, "--default-config"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    text = r.stdout
    for k in ("product_name", "product_auth", "session_auth", "admin_addr", "proxy_addr",
              "backend_number_databases", "proxy_max_clients", "session_max_pipeline",
              "backend_ping_period", "session_recv_timeout", "proxy_max_bulk_len",
              "proxy_max_array_len"):
        assert re.search(rf"^\s*{k}\s*=", text, re.M), f"--default-config lacks {k}"
    assert "#" in text, "default config should be commented"
    r = subprocess.run([b, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--config" in (r.stdout + r.stderr), r
    # unknown key is an error
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\nno_such_key = 1\n")
    r = subprocess.run([b, "--config", str(bad)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0, r
    # the default config + --flag=value form works
    g1, g2 = make_redis(), make_redis()
    p = Proxy(tmp_path, two_group_slots(g1.addr, g2.addr))
    p.write_files()
    cfg = tmp_path / "ok.toml"
    cfg.write_text(re.sub(r'^\s*(proxy_addr|admin_addr)\s*=.*$', '', text, flags=re.M)
                   + f'\nproxy_addr = "{p.addr}"\nadmin_addr = "127.0.0.1:{p.admin_port}"\n')
    from harness import spawn, kill_proc, answers
    proc = spawn([b, f"--config={cfg}", f"--fillslots={p.slots_file}", "--log-level=warn",
                  "--ncpu", "1", f"--pidfile={tmp_path / 'p.pid'}"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is None and answers(p.port), 10, what="proxy from default config")
        assert (tmp_path / "p.pid").read_text().strip() == str(proc.pid)
    finally:
        kill_proc(proc, __import__("signal").SIGTERM)


# Codis 3.2's Go types of the proxy's overview (pkg/proxy/config.go Config,
# pkg/models/proxy.go Proxy): what Codis's own codis-admin and codis-fe decode
# GET /proxy into. "text" is a timesize.Duration or bytesize.Int64 (a JSON
# string through their UnmarshalText); Go's json refuses any other JSON type
# for a field, which is how codis-admin --proxy failed on our strings.
CODIS_PROXY_CONFIG_TYPES = {
    "proto_type": str, "proxy_addr": str, "admin_addr": str, "jodis_name": str, "jodis_addr": str,
    "jodis_auth": str, "jodis_timeout": "text", "jodis_compatible": bool, "product_name": str,
    "proxy_datacenter": str, "proxy_max_clients": int, "proxy_max_offheap_size": "text",
    "proxy_heap_placeholder": "text", "backend_ping_period": "text", "backend_recv_bufsize": "text",
    "backend_recv_timeout": "text", "backend_send_bufsize": "text", "backend_send_timeout": "text",
    "backend_max_pipeline": int, "backend_primary_only": bool, "backend_primary_parallel": int,
    "backend_replica_parallel": int, "backend_keepalive_period": "text", "backend_number_databases": int,
    "session_recv_bufsize": "text", "session_recv_timeout": "text", "session_send_bufsize": "text",
    "session_send_timeout": "text", "session_max_pipeline": int, "session_keepalive_period": "text",
    "session_break_on_failure": bool, "metrics_report_server": str, "metrics_report_period": "text",
    "metrics_report_influxdb_server": str, "metrics_report_influxdb_period": "text",
    "metrics_report_influxdb_username": str, "metrics_report_influxdb_database": str,
    "metrics_report_statsd_server": str, "metrics_report_statsd_period": "text",
    "metrics_report_statsd_prefix": str,
}
CODIS_PROXY_MODEL_TYPES = {
    "id": int, "token": str, "start_time": str, "admin_addr": str, "proto_type": str, "proxy_addr": str,
    "jodis_path": str, "product_name": str, "pid": int, "pwd": str, "sys": str, "hostname": str,
    "datacenter": str,
}


def go_decodes(value, go_type) -> bool:
    if go_type == "text" or go_type is str:
        return isinstance(value, str)
    if go_type is bool:
        return isinstance(value, bool)
    if go_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return False


def test_overview_decodes_with_codis_go_types(cluster):
    """codis-admin --proxy=ADDR (bare, config, model) decodes GET /proxy and
    /proxy/model into Codis's structs (issue 15: 9 settings were strings)."""
    p = cluster.proxy
    overview = p.get("/proxy").json()
    for name, value in (("config", overview["config"]), ("model", overview["model"]), ("model", p.model())):
        types = CODIS_PROXY_CONFIG_TYPES if name == "config" else CODIS_PROXY_MODEL_TYPES
        for field, go_type in types.items():
            if field in value:  # Go leaves absent fields at their zero value
                assert go_decodes(value[field], go_type), (name, field, value[field], go_type)
    assert overview["config"]["proxy_max_clients"] == 1000 and overview["config"]["backend_primary_only"] is False
    assert overview["config"]["session_recv_timeout"] == "30m"
    assert isinstance(overview["version"], str) and isinstance(overview["compile"], str)
