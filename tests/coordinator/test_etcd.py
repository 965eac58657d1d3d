"""The etcd coordinator against real etcd servers, what only etcd has: the
keys as etcd holds them, a lease that expires under a live client, endpoints
failing over, etcd's authentication (and its token expiring) and TLS. The
cases shared by every store are in test_coordinators.py."""

import ssl
import sys
import time
from pathlib import Path

from coordinator_shell import run_cli
from etcd_harness import b64
from test_coordinators import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from tls_certs import CertAuthority  # noqa: E402


def test_keys_and_values_as_etcd_holds_them(etcd, shells):
    c = shells("etcd", etcd.addr)
    body = '{\n    "id": 1\n}'
    c.create("/codis3/lay/slots/slot-0001", body)
    assert etcd.get("/codis3/lay/slots/slot-0001") == body  # the key is the path, the value byte for byte
    assert etcd.get("/codis3/lay") == ""  # parents are keys too, as ZooKeeper's nodes
    assert etcd.lease_of("/codis3/lay/slots/slot-0001") == "0"

    c.ephemeral("/jodis/lay/proxy-1", "p1")
    lease = etcd.lease_of("/jodis/lay/proxy-1")
    assert lease not in (None, "0")
    c.update("/jodis/lay/proxy-1", "p1'")  # an ephemeral node stays bound to its lease
    assert etcd.lease_of("/jodis/lay/proxy-1") == lease and etcd.get("/jodis/lay/proxy-1") == "p1'"
    reply = c.raw("create /jodis/lay/proxy-1/child x")
    assert reply.startswith("ERR") and "ephemeral" in reply, reply
    assert c.list("/jodis/lay") == ["proxy-1"]

    # Keys written without their parents (another tool): still listed as children.
    etcd.api("kv/put", {"key": b64("/codis3/bare/a/b"), "value": ""})
    assert c.list("/codis3/bare") == ["a"]
    assert c.read("/codis3/bare") is None


def test_lease_lost_under_a_live_client(etcd, shells):
    """The lease expires (revoked here, as etcd does when keep-alives stop
    for a TTL): a new lease, the ephemeral node back, watches told."""
    c = shells("etcd", etcd.addr, timeout_ms=4000)
    watcher = shells("etcd", etcd.addr)
    c.ephemeral("/jodis/lost/proxy-1", "p1")
    wc = watcher.watch_children("/jodis/lost")
    old = etcd.lease_of("/jodis/lost/proxy-1")
    watcher.drain_events()

    assert "error" not in etcd.revoke(old)
    wait_until(lambda: etcd.lease_of("/jodis/lost/proxy-1") not in (None, old), timeout=10,
               what="ephemeral node re-created on a new lease")
    assert etcd.get("/jodis/lost/proxy-1") == "p1"
    assert "granting a new one" in c.stderr() and "re-created" in c.stderr()
    watcher.wait_event(wc)
    # Kept alive: still there after more than the TTL.
    time.sleep(5)
    assert etcd.get("/jodis/lost/proxy-1") == "p1"


def test_endpoints_fail_over(etcd, shells):
    dead = "127.0.0.1:1"
    c = shells("etcd", f"{dead}, http://{etcd.addr}")
    c.create("/codis3/failover/topom", "t")
    assert c.read("/codis3/failover/topom") == "t"
    assert "now using endpoint " + etcd.addr in c.stderr()


def test_unreachable_etcd_fails_fast():
    t0 = time.monotonic()
    r = run_cli("etcd", "127.0.0.1:1,127.0.0.1:2", "read", "/x", extra=("--timeout", "1500"), timeout=20)
    assert r.returncode == 1
    assert "no endpoint answered within 1500 ms" in r.stderr and "127.0.0.1:1" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 10


def test_authentication_and_token_refresh(etcd_factory, shells):
    etcd = etcd_factory(extra_args=("--auth-token-ttl", "2"))
    etcd.enable_auth("codis", "s3cret-pw")
    c = shells("etcd", etcd.addr, auth="codis:s3cret-pw", timeout_ms=2000)  # lease TTL 2 s
    c.create("/codis3/auth/topom", "t")
    c.ephemeral("/jodis/auth/proxy-1", "p")
    assert c.read("/codis3/auth/topom") == "t"
    wd = c.watch_data("/codis3/auth/topom")  # the watch stream carries the token too

    # Tokens expire (2 s here): the client gets a new one and goes on.
    time.sleep(4)
    assert c.read("/codis3/auth/topom") == "t"
    assert "authenticating again" in c.stderr()
    c.drain_events()
    c.update("/codis3/auth/topom", "t2")
    c.wait_event(wd)
    assert etcd.get("/jodis/auth/proxy-1") == "p"  # the lease (2 s) was kept alive throughout
    assert "expired (or was revoked)" not in c.stderr()

    r = run_cli("etcd", etcd.addr, "read", "/codis3/auth/topom", extra=("--auth", "codis:wrong-pw"))
    assert r.returncode == 1 and "authentication as user 'codis' failed" in r.stderr, r.stderr
    assert "wrong-pw" not in r.stderr and "s3cret" not in c.stderr()  # the password is never logged
    r = run_cli("etcd", etcd.addr, "read", "/codis3/auth/topom")
    assert r.returncode == 1 and "/codis3/auth/topom" in r.stderr, r.stderr  # no credentials: refused


def test_tls_with_client_certificates(tmp_path, etcd_factory, shells):
    ca = CertAuthority(tmp_path / "ca")
    server = ca.issue("etcd", ips=("127.0.0.1",))
    client = ca.issue("client", ips=(), client=True)
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    etcd = etcd_factory(scheme="https", ssl_context=ctx, extra_args=(
        "--cert-file", str(server.cert), "--key-file", str(server.key),
        "--client-cert-auth", "--trusted-ca-file", str(ca.cert)))
    tls = ("--tls-ca", str(ca.cert), "--tls-cert", str(client.cert), "--tls-key", str(client.key))
    c = shells("etcd", f"https://{etcd.addr}", extra=tls)
    wc = c.watch_children("/codis3/tls")  # the watch stream over TLS
    c.create("/codis3/tls/topom", "t")
    assert etcd.get("/codis3/tls/topom") == "t"
    c.wait_event(wc)

    r = run_cli("etcd", etcd.addr, "read", "/codis3/tls/topom", extra=tls[:2] + ("--timeout", "1500"))
    assert r.returncode == 1, r.stderr  # no client certificate: etcd refuses the handshake
    r = run_cli("etcd", f"https://{etcd.addr}", "read", "/x")
    assert r.returncode == 1 and "coordinator_tls_ca_file" in r.stderr, r.stderr
