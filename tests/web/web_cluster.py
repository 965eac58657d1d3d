"""A real cluster for the browser tests: ZooKeeper, redis-servers with the
codis_slots module, codis-proxy processes, an optional Sentinel and our
codis-dashboard serving the built web UI (--assets-dir web-fe/dist).

Usable outside pytest too, to look at the UI by hand:

    CODIS_BUILD_DIR=build python3 tests/web/web_cluster.py   # prints the URL, Ctrl-C stops all
"""

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for sub in ("dashboard", "coordinator", "integration"):
    p = str(REPO / "tests" / sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from dashboard_harness import Dashboard, codis_server, dashboard_binary  # noqa: E402
from harness import REDIS_SERVER, Proxy, RespConn, encode, free_port, kill_proc, ping_ok, spawn, wait_until  # noqa: E402

WEB_FE = REPO / "web-fe"
DIST = WEB_FE / "dist"


class WebDashboard(Dashboard):
    """Dashboard started with --assets-dir and extra config lines."""

    def __init__(self, workdir, product, coordinator_addr, assets_dir=DIST, extra_config=""):
        super().__init__(workdir, product, coordinator_addr)
        self.assets_dir = Path(assets_dir)
        if extra_config:
            with open(self.config_file, "a") as f:
                f.write(extra_config)

    def start(self, wait_active=True, wait=20.0):
        binary = dashboard_binary()
        if not binary.exists():
            raise FileNotFoundError(f"codis-dashboard not found at {binary} (set CODIS_BUILD_DIR)")
        self._out = open(self.dir / "dashboard.out", "ab")
        self.proc = spawn([binary, "--config", self.config_file, "--log", self.log_file,
                           "--log-level", "info", "--assets-dir", self.assets_dir],
                          stdout=self._out, stderr=subprocess.STDOUT)
        if wait_active:
            self.wait_active(wait)
        return self


class Sentinel:
    """redis-server in sentinel mode on a free loopback port."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = Path(workdir) / f"sentinel-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "sentinel.conf"
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.dir}\n"
                        f"logfile {self.dir / 'sentinel.log'}\n")
        self.proc = spawn([REDIS_SERVER, conf, "--sentinel"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: ping_ok(self.port), 10, what=f"sentinel on {self.port}")
        except Exception:
            self.stop()
            raise

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        kill_proc(self.proc)
        self.proc = None


class WebCluster:
    """Processes only: the groups, slots and proxies are created by the tests
    (mostly through the UI). Everything started here is stopped by close(),
    also when the constructor fails half-way."""

    def __init__(self, tmp, zk_addr, product, servers=3, proxies=2, sentinel=True, extra_config=""):
        self.tmp = Path(tmp)
        self.product = product
        self.servers, self.proxies, self.sentinel, self.dash = [], [], None, None
        try:
            for _ in range(servers):
                self.servers.append(codis_server(self.tmp).start())
            for _ in range(proxies):
                self.proxies.append(Proxy(self.tmp, None, {"product_name": product}).start())
            if sentinel:
                self.sentinel = Sentinel(self.tmp)
            self.dash = WebDashboard(self.tmp, product, zk_addr, extra_config=extra_config).start()
        except BaseException:
            self.close()
            raise

    def close(self):
        for p in [self.dash, self.sentinel, *self.proxies, *self.servers]:
            if p is not None:
                try:
                    p.stop()
                except Exception:  # noqa: BLE001 - stop the others anyway
                    pass

    @property
    def url(self):
        return self.dash.url

    def fill_keys(self, proxy, keys, value=b"v" * 64, batch=500):
        """SET every key through a proxy (pipelined); checks every reply."""
        with proxy.conn(timeout=30) as c:
            for i in range(0, len(keys), batch):
                chunk = keys[i:i + batch]
                c.send_raw(b"".join(encode("SET", k, value) for k in chunk))
                for k in chunk:
                    r = c.read_reply(timeout=30)
                    assert r == "OK", f"SET {k}: {r!r}"


if __name__ == "__main__":
    from zk_harness import ZooKeeperServer

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"codis-web-{os.getpid()}"
    tmp.mkdir(parents=True)
    zk = ZooKeeperServer(str(tmp / "zk")).start()
    c = None
    try:
        c = WebCluster(tmp, zk.addr, "codis-web-demo",
                       extra_config="migration_parallel_slots = 2\nmigration_async_numkeys = 50\n")
        print(f"dashboard: {c.url}/")
        print("servers:", " ".join(s.addr for s in c.servers))
        print("proxy admin:", " ".join(p.admin_url[7:] for p in c.proxies))
        print("proxy RESP:", " ".join(p.addr for p in c.proxies))
        if c.sentinel:
            print("sentinel:", c.sentinel.addr)
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if c:
            c.close()
        zk.stop()
