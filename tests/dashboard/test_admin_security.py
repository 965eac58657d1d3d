"""The admin plane as an attacker with network access sees it (issue 12).

Each attack measured on the quickstart topology is replayed against a real
dashboard, proxy, ZooKeeper and redis-servers: it must fail for a caller
without the admin secret, change nothing, and work for a caller with it. The
Codis-compatible mode (admin_compat_xauth = true) is tested too: Codis's
xauth works there, as Codis's tools need, and the log says what that gives up.
"""

import hashlib
import json
import os
import socket
import stat
import subprocess
import threading

import pytest

from coordinator_shell import CoordinatorShell
from dashboard_harness import Dashboard, codis_server, dashboard_binary
from harness import TEST_ADMIN_AUTH, Proxy, RedisServer, free_port, http, proxy_binary, wait_until, xauth

PRODUCT = "codis-sec-it"
PRODUCT_AUTH = "backend-pass-7"
SESSION_AUTH = "client-pass-7"


def topom_xauth(product: str) -> str:
    return hashlib.sha256(f"Codis-XAuth-[{product}]".encode()).hexdigest()[:32]


class Listener:
    """A TCP port that records whether anyone connected and what they sent:
    the "outside server" an attacker points the dashboard at."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.received = b""
        self.connections = 0
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            c.settimeout(0.5)
            try:
                self.received += c.recv(65536)
            except OSError:
                pass
            c.close()

    def close(self):
        self._stop = True
        self._t.join(2)
        self.sock.close()


class Cluster:
    def __init__(self, tmp, zk):
        self.servers = [codis_server(tmp, password=PRODUCT_AUTH).start() for _ in range(2)]
        # the attacker's server (with the module and the password, so that an
        # operator could add it: the control case)
        self.outside = codis_server(tmp, password=PRODUCT_AUTH).start()
        self.proxy = Proxy(tmp, None, {"product_name": PRODUCT, "product_auth": PRODUCT_AUTH,
                                       "session_auth": SESSION_AUTH}).start()
        self.dash = Dashboard(tmp, PRODUCT, zk.addr, product_auth=PRODUCT_AUTH).start()
        self.shell = CoordinatorShell("zookeeper", zk.addr)
        d = self.dash
        for gid, srv in ((1, self.servers[0]), (2, self.servers[1])):
            d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
            d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
        d.ok("PUT", f"/api/topom/proxy/create/{{x}}/127.0.0.1:{self.proxy.admin_port}")
        d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
        self.token = self.proxy.model()["token"]

    def close(self):
        for p in (self.dash, self.proxy, self.outside, *self.servers):
            p.stop()
        self.shell.close()

    def snapshot(self):
        out = {}
        base = f"/codis3/{PRODUCT}"
        for d in ("group", "slots", "proxy"):
            for name in self.shell.list(f"{base}/{d}"):
                out[f"{d}/{name}"] = self.shell.read(f"{base}/{d}/{name}")
        return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    c = Cluster(tmp_path_factory.mktemp("sec"), zookeeper)
    yield c
    c.close()


def anon(method, url, body=None):
    return http(method, url, body, timeout=30, auth=None)


def test_takeover_with_the_product_name_is_refused(cluster):
    """group/add + group/promote of an outside server with Codis's xauth."""
    d, outside = cluster.dash, cluster.outside
    before = cluster.snapshot()
    x = topom_xauth(PRODUCT)  # what anyone can compute
    for path in (f"/api/topom/group/add/{x}/2/{outside.addr}", f"/api/topom/group/promote/{x}/2/{outside.addr}",
                 f"/api/topom/slots/assign/{x}", f"/api/topom/shutdown/{x}", f"/api/topom/proxy/remove/{x}/t/1"):
        r = anon("PUT", d.url + path, [{"id": 1000, "group_id": 1}] if "assign" in path else None)
        assert r.status == 401, (path, r)
        assert "authentication required" in r.json()["Cause"], r
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), r
    r = http("PUT", d.url + f"/api/topom/group/add/{x}/2/{outside.addr}", timeout=30, auth="guessed-secret")
    assert r.status == 401 and "invalid credentials" in r.json()["Cause"], r
    assert cluster.snapshot() == before
    assert d.alive()
    with cluster.proxy.conn(auth=SESSION_AUTH) as c:  # slot 1000 still on group 2
        assert c.call("SET", "{k}1000", "v") is not None
    # The same call with the secret is an operator's call: it works (and is undone).
    d.ok("PUT", f"/api/topom/group/add/{{x}}/2/{outside.addr}")
    d.ok("PUT", f"/api/topom/group/del/{{x}}/2/{outside.addr}")


def test_reads_reveal_nothing_without_the_secret(cluster):
    d, proxy = cluster.dash, cluster.proxy
    for url in (d.url + "/topom", d.url + "/topom/model", d.url + "/topom/stats", d.url + "/topom/slots",
                d.url + "/api/topom/model", d.url + f"/api/topom/stats/{topom_xauth(PRODUCT)}",
                proxy.admin_url + "/proxy", proxy.admin_url + "/proxy/model", proxy.admin_url + "/proxy/stats",
                proxy.admin_url + "/proxy/slots", proxy.admin_url + "/api/proxy/model"):
        r = anon("GET", url)
        assert r.status == 401, (url, r)
        assert cluster.token not in r.text, url
    # Health and metrics stay open, and hold no secret or token.
    for base in (d.url, proxy.admin_url):
        assert anon("GET", base + "/health").status == 200
        m = anon("GET", base + "/metrics")
        assert m.status == 200, m
        for secret in (PRODUCT_AUTH, SESSION_AUTH, TEST_ADMIN_AUTH):
            assert secret not in m.text
    # Authenticated reads: the topology and tokens, never a password.
    def stats_polled():
        s = d.get("/topom/stats").json()
        return s if cluster.token in s["proxy"]["stats"] else None
    wait_until(stats_polled, 15, what="proxy stats polled")
    for url in (d.url + "/topom", d.url + "/topom/stats", d.url + "/topom/model",
                proxy.admin_url + "/proxy", proxy.admin_url + "/proxy/stats", proxy.admin_url + "/proxy/model"):
        r = http("GET", url, timeout=30)
        assert r.status == 200, (url, r)
        for secret in (PRODUCT_AUTH, SESSION_AUTH, TEST_ADMIN_AUTH):
            assert secret not in r.text, (url, secret)


def test_the_dashboard_connects_only_to_its_topology(cluster):
    """group/info and sentinels/info of any address made the dashboard send
    AUTH <product_auth> there."""
    d = cluster.dash
    trap = Listener()
    try:
        for path in (f"/api/topom/group/info/{trap.addr}", f"/api/topom/sentinels/info/{trap.addr}",
                     f"/api/topom/sentinels/info/{trap.addr}/monitored"):
            assert anon("GET", d.url + path).status == 401, path
            ok, cause = d.api("GET", path)  # even an operator cannot aim it outside the topology
            assert not ok and ("not in any group" in cause or "not a sentinel" in cause), cause
        assert trap.connections == 0 and PRODUCT_AUTH.encode() not in trap.received
        # A server of the topology answers, with the secret.
        info = d.ok("GET", f"/api/topom/group/info/{cluster.servers[0].addr}")
        assert info["role"] == "master"
    finally:
        trap.close()


def test_proxy_admin_needs_the_secret_even_with_its_xauth(cluster):
    """Codis's proxy xauth needs product_auth and the token; with both leaked,
    fillslots (repoint a slot outside) and shutdown are still refused."""
    proxy, outside = cluster.proxy, cluster.outside
    x = xauth(PRODUCT, PRODUCT_AUTH, cluster.token)
    before = proxy.get("/proxy/slots").json()
    bad_slot = [{"id": 1000, "backend_addr": outside.addr, "backend_addr_group_id": 9}]
    for path, body in ((f"/api/proxy/fillslots/{x}", bad_slot), (f"/api/proxy/shutdown/{x}", None),
                       (f"/api/proxy/loglevel/{x}/debug", None), (f"/api/proxy/start/{x}", None),
                       (f"/api/proxy/sentinels/{x}", {"servers": [outside.addr]})):
        r = anon("PUT", proxy.admin_url + path, body)
        assert r.status == 401, (path, r)
    assert proxy.alive()
    assert proxy.get("/proxy/slots").json() == before
    with outside.conn() as c:
        assert c.call("DBSIZE") == 0


def test_dashboard_pushes_with_the_secret(cluster):
    """Slot operations reach the proxy, which now refuses anonymous pushes."""
    d, proxy = cluster.dash, cluster.proxy
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 1000, "group_id": 1}])
    assert proxy.get("/proxy/slots").json()[1000]["backend_addr"] == cluster.servers[0].addr
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": 1000, "group_id": 2}])
    assert proxy.get("/proxy/slots").json()[1000]["backend_addr"] == cluster.servers[1].addr


def test_every_change_is_logged_with_who_and_from_where(cluster):
    d = cluster.dash
    d.ok("PUT", "/api/topom/slots/action/interval/{x}/0")
    anon("PUT", d.url + "/api/topom/slots/action/interval/x/5")
    log = d.log()
    assert "PUT /api/topom/slots/action/interval/:xauth/0 by admin from 127.0.0.1:" in log, log[-2000:]
    assert "PUT /api/topom/slots/action/interval/:xauth/5 from 127.0.0.1:" in log and "refused" in log
    assert TEST_ADMIN_AUTH not in log and PRODUCT_AUTH not in log


# ---------------------------------------------------------------- start-up

def run_until_listening(args, log, port, timeout=15):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        # /health answers 503 while a proxy is not online (no dashboard here): listening is enough.
        wait_until(lambda: p.poll() is None and anon("GET", f"http://127.0.0.1:{port}/health").status in (200, 503),
                   timeout, what=f"{args[0]} on {port}")
    except Exception:
        p.kill()
        raise
    return p


def test_a_daemon_without_a_secret_generates_one(tmp_path):
    """No unauthenticated mode: an empty admin_auth means a generated secret in
    admin_auth_file (0600), logged by path, never by value."""
    port = free_port()
    conf = tmp_path / "proxy.toml"
    conf.write_text(f'product_name = "gen"\nproxy_addr = "127.0.0.1:{free_port()}"\n'
                    f'admin_addr = "127.0.0.1:{port}"\n')
    log = tmp_path / "proxy.log"
    p = run_until_listening([str(proxy_binary()), "--config", str(conf), "--log", str(log)], log, port)
    try:
        secret_file = tmp_path / "admin_auth"
        assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
        secret = secret_file.read_text().strip()
        assert len(secret) >= 40
        text = log.read_text()
        assert str(secret_file) in text and secret not in text
        assert anon("GET", f"http://127.0.0.1:{port}/proxy/model").status == 401
        assert http("GET", f"http://127.0.0.1:{port}/proxy/model", auth=secret).status == 200
    finally:
        p.terminate()
        p.wait(10)
    # A secret file others can read is refused at start, with a clear error.
    os.chmod(secret_file, 0o644)
    r = subprocess.run([str(proxy_binary()), "--config", str(conf)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "chmod 600" in r.stderr, r


# ---------------------------------------------------------------- Codis compatibility

def test_compat_xauth_mode(tmp_path, zookeeper):
    """admin_compat_xauth = true: Codis's tools work (xauth in the path, open
    reads), the secret still works, a wrong xauth is Codis's 800, and the log
    warns."""
    product = "codis-sec-compat"
    srv = codis_server(tmp_path).start()
    dash = Dashboard(tmp_path, product, zookeeper.addr, extra_config="admin_compat_xauth = true\n").start()
    proxy = Proxy(tmp_path, None, {"product_name": product, "admin_compat_xauth": True}).start()
    try:
        x = topom_xauth(product)
        assert anon("GET", dash.url + "/topom").status == 200
        assert anon("PUT", dash.url + f"/api/topom/group/create/{x}/1").status == 200
        assert anon("PUT", dash.url + f"/api/topom/group/add/{x}/1/{srv.addr}").status == 200
        bad = anon("PUT", dash.url + "/api/topom/group/create/" + "0" * 32 + "/2")
        assert bad.status == 800 and "invalid xauth" in bad.json()["Cause"]
        assert anon("GET", dash.url + f"/api/topom/group/info/{srv.addr}").status == 200
        # Our dashboard drives our proxy (it sends the secret and the xauth).
        assert anon("PUT", dash.url + f"/api/topom/proxy/create/{x}/127.0.0.1:{proxy.admin_port}").status == 200
        assert anon("PUT", dash.url + f"/api/topom/slots/assign/{x}",
                    [{"id": i, "group_id": 1} for i in range(1024)]).status == 200
        assert proxy.get("/proxy/slots").json()[5]["backend_addr"] == srv.addr
        token = anon("GET", proxy.admin_url + "/proxy/model").json()["token"]  # Codis's open read
        px = xauth(product, "", token)
        assert anon("PUT", proxy.admin_url + f"/api/proxy/loglevel/{px}/info").status == 200
        assert anon("PUT", proxy.admin_url + "/api/proxy/loglevel/" + "0" * 32 + "/info").status == 800
        assert "admin_compat_xauth = true" in dash.log()
        assert "admin_compat_xauth = true" in proxy.tail(20000)
    finally:
        dash.stop()
        proxy.stop()
        srv.stop()
