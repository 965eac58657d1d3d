"""The admin ports under attack and over TLS, against a real codis-dashboard
(filesystem coordinator) and real codis-proxy processes:

- a flood of 1,000 idle and 1,000 slow connections on the dashboard's port and
  on a proxy's admin port does not lock the operator out: an authenticated API
  call and a slot assignment (the dashboard's fillslots push to the proxy)
  still succeed at once, and the slow connections are closed after the
  request arrival timeout (10 s);
- HTTPS on both admin ports (admin_tls_cert_file/key_file) with a private CA
  (admin_tls_ca_file): the dashboard pushes slots to the proxy over HTTPS, a
  proxy hands itself to the dashboard over HTTPS, plain HTTP to an HTTPS port
  fails cleanly, clients without the CA or with another CA are refused, and
  codis-admin --tls-ca works."""

import resource
import selectors
import socket
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from dashboard_harness import Dashboard, codis_server
from harness import TEST_ADMIN_AUTH, Proxy, build_dir, http, key_in_slot, wait_until

PRODUCT = "codis-admin-sec"
ARRIVAL_TIMEOUT = 10  # http::Server::Limits::request_timeout


# ---------------------------------------------------------------------------
# helpers

def raise_fd_limit(need: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < need:
        pytest.skip(f"the open files limit ({soft}) is too low for the flood ({need})")


def flood(port: int, idle: int, slow: int):
    """`idle` connections that send nothing and `slow` ones that sent half a
    request line or half their headers and stall."""
    idle_socks, slow_socks = [], []
    for _ in range(idle):
        idle_socks.append(socket.create_connection(("127.0.0.1", port)))
    for i in range(slow):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /topom HTTP/1.1\r\nHost: a\r\nAuthoriz" if i % 2 else b"PUT /api/to")
        slow_socks.append(s)
    return idle_socks, slow_socks


def closed_by_server(socks, timeout: float) -> int:
    """How many of `socks` the server closed (EOF or reset) within `timeout`."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + timeout
    while closed < len(socks):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            try:
                data = key.fileobj.recv(4096)
            except (ConnectionResetError, BlockingIOError) as e:
                if isinstance(e, BlockingIOError):
                    continue
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                closed += 1
    sel.close()
    return closed


def close_all(*lists):
    for socks in lists:
        for s in socks:
            s.close()


class Pki:
    """A throwaway CA, a server certificate for 127.0.0.1 signed by it, and an
    unrelated second CA, made with the openssl command line."""

    def __init__(self, d):
        self.dir = d
        (d / "openssl.cnf").write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = codis test\n"
            "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
            "[server]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
            "subjectAltName = IP:127.0.0.1\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        run("req", "-x509", "-config", "openssl.cnf", "-extensions", "ca", *ec, "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=codis-test-ca")
        run("req", "-x509", "-config", "openssl.cnf", "-extensions", "ca", *ec, "-keyout", "other.key",
            "-out", "other.pem", "-days", "2", "-subj", "/CN=other-ca")
        run("req", "-new", "-config", "openssl.cnf", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=codis-admin")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "openssl.cnf", "-extensions", "server", "-out", "server.pem")
        self.ca, self.other_ca = d / "ca.pem", d / "other.pem"
        self.cert, self.key = d / "server.pem", d / "server.key"

    def tls_config(self) -> dict:
        return {"admin_tls_cert_file": str(self.cert), "admin_tls_key_file": str(self.key),
                "admin_tls_ca_file": str(self.ca)}


def https(method, url, body=None, cafile=None, auth=TEST_ADMIN_AUTH, timeout=10):
    """One HTTPS request verified against `cafile` (None: the system's CAs)."""
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def codis_admin(*args, timeout=30):
    binary = build_dir() / "dashboard" / "admin" / "codis-admin"
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------
# floods

def test_admin_ports_survive_a_flood_of_idle_and_slow_connections(tmp_path):
    raise_fd_limit(4 * 2000 + 512)
    server = codis_server(tmp_path).start()
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT}).start()
    dash = Dashboard(tmp_path, PRODUCT, str(tmp_path / "coord"), coordinator_name="filesystem").start()
    socks = []
    try:
        dash.ok("PUT", "/api/topom/group/create/{x}/1")
        dash.ok("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        dash.ok("PUT", f"/api/topom/proxy/create/{{x}}/127.0.0.1:{proxy.admin_port}")

        socks += flood(dash.port, 1000, 1000)
        socks += flood(proxy.admin_port, 1000, 1000)
        flooded = time.monotonic()

        # The operator gets in, at once, on both ports.
        start = time.monotonic()
        stats = dash.ok("GET", "/api/topom/stats/{x}")
        assert stats["group"]["models"][0]["id"] == 1
        assert http("GET", dash.url + "/topom", auth=None).status == 401  # still only with the bearer
        assert dash.get("/topom").status == 200
        assert proxy.get("/proxy/model").status == 200
        took = time.monotonic() - start
        assert took < 2, f"the API calls took {took:.1f}s under the flood"
        # A slot assignment, which the dashboard pushes to the proxy (fillslots).
        # (Its time is the coordinator's: ~5 ms a slot on the filesystem.)
        dash.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(16)])
        r = proxy.get("/proxy/slots")
        assert r.status == 200 and r.json()[15]["backend_addr"] == server.addr
        with proxy.conn() as c:
            assert c.call("SET", key_in_slot(7), "ok") == "OK"

        # The slow ones are closed once the arrival timeout has passed.
        slow = socks[1] + socks[3]
        closed = closed_by_server(slow, ARRIVAL_TIMEOUT + 5 - (time.monotonic() - flooded))
        assert closed == len(slow)
        assert time.monotonic() - flooded >= ARRIVAL_TIMEOUT - 1
        # The idle ones wait for their idle timeout (60 s): still open.
        assert closed_by_server(socks[0] + socks[2], 0.2) == 0
        assert dash.ok("GET", "/api/topom/xping/{x}") == "OK"
    finally:
        close_all(*socks)
        dash.stop()
        proxy.stop()
        server.stop()


# ---------------------------------------------------------------------------
# HTTPS

def test_https_admin_plane_with_a_private_ca(tmp_path):
    pki = Pki(tmp_path)
    root = tmp_path / "coord"
    # codis-admin sends no bearer yet: Codis's xauth must be accepted for its part.
    compat = {"admin_compat_xauth": True}
    server = codis_server(tmp_path).start()
    proxy = Proxy(tmp_path, None, {"product_name": PRODUCT, **pki.tls_config(), **compat}).start()
    extra = "".join(f'{k} = "{v}"\n' for k, v in pki.tls_config().items()) + "admin_compat_xauth = true\n"
    dash = Dashboard(tmp_path, PRODUCT, str(root), coordinator_name="filesystem", extra_config=extra)
    dash.start(wait_active=False)
    base = f"https://127.0.0.1:{dash.port}"
    proxy_base = f"https://127.0.0.1:{proxy.admin_port}"
    second = None

    def dash_up():
        if not dash.alive():
            raise RuntimeError(f"codis-dashboard exited: {dash.tail()}")
        try:
            return https("GET", base + "/api/topom/model", cafile=pki.ca, timeout=1)[0] == 200
        except OSError:
            return False

    def call(method, path, body=None):
        status, data = https(method, base + path.replace("{x}", dash.xauth), body, cafile=pki.ca)
        assert status == 200, (status, data)
        return json.loads(data)

    try:
        wait_until(dash_up, 20, what="codis-dashboard over HTTPS")
        assert "HTTPS" in dash.log()
        call("PUT", "/api/topom/group/create/{x}/1")
        call("PUT", f"/api/topom/group/add/{{x}}/1/{server.addr}")
        # The dashboard reads the proxy's model and takes it over over HTTPS...
        call("PUT", f"/api/topom/proxy/create/{{x}}/127.0.0.1:{proxy.admin_port}")
        # ...and pushes the slots to it over HTTPS.
        call("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1} for i in range(1024)])
        status, data = https("GET", proxy_base + "/proxy/slots", cafile=pki.ca)
        assert status == 200 and b'"backend_addr":"' + server.addr.encode() in data.replace(b" ", b"")
        with proxy.conn() as c:
            assert c.call("SET", "tls", "ok") == "OK"

        # Plain HTTP to the HTTPS ports fails cleanly, and they go on serving.
        for port in (dash.port, proxy.admin_port):
            with pytest.raises(OSError):
                http("GET", f"http://127.0.0.1:{port}/api/topom/model", timeout=5)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /topom HTTP/1.1\r\nHost: a\r\n\r\n")
                got = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                assert b"200" not in got and b"product" not in got
        # Clients without our CA, or with another CA, are refused.
        for cafile in (None, pki.other_ca):
            with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
                https("GET", base + "/api/topom/model", cafile=cafile)
            with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
                https("GET", proxy_base + "/proxy/model", cafile=cafile)
        assert call("GET", "/api/topom/xping/{x}") == "OK"

        # codis-admin --tls-ca, against both daemons.
        r = codis_admin(f"--dashboard=127.0.0.1:{dash.port}", "--tls-ca", pki.ca, "--list-group")
        assert r.returncode == 0, r.stderr
        assert server.addr in r.stdout
        r = codis_admin(f"--proxy=127.0.0.1:{proxy.admin_port}", f"--tls-ca={pki.ca}", "--slots")
        assert r.returncode == 0, r.stderr
        assert server.addr in r.stdout
        r = codis_admin(f"--dashboard=127.0.0.1:{dash.port}", "--tls-ca", pki.other_ca, "--list-group")
        assert r.returncode == 1
        assert "TLS handshake" in r.stderr and "unable to get local issuer certificate" in r.stderr
        r = codis_admin(f"--dashboard=127.0.0.1:{dash.port}", "--list-group", "--timeout=5")
        assert r.returncode == 1 and "if it serves HTTPS, give its CA" in r.stderr, r.stderr
        r = codis_admin(f"--dashboard=127.0.0.1:{dash.port}", "--tls-ca", tmp_path / "nope.pem", "--list-group")
        assert r.returncode == 1 and "nope.pem" in r.stderr

        # A proxy starting from the coordinator hands itself to the dashboard
        # (proxy/create) over HTTPS, verified against its admin_tls_ca_file.
        second = Proxy(tmp_path, None, {"product_name": PRODUCT, **pki.tls_config(), **compat},
                       extra_args=["--filesystem", str(root)]).start()
        wait_until(lambda: "took over this proxy" in second.tail() or "proxy/create" in second.tail(),
                   15, what="the second proxy's proxy/create call")
        assert "took over this proxy" in second.tail(), second.tail()
        models = call("GET", "/api/topom/stats/{x}")["proxy"]["models"]
        assert f"127.0.0.1:{second.admin_port}" in [p["admin_addr"] for p in models]
    finally:
        if second:
            second.stop()
        dash.stop()
        proxy.stop()
        server.stop()


def test_bad_tls_files_are_start_up_errors(tmp_path):
    pki = Pki(tmp_path)
    bad = {"admin_tls_cert_file": str(tmp_path / "missing.pem"), "admin_tls_key_file": str(pki.key)}
    dash = Dashboard(tmp_path, PRODUCT, str(tmp_path / "coord"), coordinator_name="filesystem",
                     extra_config="".join(f'{k} = "{v}"\n' for k, v in bad.items()))
    dash.start(wait_active=False)
    try:
        rc = dash.proc.wait(timeout=20)
        assert rc != 0
        assert "missing.pem" in dash.tail() and "admin_tls_cert_file" in dash.tail()
    finally:
        dash.stop()

    def proxy_fails(config, extra_args=()):
        p = Proxy(tmp_path, None, {"product_name": PRODUCT, **config}, extra_args=extra_args)
        p.write_files()
        r = subprocess.run([str(p.binary), "--config", str(p.config_file), *extra_args],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        return r.stderr

    err = proxy_fails({"admin_tls_cert_file": str(pki.cert), "admin_tls_key_file": str(pki.cert)})
    assert "admin_tls_key_file" in err and "server.pem" in err, err
    err = proxy_fails({"admin_tls_ca_file": str(tmp_path / "noca.pem")}, ["--filesystem", str(tmp_path / "coord")])
    assert "noca.pem" in err and "admin_tls_ca_file" in err, err
