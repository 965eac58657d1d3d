"""Throw-away TLS material for tests, made with the openssl CLI.

CertAuthority(dir, name) makes a private CA; .issue(name, ips=..., dns=...,
client=...) makes a key and a certificate signed by it (a server certificate
with IP/DNS SANs, or a client certificate). Files are PEM, keys unencrypted.
Also used by bench/proxy_bench.py and the quickstart's checks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

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
