"""codis-dashboard as a test process, plus helpers to call its API the way
codis-admin/codis-fe do (Codis's rpc: 200 + JSON, or 800 + {"Cause": ...})."""

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from harness import TEST_ADMIN_AUTH, RedisServer, build_dir, free_port, http, kill_proc, spawn, wait_until


def module_path() -> Path:
    """The codis_slots module every group server must load."""
    return build_dir() / "server-patches" / "codis_slots.so"


def codis_server(workdir, **kw) -> RedisServer:
    """A redis-server with codis_slots loaded (what group/add accepts)."""
    so = module_path()
    if not so.exists():
        raise FileNotFoundError(f"codis_slots.so not found at {so} (build with deploy/build.sh)")
    extra = list(kw.pop("extra", [])) + ["--loadmodule", str(so)]
    return RedisServer(workdir, extra=extra, **kw)


def dashboard_binary() -> Path:
    env = os.environ.get("CODIS_DASHBOARD_BIN")
    return Path(env) if env else build_dir() / "dashboard" / "codis-dashboard"


def topom_xauth(product: str) -> str:
    return hashlib.sha256(f"Codis-XAuth-[{product}]".encode()).hexdigest()[:32]


class Dashboard:
    def __init__(self, workdir: Path, product: str, coordinator_addr: str,
                 coordinator_name: str = "zookeeper", product_auth: str = "", extra_config: str = ""):
        self.port = free_port()
        self.product = product
        self.xauth = topom_xauth(product)
        self.dir = Path(workdir) / f"dashboard-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.dir / "dashboard.toml"
        self.log_file = self.dir / "dashboard.log"
        self.config_file.write_text(
            f'coordinator_name = "{coordinator_name}"\n'
            f'coordinator_addr = "{coordinator_addr}"\n'
            f'admin_addr = "127.0.0.1:{self.port}"\n'
            f'product_name = "{product}"\n'
            f'product_auth = "{product_auth}"\n'
            f'admin_auth = "{TEST_ADMIN_AUTH}"\n' + extra_config)
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_active: bool = True, wait: float = 20.0) -> "Dashboard":
        binary = dashboard_binary()
        if not binary.exists():
            raise FileNotFoundError(f"codis-dashboard not found at {binary} (set CODIS_BUILD_DIR)")
        self._out = open(self.dir / "dashboard.out", "ab")
        self.proc = spawn([binary, "--config", self.config_file, "--log", self.log_file,
                           "--log-level", "debug"], stdout=self._out, stderr=subprocess.STDOUT)
        if wait_active:
            self.wait_active(wait)
        return self

    def answers(self) -> bool:
        try:
            return http("GET", self.url + "/api/topom/model", timeout=1).status == 200
        except OSError:
            return False

    def wait_active(self, wait: float = 20.0):
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"codis-dashboard exited rc={self.proc.returncode}: {self.tail()}")
            return self.answers()
        wait_until(up, wait, what=f"codis-dashboard on {self.port}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def tail(self, n=3000) -> str:
        out = ""
        for f in (self.dir / "dashboard.out", self.log_file):
            if f.exists():
                out += f"--- {f.name}:\n" + f.read_text(errors="replace")[-n:]
        return out

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            kill_proc(self.proc, sig, wait=10)
        kill_proc(self.proc, signal.SIGKILL)
        self.proc = None
        if getattr(self, "_out", None):
            self._out.close()
            self._out = None

    # -- API
    def get(self, path, **kw):
        return http("GET", self.url + path, timeout=30, **kw)

    def put(self, path, body=None, **kw):
        return http("PUT", self.url + path, body, timeout=30, **kw)

    def api(self, method, path, body=None):
        """path may contain {x} for the xauth. Returns (ok, value_or_cause)."""
        r = http(method, self.url + path.replace("{x}", self.xauth), body, timeout=30)
        if r.status == 200:
            return True, r.json()
        assert r.status == 800, r
        e = r.json()
        assert set(e) == {"Cause", "Stack"} and e["Stack"] is None, e
        return False, e["Cause"]

    def ok(self, method, path, body=None):
        ok, v = self.api(method, path, body)
        assert ok, f"{method} {path}: {v}"
        return v

    def err(self, method, path, body=None):
        ok, v = self.api(method, path, body)
        assert not ok, f"{method} {path} should fail, got {v}"
        return v
