"""TLS on the data plane: clients to the proxy's TLS port (proxy_tls_*), the
proxy to TLS-only redis-servers (backend_tls_*), certificate reload.

Real processes: redis-server with --tls-port, codis-proxy, redis-cli --tls,
python3-redis with ssl=True, and Python's ssl module for raw pipelining and
for looking at the certificate a connection got.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

import harness
from harness import REDIS_CLI, Proxy, RedisServer, encode, free_port, keys_in_slots, two_group_slots, wait_until
from tls_certs import CertAuthority, TlsRedis, TlsResp

pytestmark = pytest.mark.real_proxy


# ---------------------------------------------------------------- helpers

def cli(port: int, ca: Path, *args, stdin: bytes | None = None, extra=()) -> subprocess.CompletedProcess:
    return subprocess.run([REDIS_CLI, "--tls", "--cacert", str(ca), "-h", "127.0.0.1", "-p", str(port), *extra,
                           *map(str, args)], input=stdin, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = CertAuthority(d / "ca")
    other = CertAuthority(d / "other-ca", "other-ca")
    return {
        "dir": d,
        "ca": ca,
        "other": other,
        "proxy": ca.issue("proxy", ips=("127.0.0.1",), dns=("localhost",)),
        "redis": ca.issue("redis", ips=("127.0.0.1",)),
        "redis_named": ca.issue("redis-named", ips=(), dns=("redis.internal",)),
        "client": ca.issue("client", ips=(), client=True),
        "stranger": other.issue("stranger", ips=(), client=True),
    }


def tls_config(pki, **extra) -> dict:
    port = free_port()
    cfg = {"proxy_tls_addr": f"127.0.0.1:{port}",
           "proxy_tls_cert_file": str(pki["proxy"].cert),
           "proxy_tls_key_file": str(pki["proxy"].key)}
    cfg.update(extra)
    return cfg


def tls_port(p: Proxy) -> int:
    return int(p.config["proxy_tls_addr"].rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def tls_cluster(pki, tmp_path_factory):
    work = tmp_path_factory.mktemp("tls-cluster")
    g1 = RedisServer(work).start()
    g2 = RedisServer(work).start()
    proxy = Proxy(work, two_group_slots(g1.addr, g2.addr), tls_config(pki))
    try:
        proxy.start()
        wait_until(lambda: harness.port_is_free(tls_port(proxy)) is False, 10, what="TLS port")
        yield {"g1": g1, "g2": g2, "proxy": proxy, "port": tls_port(proxy), "ca": pki["ca"].cert}
    finally:
        proxy.stop()
        g1.stop()
        g2.stop()


# ---------------------------------------------------------------- clients to the proxy

def test_redis_cli_tls_set_get_and_big_value(tls_cluster):
    port, ca = tls_cluster["port"], tls_cluster["ca"]
    r = cli(port, ca, "SET", "tls:k", "v1")
    assert r.returncode == 0 and r.stdout.strip() == b"OK", r
    r = cli(port, ca, "GET", "tls:k")
    assert r.stdout.strip() == b"v1", r
    big = os.urandom(100 * 1024).hex().encode()  # 200 KB: many TLS records, partial writes
    r = cli(port, ca, "-x", "SET", "tls:big", stdin=big)
    assert r.stdout.strip() == b"OK", r
    r = cli(port, ca, "STRLEN", "tls:big")
    assert r.stdout.strip() == str(len(big)).encode(), r
    with TlsResp(port, ca) as c:
        assert c.call("GET", "tls:big") == big
    # The same key through the plain port, served next to the TLS one.
    with tls_cluster["proxy"].conn() as c:
        assert c.call("GET", "tls:big") == big


def test_pipeline_of_1000_and_mget_across_groups(tls_cluster):
    port, ca = tls_cluster["port"], tls_cluster["ca"]
    keys = keys_in_slots(0, 1023, 1000, prefix="tlsp")
    with TlsResp(port, ca) as c:
        c.send_raw(b"".join(encode("SET", k, f"val-{k}") for k in keys))
        for _ in keys:
            assert c.read_reply() == "OK"
        # 1000 GETs in one write, replies in order.
        c.send_raw(b"".join(encode("GET", k) for k in keys))
        for k in keys:
            assert c.read_reply() == f"val-{k}".encode()
        lo = [k for k in keys if harness.slot_of(k) < 512][:3]
        hi = [k for k in keys if harness.slot_of(k) >= 512][:3]
        assert lo and hi
        assert c.call("MGET", *(lo + hi)) == [f"val-{k}".encode() for k in lo + hi]
    # The keys really went to both groups.
    assert tls_cluster["g1"].client().get(lo[0]) == f"val-{lo[0]}".encode()
    assert tls_cluster["g2"].client().get(hi[0]) == f"val-{hi[0]}".encode()


def test_python_redis_ssl_and_pubsub(tls_cluster):
    import redis
    port, ca = tls_cluster["port"], str(tls_cluster["ca"])
    r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=ca, socket_timeout=10)
    assert r.set("tls:py", "x") is True
    assert r.get("tls:py") == b"x"
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.incr("tls:ctr")
    assert pipe.execute()[-1] == 200
    sub = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=ca, socket_timeout=10).pubsub()
    sub.subscribe("tls:chan")
    msg = sub.get_message(timeout=5)
    assert msg and msg["type"] == "subscribe"

    def got():
        r.publish("tls:chan", "hello")
        m = sub.get_message(timeout=0.5)
        return m if m and m["type"] == "message" else None

    m = wait_until(got, 10, what="message over TLS")
    assert m["data"] == b"hello"
    sub.close()
    r.close()


def test_bad_clients_fail_cleanly_and_others_are_served(tls_cluster, pki):
    port, ca = tls_cluster["port"], tls_cluster["ca"]
    with TlsResp(port, ca) as good:
        assert good.call("SET", "tls:alive", "1") == "OK"
        # A client that trusts another CA refuses the proxy's certificate.
        with pytest.raises(ssl.SSLCertVerificationError):
            TlsResp(port, pki["other"].cert)
        # A client expecting another name refuses it too.
        with pytest.raises(ssl.SSLCertVerificationError):
            TlsResp(port, ca, server_hostname="redis.example.com")
        # redis-cli without the CA fails and says why.
        r = subprocess.run([REDIS_CLI, "--tls", "-h", "127.0.0.1", "-p", str(port), "PING"],
                           capture_output=True, timeout=30)
        assert b"PONG" not in r.stdout
        # Plain RESP on the TLS port: the proxy drops the connection, no reply in clear.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(encode("PING"))
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            assert b"PONG" not in data
        # A half handshake (a ClientHello cut short), then EOF.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert good.call("GET", "tls:alive") == b"1"
    with TlsResp(port, ca) as again:
        assert again.call("PING") == "PONG"
    assert tls_cluster["proxy"].alive()


def test_client_certificates_required(pki, make_redis, make_proxy):
    g = make_redis()
    p = make_proxy(harness.slot_table({1: (g.addr, [(0, 1023)])}),
                   tls_config(pki, proxy_tls_ca_file=str(pki["ca"].cert)))
    port, ca = tls_port(p), pki["ca"].cert
    with TlsResp(port, ca, cert=pki["client"]) as c:
        assert c.call("SET", "mtls", "1") == "OK"
    # No certificate: refused (TLS 1.3 reports it at the first read).
    with pytest.raises((ssl.SSLError, harness.ConnClosed, ConnectionResetError, BrokenPipeError)):
        with TlsResp(port, ca) as c:
            c.call("PING")
    # A certificate from another CA: refused.
    with pytest.raises((ssl.SSLError, harness.ConnClosed, ConnectionResetError, BrokenPipeError)):
        with TlsResp(port, ca, cert=pki["stranger"]) as c:
            c.call("PING")
    r = cli(port, ca, "GET", "mtls", extra=["--cert", str(pki["client"].cert), "--key", str(pki["client"].key)])
    assert r.stdout.strip() == b"1", r
    with p.conn() as c:  # the plain port asks for nothing
        assert c.call("GET", "mtls") == b"1"


def test_start_up_errors(pki, tmp_path, make_proxy):
    bad = [
        ({"proxy_tls_key_file": str(pki["redis"].key)}, "does not match"),
        ({"proxy_tls_cert_file": str(tmp_path / "missing.crt")}, "missing.crt"),
        ({"proxy_tls_ca_file": str(tmp_path / "missing-ca.crt")}, "missing-ca.crt"),
        ({"proxy_tls_cert_file": ""}, "proxy_tls_cert_file"),
    ]
    for override, needle in bad:
        p = make_proxy(None, tls_config(pki, **override), start=False)
        p.write_files()
        r = subprocess.run([str(p.binary), "--config", str(p.config_file)], capture_output=True, timeout=30)
        assert r.returncode != 0, (override, r)
        assert needle in (r.stdout + r.stderr).decode(), (override, r)


# ---------------------------------------------------------------- certificate reload

def test_certificate_reload(pki, tmp_path, make_redis, make_proxy):
    ca = pki["ca"]
    first = ca.issue("proxy-first", dns=("localhost",), out_dir=tmp_path / "first")
    second = ca.issue("proxy-second", dns=("localhost",), out_dir=tmp_path / "second")
    third = ca.issue("proxy-third", dns=("localhost",), out_dir=tmp_path / "third")
    live_cert, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    live_cert.write_bytes(first.cert.read_bytes())
    live_key.write_bytes(first.key.read_bytes())
    g = make_redis()
    p = make_proxy(harness.slot_table({1: (g.addr, [(0, 1023)])}),
                   tls_config(pki, proxy_tls_cert_file=str(live_cert), proxy_tls_key_file=str(live_key)))
    port = tls_port(p)
    old = TlsResp(port, ca.cert)
    assert old.peer_serial() == first.serial
    assert old.call("SET", "reload", "1") == "OK"

    def replace(c):
        # New files renamed into place, as a certificate manager does.
        for src, dst in ((c.cert, live_cert), (c.key, live_key)):
            tmp = dst.with_suffix(".new")
            tmp.write_bytes(src.read_bytes())
            os.replace(tmp, dst)

    replace(second)
    p.proc.send_signal(signal.SIGHUP)

    def serial():
        with TlsResp(port, ca.cert) as c:
            return c.peer_serial()

    wait_until(lambda: serial() == second.serial, 10, what="the new certificate after SIGHUP")
    assert old.call("GET", "reload") == b"1"  # the open connection keeps its session

    # A bad file (a key that does not match): the old certificate stays, the error is logged.
    tmp = live_key.with_suffix(".new")
    tmp.write_bytes(third.key.read_bytes())
    os.replace(tmp, live_key)
    p.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS reload failed" in p.tail(20000), 10, what="the reload error in the log")
    assert serial() == second.serial
    assert p.alive()

    # Fixing the files is noticed without a signal (their modification time changed).
    replace(third)
    wait_until(lambda: serial() == third.serial, 10, what="the new certificate after a file change")
    assert old.call("GET", "reload") == b"1"
    old.close()


# ---------------------------------------------------------------- the proxy to TLS servers

def test_backend_tls_only_servers(pki, tmp_path, make_proxy):
    ca = pki["ca"].cert
    s1 = TlsRedis(tmp_path, pki["redis"], ca).start()
    s2 = TlsRedis(tmp_path, pki["redis"], ca, auth_clients="yes").start()
    try:
        p = make_proxy(two_group_slots(s1.addr, s2.addr),
                       {"backend_tls": True, "backend_tls_ca_file": str(ca),
                        "backend_tls_cert_file": str(pki["client"].cert),
                        "backend_tls_key_file": str(pki["client"].key)})
        keys = keys_in_slots(0, 1023, 300, prefix="btls")
        with p.conn() as c:
            c.send_raw(b"".join(encode("SET", k, f"v-{k}") for k in keys))
            for _ in keys:
                assert c.read_reply() == "OK"
            assert c.call("MGET", *keys) == [f"v-{k}".encode() for k in keys]
            big = b"z" * (300 * 1024)
            assert c.call("SET", "btls:big", big) == "OK"
            assert c.call("GET", "btls:big") == big
        lo = next(k for k in keys if harness.slot_of(k) < 512)
        hi = next(k for k in keys if harness.slot_of(k) >= 512)
        assert s1.tls_call("GET", lo) == f"v-{lo}".encode()
        assert s2.tls_call("GET", hi) == f"v-{hi}".encode()
        # A server restarted: the proxy reconnects, with a new handshake.
        s1.stop()
        s1.start()
        with p.conn() as c:
            wait_until(lambda: c.call("SET", lo, "again") == "OK", 10, what="reconnect over TLS")
            assert c.call("GET", lo) == b"again"
        # Both TLS sides at once: a TLS client through a TLS backend.
        p2 = make_proxy(two_group_slots(s1.addr, s2.addr),
                        tls_config(pki, backend_tls=True, backend_tls_ca_file=str(ca),
                                   backend_tls_cert_file=str(pki["client"].cert),
                                   backend_tls_key_file=str(pki["client"].key)))
        with TlsResp(tls_port(p2), ca) as c:
            assert c.call("GET", hi) == f"v-{hi}".encode()
    finally:
        s1.stop()
        s2.stop()


def test_backend_tls_verifies_the_server(pki, tmp_path, make_proxy):
    ca = pki["ca"].cert
    named = TlsRedis(tmp_path, pki["redis_named"], ca, hostname="redis.internal").start()
    try:
        slots = harness.slot_table({1: (named.addr, [(0, 1023)])})
        # The certificate names redis.internal, not 127.0.0.1: refused.
        p = make_proxy(slots, {"backend_tls": True, "backend_tls_ca_file": str(ca)})
        with p.conn() as c:
            r = c.call("SET", "x", "1")
            assert isinstance(r, harness.Err) and "backend" in r.message, r
        wait_until(lambda: "TLS handshake" in p.tail(20000), 10, what="the handshake error in the log")
        # With the name configured, it is accepted.
        p2 = make_proxy(slots, {"backend_tls": True, "backend_tls_ca_file": str(ca),
                                "backend_tls_server_name": "redis.internal"})
        with p2.conn() as c:
            assert c.call("SET", "x", "1") == "OK"
        # A server certificate from a CA we do not trust: refused.
        p3 = make_proxy(slots, {"backend_tls": True, "backend_tls_ca_file": str(pki["other"].cert),
                                "backend_tls_server_name": "redis.internal"})
        with p3.conn() as c:
            r = c.call("GET", "x")
            assert isinstance(r, harness.Err), r
        # A plain proxy against a TLS-only server gets errors, not garbage.
        p4 = make_proxy(slots)
        with p4.conn() as c:
            r = c.call("GET", "x")
            assert isinstance(r, harness.Err), r
    finally:
        named.stop()
