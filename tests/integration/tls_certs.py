"""TLS for tests: throw-away certificates made with the openssl CLI, a raw
RESP client over TLS, and a redis-server listening on TLS only.

CertAuthority(dir, name) makes a private CA; .issue(name, ips=..., dns=...,
client=...) makes a key and a certificate signed by it (a server certificate
with IP/DNS SANs, or a client certificate). Files are PEM, keys unencrypted.
CertAuthority is also used by bench/proxy_bench.py.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import harness
from harness import RedisServer, encode, parse_reply, wait_until

OPENSSL = "openssl"


def _run(*args):
    subprocess.run([OPENSSL, *map(str, args)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Cert:
    def __init__(self, cert: Path, key: Path, serial: int):
        self.cert, self.key, self.serial = cert, key, serial


class CertAuthority:
    def __init__(self, directory: Path, name: str = "codis-test-ca"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.cert = self.dir / f"{name}.crt"
        self.key = self.dir / f"{name}.key"
        self._serial = 0x1000
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, name: str, ips=("127.0.0.1",), dns=(), client: bool = False,
              out_dir: Path | None = None) -> Cert:
        out = Path(out_dir or self.dir)
        out.mkdir(parents=True, exist_ok=True)
        self._serial += 1
        key, csr, crt = out / f"{name}.key", out / f"{name}.csr", out / f"{name}.crt"
        ext = out / f"{name}.ext"
        sans = [f"IP:{i}" for i in ips] + [f"DNS:{d}" for d in dns]
        lines = ["basicConstraints=CA:FALSE",
                 "extendedKeyUsage=" + ("clientAuth" if client else "serverAuth,clientAuth")]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        _run("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
             "-set_serial", self._serial, "-days", "2", "-out", crt, "-extfile", ext)
        key.chmod(0o600)
        return Cert(crt, key, self._serial)


class TlsResp:
    """A raw RESP client over TLS (Python's ssl): exact pipelines, parsed replies."""

    def __init__(self, port: int, ca: Path, cert=None, server_hostname: str = "127.0.0.1",
                 timeout: float = 10.0):
        ctx = ssl.create_default_context(cafile=str(ca))
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
        except Exception:
            raw.close()
            raise
        self.buf = b""

    def peer_serial(self) -> int:
        return int(self.sock.getpeercert()["serialNumber"], 16)

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_reply(self):
        while True:
            if self.buf:
                try:
                    value, pos = parse_reply(self.buf, 0)
                except IndexError:
                    value, pos = None, -1
                if pos > 0:
                    self.buf = self.buf[pos:]
                    return value
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise harness.ConnClosed("closed")
            self.buf += chunk

    def call(self, *args):
        self.send_raw(encode(*args))
        return self.read_reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TlsRedis(RedisServer):
    """A redis-server listening on TLS only (--port 0)."""

    def __init__(self, workdir, cert, ca: Path, auth_clients: str = "no", hostname: str = "127.0.0.1",
                 extra=()):
        super().__init__(workdir, extra=extra)
        self.cert, self.ca, self.auth_clients, self.hostname = cert, ca, auth_clients, hostname

    def start(self, wait: float = 10.0):
        args = [harness.REDIS_SERVER, "--port", "0", "--tls-port", self.port, "--bind", "127.0.0.1",
                "--tls-cert-file", self.cert.cert, "--tls-key-file", self.cert.key,
                "--tls-ca-cert-file", self.ca, "--tls-auth-clients", self.auth_clients,
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.dir,
                "--logfile", self.logfile, "--protected-mode", "no", *self.extra]
        self.proc = harness.spawn(list(map(str, args)), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = self.cert if self.auth_clients == "yes" else None

        def up():
            self._check_alive()
            try:
                with TlsResp(self.port, self.ca, cert=client, server_hostname=self.hostname, timeout=1) as c:
                    return c.call("PING") == "PONG"
            except (OSError, ssl.SSLError, harness.ConnClosed):
                return False

        wait_until(up, wait, what=f"TLS redis-server on {self.port}")
        return self

    def tls_call(self, *args):
        with TlsResp(self.port, self.ca, cert=self.cert if self.auth_clients == "yes" else None) as c:
            return c.call(*args)
