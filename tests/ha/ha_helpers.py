"""Helpers of the HA suite: configs rendered from the examples in
deploy/configs/ (so the tests exercise the files operators copy), a real
HAProxy process with its runtime API, a ZooKeeper ensemble built from the
zoo.cfg example, and a reconnecting client that records every acknowledged
write."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from harness import REPO_ROOT, ConnClosed, RespConn, kill_proc, spawn, wait_until
from zk_harness import ZooKeeperEnsemble, ZooKeeperServer

CONFIGS = REPO_ROOT / "deploy" / "configs"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


# ---------------------------------------------------------------------------
# configs from the examples
# ---------------------------------------------------------------------------

def render_toml(template: Path, values: dict) -> str:
    """The example with `key = value` lines replaced (values as TOML text)."""
    text = Path(template).read_text()
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", text)
        assert n == 1, f"{template}: key {key} appears {n} times"
    return text


def toml_keys(text: str) -> list:
    """The keys set (not commented) in a flat TOML file, in order."""
    return re.findall(r"(?m)^([a-z_0-9]+) = ", text)


def render_haproxy(workdir: Path, port: int, stats_port: int, servers: list) -> Path:
    """deploy/configs/haproxy.cfg for this test: its frontend on `port`, the
    stats socket in workdir, `servers` = [(name, "host:port", admin port), ...]
    in place of the example's two proxies (checked on their admin port's
    /health), no syslog, no TLS pass-through."""
    text = (CONFIGS / "haproxy.cfg").read_text()
    sock = Path(workdir) / "haproxy.sock"
    text = re.sub(r"(?m)^    log /dev/log.*\n", "", text)
    text = re.sub(r"(?m)^    option (tcplog|httplog)\n", "", text)
    text = re.sub(r"(?m)^    maxconn 20000$", "    maxconn 2000", text)
    text = re.sub(r"(?m)^    stats socket \S+", f"    stats socket {sock}", text)
    # The TLS pass-through (quickstart) binds fixed ports: not here.
    text, n = re.subn(r"(?ms)^# TLS: passed through.*?(?=^# HAProxy's status page)", "", text)
    assert n == 1, "the example haproxy.cfg lost its TLS section"
    text = re.sub(r"(?m)^    bind 127\.0\.0\.1:19100$", f"    bind 127.0.0.1:{port}", text)
    text = re.sub(r"(?m)^    bind 127\.0\.0\.1:19101$", f"    bind 127.0.0.1:{stats_port}", text)
    lines = "".join(f"    server {name} {addr} check port {admin}\n" for name, addr, admin in servers)
    text, n = re.subn(r"(?m)(^    server proxy-\d+ .*\n)+", lines, text)
    assert n == 1, "the example haproxy.cfg lost its server lines"
    cfg = Path(workdir) / "haproxy.cfg"
    cfg.write_text(text)
    return cfg


class HAProxy:
    """haproxy -db (foreground) with a config from render_haproxy."""

    def __init__(self, workdir: Path, port: int, stats_port: int, servers: list):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.cfg = render_haproxy(self.dir, port, stats_port, servers)
        self.sock = self.dir / "haproxy.sock"
        self.log = self.dir / "haproxy.out"
        self.proc = None

    def start(self):
        check = subprocess.run([HAPROXY, "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        assert check.returncode == 0, f"haproxy -c refused {self.cfg}:\n{check.stdout}{check.stderr}"
        self._out = open(self.log, "ab")
        self.proc = spawn([HAPROXY, "-db", "-f", self.cfg], stdout=self._out, stderr=subprocess.STDOUT)
        wait_until(lambda: self._alive() and self.sock.exists() and self.stat(), 15,
                   what="haproxy stats socket")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"haproxy exited rc={self.proc.returncode}: {self.log.read_text()[-2000:]}")
        return True

    def command(self, cmd: str) -> str:
        """One command on the runtime API (stats socket)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode(errors="replace")

    def stat(self) -> dict:
        """{server name: status ("UP", "DOWN", "UP 1/2", ...)} of the proxies' backend."""
        out = {}
        lines = self.command("show stat").splitlines()
        if not lines:
            return out
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "codis-proxies" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = row.get("status", "")
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            kill_proc(self.proc, signal.SIGTERM, wait=5)
        kill_proc(self.proc, signal.SIGKILL)
        self.proc = None
        if getattr(self, "_out", None):
            self._out.close()
            self._out = None


# ---------------------------------------------------------------------------
# ZooKeeper ensemble from deploy/configs/zookeeper/zoo.cfg
# ---------------------------------------------------------------------------

class TemplateZooKeeper(ZooKeeperServer):
    """A member whose zoo.cfg is the ensemble example with this machine's
    ports, directories and a short tick."""

    def _write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        text = (CONFIGS / "zookeeper" / "zoo.cfg").read_text()
        subs = {
            r"^tickTime=.*$": f"tickTime={self.tick_ms}",
            r"^dataDir=.*$": f"dataDir={self.data_dir}",
            r"^clientPort=.*$": f"clientPort={self.port}",
            r"^#clientPortAddress=.*$": "clientPortAddress=127.0.0.1",
        }
        for pattern, value in subs.items():
            text, n = re.subn(pattern, value, text, flags=re.M)
            assert n == 1, f"zoo.cfg example: {pattern} matched {n} times"
        servers = "".join(f"server.{sid}=127.0.0.1:{quorum}:{election}\n"
                          for sid, (_, quorum, election) in sorted(self.peers.items()))
        text, n = re.subn(r"(?m)(^server\.\d+=.*\n)+", servers, text)
        assert n == 1, "zoo.cfg example: no server.N lines"
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write(f"{self.myid}\n")
        with open(self.cfg, "w") as f:
            f.write(text)


class TemplateEnsemble(ZooKeeperEnsemble):
    def __init__(self, n=3, workdir=None, tick_ms=500):
        super().__init__(n, workdir, tick_ms)
        self.servers = {
            i: TemplateZooKeeper(s.workdir, client_port=s.port, myid=i, peers=s.peers, tick_ms=tick_ms)
            for i, s in self.servers.items()
        }

    def clients_of(self, sid) -> int:
        """Client sessions a member serves now (from `stat`)."""
        from zk_harness import four_letter
        out = four_letter(self.servers[sid].port, "stat")
        m = re.search(r"Clients:\n(.*?)\n\n", out, re.S)
        if not m:
            return 0
        # the `stat` connection itself is listed too
        return max(0, len([x for x in m.group(1).splitlines() if x.strip()]) - 1)


# ---------------------------------------------------------------------------
# a client that reconnects
# ---------------------------------------------------------------------------

class ReconnectingWriter(threading.Thread):
    """SET {prefix}:{n} n through `port` in a loop, one connection at a time.

    A write is acknowledged when +OK came back: those must all be there at
    the end. On a broken connection the writer reconnects (through HAProxy:
    to a live proxy) and goes on with the next key; the write in flight then
    is unknown (it may or may not have been applied), as for any client.
    """

    def __init__(self, port: int, prefix: str, pause: float = 0.005):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = prefix
        self.pause = pause
        self.acked = []
        self.unknown = []
        self.errors = []        # error replies: must stay empty
        self.reconnects = []    # (time the connection broke, seconds until the next OK)
        self.local_ports = []   # local port of each connection (to find its proxy)
        self.stop_event = threading.Event()
        self.conn = None

    def _connect(self, deadline):
        last = None
        while time.monotonic() < deadline and not self.stop_event.is_set():
            try:
                c = RespConn(self.port, timeout=5)
                self.local_ports.append(c.sock.getsockname()[1])
                return c
            except OSError as e:
                last = e
                time.sleep(0.05)
        raise TimeoutError(f"could not reconnect to {self.port}: {last!r}")

    def run(self):
        n = 0
        broke_at = None
        try:
            self.conn = self._connect(time.monotonic() + 10)
            while not self.stop_event.is_set():
                key = f"{self.prefix}:{n}"
                try:
                    r = self.conn.call("SET", key, str(n))
                except (ConnClosed, OSError, socket.timeout):
                    self.unknown.append(key)
                    broke_at = broke_at or time.monotonic()
                    self.conn.close()
                    self.conn = self._connect(time.monotonic() + 10)
                    n += 1
                    continue
                if r == "OK":
                    self.acked.append(key)
                    if broke_at is not None:
                        self.reconnects.append((broke_at, time.monotonic() - broke_at))
                        broke_at = None
                else:
                    self.errors.append((key, r))
                n += 1
                time.sleep(self.pause)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(("fatal", repr(e)))
        finally:
            if self.conn:
                self.conn.close()

    def stop(self):
        self.stop_event.set()
        self.join(15)
