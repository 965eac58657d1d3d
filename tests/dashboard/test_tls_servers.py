"""The dashboard with backend_tls: groups of redis-servers that listen on TLS
only (--port 0). It adds them (checking the codis_slots module over TLS),
reads their INFO, and a dashboard without backend_tls cannot reach them."""

from dashboard_harness import Dashboard, module_path
from harness import wait_until
from tls_certs import CertAuthority, TlsRedis

PRODUCT = "codis-tls-dash"


def test_dashboard_manages_tls_only_servers(tmp_path):
    ca = CertAuthority(tmp_path / "ca")
    server_cert = ca.issue("redis", ips=("127.0.0.1",))
    client = ca.issue("dashboard", ips=(), client=True)
    s1 = TlsRedis(tmp_path, server_cert, ca.cert, auth_clients="yes",
                  extra=["--loadmodule", str(module_path())]).start()
    d = plain = None
    try:
        tls = (f'backend_tls = true\nbackend_tls_ca_file = "{ca.cert}"\n'
               f'backend_tls_cert_file = "{client.cert}"\nbackend_tls_key_file = "{client.key}"\n')
        d = Dashboard(tmp_path, PRODUCT, str(tmp_path / "coord"), coordinator_name="filesystem",
                      extra_config=tls).start()
        d.ok("PUT", "/api/topom/group/create/{x}/1")
        d.ok("PUT", f"/api/topom/group/add/{{x}}/1/{s1.addr}")
        info = d.ok("GET", f"/api/topom/group/info/{s1.addr}")
        assert info.get("tcp_port") == str(s1.port) and info.get("redis_version"), info
        # The stats poller reaches it too: the group's server shows its INFO.
        def polled():
            stats = d.ok("GET", "/api/topom/stats/{x}")
            return (stats.get("group", {}).get("stats", {}).get(s1.addr, {}) or {}).get("stats")
        wait_until(polled, 15, what="the stats poller's INFO over TLS")
        # Slots assigned to the TLS group, then served by a TLS-backend proxy is
        # covered in tests/integration/test_tls.py; here: the dashboard side only.
        d.stop()
        d = None
        # A dashboard without backend_tls cannot add such a server: a clear error.
        plain = Dashboard(tmp_path, PRODUCT + "-plain", str(tmp_path / "coord2"),
                          coordinator_name="filesystem").start()
        plain.ok("PUT", "/api/topom/group/create/{x}/1")
        cause = plain.err("PUT", f"/api/topom/group/add/{{x}}/1/{s1.addr}")
        assert s1.addr in cause, cause
    finally:
        for x in (d, plain):
            if x is not None:
                x.stop()
        s1.stop()
