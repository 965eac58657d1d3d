"""The example configs in deploy/configs/ and the units in deploy/systemd/
are real: each daemon starts with its example (only addresses and paths
changed for the test), the TOML examples set every key the daemons know, and
HAProxy, systemd and Redis accept their files."""

import re
import shutil
import signal
import subprocess

import pytest

from dashboard_harness import dashboard_binary, module_path, topom_xauth
from harness import (REDIS_SERVER, REPO_ROOT, TEST_ADMIN_AUTH, RespConn, free_port, http, kill_proc, ping_ok,
                     proxy_binary, spawn, wait_until)
from ha_helpers import CONFIGS, HAPROXY, render_toml, toml_keys

SYSTEMD = REPO_ROOT / "deploy" / "systemd"


def default_keys(binary):
    out = subprocess.run([str(binary), "--default-config"], capture_output=True, text=True, check=True).stdout
    return toml_keys(out)


@pytest.mark.parametrize("name,binary", [("proxy.toml", proxy_binary), ("dashboard.toml", dashboard_binary)])
def test_toml_examples_set_every_key(name, binary):
    example = toml_keys((CONFIGS / name).read_text())
    assert sorted(example) == sorted(default_keys(binary())), f"{name} and --default-config differ"
    assert len(example) == len(set(example))


def start_daemon(args, workdir, answers, what):
    out = open(workdir / f"{what}.out", "ab")
    proc = spawn(args, stdout=out, stderr=subprocess.STDOUT)
    out.close()

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited rc={proc.returncode}: "
                               f"{(workdir / f'{what}.out').read_text()[-2000:]}")
        return answers()
    try:
        wait_until(up, 20, what=what)
    except Exception:
        kill_proc(proc)
        raise
    return proc


def secret_file(tmp_path):
    """The admin_auth_file the examples name, as an operator would make it."""
    f = tmp_path / "admin_auth"
    f.write_text(TEST_ADMIN_AUTH + "\n")
    f.chmod(0o600)
    return f'"{f}"'


def test_proxy_starts_with_the_example(tmp_path):
    port, admin = free_port(), free_port()
    cfg = tmp_path / "proxy.toml"
    cfg.write_text(render_toml(CONFIGS / "proxy.toml", {
        "admin_addr": f'"127.0.0.1:{admin}"', "proxy_addr": f'"127.0.0.1:{port}"',
        "admin_auth_file": secret_file(tmp_path)}))
    proc = start_daemon([proxy_binary(), "--config", cfg, "--log", tmp_path / "proxy.log"], tmp_path,
                        lambda: ping_ok(port), "codis-proxy")
    try:
        model = http("GET", f"http://127.0.0.1:{admin}/proxy/model").json()
        assert model["product_name"] == "codis-demo"
        assert model["proxy_addr"] == f"127.0.0.1:{port}"
    finally:
        kill_proc(proc, signal.SIGTERM)


def test_dashboard_starts_with_the_example(tmp_path, zookeeper):
    admin = free_port()
    cfg = tmp_path / "dashboard.toml"
    cfg.write_text(render_toml(CONFIGS / "dashboard.toml", {
        "coordinator_addr": f'"{zookeeper.addr}"', "admin_addr": f'"127.0.0.1:{admin}"',
        "admin_auth_file": secret_file(tmp_path)}))
    url = f"http://127.0.0.1:{admin}"

    def answers():
        try:
            return http("GET", f"{url}/health", timeout=2).status == 200
        except OSError:
            return False
    proc = start_daemon([dashboard_binary(), "--config", cfg, "--log", tmp_path / "dashboard.log"], tmp_path,
                        answers, "codis-dashboard")
    try:
        config = http("GET", f"{url}/topom").json()["config"]
        assert config["coordinator_name"] == "zookeeper" and config["product_name"] == "codis-demo"
        assert config["migration_method"] == "semi-async" and config["sentinel_quorum"] == 2
        r = http("PUT", f"{url}/api/topom/shutdown/{topom_xauth('codis-demo')}")
        assert r.status == 200, r
        proc.wait(15)
    finally:
        kill_proc(proc, signal.SIGTERM)


def redis_conf(tmp_path, example, port, extra=()):
    text = (CONFIGS / example).read_text()
    subs = {"port": str(port), "dir": str(tmp_path), "pidfile": str(tmp_path / "redis.pid"),
            "logfile": str(tmp_path / "redis.log"), "supervised": "no", "daemonize": "no",
            "loadmodule": str(module_path()), "maxmemory": "64mb"}
    for key, value in subs.items():
        text = re.sub(rf"(?m)^{key} .*$", f"{key} {value}", text)
    cfg = tmp_path / example
    cfg.write_text(text)
    return cfg


def test_redis_server_starts_with_the_example(tmp_path):
    port = free_port()
    cfg = redis_conf(tmp_path, "redis.conf", port)
    proc = start_daemon([REDIS_SERVER, cfg], tmp_path, lambda: ping_ok(port), "redis-server")
    try:
        with RespConn(port) as c:
            assert b"codis_slots" in str(c.call("MODULE", "LIST")).encode()
            assert c.call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"noeviction"]
            assert c.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
            assert c.call("SLOTSINFO") == []
    finally:
        kill_proc(proc, signal.SIGTERM)


def test_sentinel_starts_with_the_example(tmp_path):
    port = free_port()
    cfg = redis_conf(tmp_path, "sentinel.conf", port)
    proc = start_daemon([REDIS_SERVER, cfg, "--sentinel"], tmp_path, lambda: ping_ok(port), "redis-sentinel")
    try:
        with RespConn(port) as c:
            assert c.call("SENTINEL", "MASTERS") == []
            assert c.call("SENTINEL", "FLUSHCONFIG") == "OK"  # what sentinels/add checks
    finally:
        kill_proc(proc, signal.SIGTERM)


@pytest.mark.skipif(not shutil.which(HAPROXY), reason="haproxy is not installed")
def test_haproxy_accepts_the_example():
    r = subprocess.run([HAPROXY, "-c", "-f", str(CONFIGS / "haproxy.cfg")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_etcd_starts_with_the_example(tmp_path):
    """deploy/configs/etcd/etcd.conf.yml, as one member of its own cluster on
    loopback (name, URLs and data directory changed), serves the v3 API."""
    client, peer = free_port(), free_port()
    text = (CONFIGS / "etcd" / "etcd.conf.yml").read_text()
    for key, value in {"data-dir": str(tmp_path / "etcd"),
                       "listen-client-urls": f"http://127.0.0.1:{client}",
                       "advertise-client-urls": f"http://127.0.0.1:{client}",
                       "listen-peer-urls": f"http://127.0.0.1:{peer}",
                       "initial-advertise-peer-urls": f"http://127.0.0.1:{peer}",
                       "initial-cluster": f"etcd1=http://127.0.0.1:{peer}"}.items():
        text, n = re.subn(rf"(?m)^{re.escape(key)}: .*$", f"{key}: {value}", text)
        assert n == 1, key
    cfg = tmp_path / "etcd.conf.yml"
    cfg.write_text(text)
    etcd = shutil.which("etcd") or "/usr/bin/etcd"

    def answers():
        try:
            r = http("POST", f"http://127.0.0.1:{client}/v3/kv/range", body={"key": "Lw=="}, timeout=1, auth=None)
            return r.status == 200 and "header" in r.json()
        except OSError:
            return False
    proc = start_daemon([etcd, "--config-file", str(cfg)], tmp_path, answers, "etcd")
    kill_proc(proc)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_units_verify():
    units = sorted(str(p) for p in SYSTEMD.glob("*.service"))
    assert len(units) >= 6, units
    r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    # The binaries are not installed on a test machine, and a machine without
    # man pages cannot check Documentation=man:...; anything else is a defect.
    ignored = (r"Command /usr/local/bin/codis-\S+ is not executable", r"Command 'man \S+' failed")
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and not any(re.search(pat, line) for pat in ignored)]
    assert not problems, "\n".join(problems)
