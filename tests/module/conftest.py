"""pytest fixtures for the codis_slots module suite.

Every test starts its own redis-server processes (stock Debian 7.0 binary,
the module loaded with --loadmodule) on free 127.0.0.1 ports below 32768,
each in its own temporary directory, and stops them afterwards.

Environment
  CODIS_BUILD_DIR   build directory holding server-patches/codis_slots.so
                    (default: <repo>/build)
  REDIS_SERVER      redis-server binary (default: redis-server on PATH)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CODIS_BUILD_DIR", REPO / "build"))
MODULE = BUILD_DIR / "server-patches" / "codis_slots.so"
REDIS_SERVER = os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "redis-server")
DEFAULT_TEST_TIMEOUT = 90


def slot_of(key: bytes | str) -> int:
    """Codis's slot rule, computed independently of the module."""
    if isinstance(key, str):
        key = key.encode()
    i = key.find(b"{")
    if i >= 0:
        j = key.find(b"}", i + 1)
        if j >= 0:
            key = key[i + 1 : j]
    return zlib.crc32(key) % 1024


def keys_in_slot(slot: int, n: int, prefix: str = "k") -> list[str]:
    out, i = [], 0
    while len(out) < n:
        k = f"{prefix}:{i}"
        if slot_of(k) == slot:
            out.append(k)
        i += 1
    return out


def tag_in_slot(slot: int, prefix: str = "t") -> str:
    i = 0
    while slot_of(f"{prefix}{i}") != slot:
        i += 1
    return f"{prefix}{i}"


# One port allocator for every suite (tests/integration/harness.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import free_port  # noqa: E402


class RedisServer:
    def __init__(self, module: bool = True, args: list[str] | None = None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"codis-module-{self.port}-")
        self.log = os.path.join(self.dir, "redis.log")
        cmd = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", self.dir, "--logfile", self.log, "--save", "",
            "--appendonly", "no", "--enable-debug-command", "yes",
            "--daemonize", "no",
        ]
        if module:
            cmd += ["--loadmodule", str(MODULE)]
        cmd += args or []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.password: str | None = None
        if args and "--requirepass" in args:
            self.password = args[args.index("--requirepass") + 1]
        deadline = time.time() + 10
        while True:
            try:
                self.client().ping()
                break
            except redis.RedisError as e:
                if self.proc.poll() is not None or time.time() > deadline or not isinstance(e, redis.ConnectionError):
                    log = self.log_tail()
                    self.stop()  # never leave a server behind
                    raise RuntimeError(f"redis-server on {self.port} did not start ({e}):\n{log}")
                time.sleep(0.02)

    def client(self, db: int = 0, **kw) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password,
                           socket_timeout=30, **kw)

    def log_tail(self, n: int = 30) -> str:
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL on purpose (the fixture then does not report a crash)."""
        self.killed = True
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def make_replica_of(self, master: "RedisServer", timeout: float = 20) -> None:
        c = self.client()
        if master.password:
            c.config_set("masterauth", master.password)
        c.replicaof("127.0.0.1", master.port)
        deadline = time.time() + timeout
        while time.time() < deadline:
            info = c.info("replication")
            if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"replica {self.port} did not sync:\n{self.log_tail()}")


def wait_replica(master: redis.Redis, replicas: int = 1) -> None:
    assert master.execute_command("WAIT", replicas, 5000) >= replicas


@pytest.fixture(scope="session", autouse=True)
def _module_built():
    if not MODULE.exists():
        pytest.exit(f"{MODULE} not found: build it (cmake --build build) or set CODIS_BUILD_DIR", 2)


@pytest.fixture
def make_redis(request):
    started: list[RedisServer] = []

    def factory(**kw) -> RedisServer:
        s = RedisServer(**kw)
        started.append(s)
        return s

    yield factory
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    crashed = []
    for s in started:
        if not s.alive() and not getattr(s, "killed", False):
            crashed.append(s.port)
        if failed or s.port in crashed:
            print(f"--- redis {s.port} log tail ---\n{s.log_tail()}")
        s.stop()
    assert not crashed, f"redis-server {crashed} died during the test"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class TestTimeout(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test wall-clock limit (SIGALRM)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    m = item.get_closest_marker("timeout")
    seconds = int(m.args[0]) if m else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def scan_keys(server: RedisServer, db: int) -> list[bytes]:
    return list(server.client(db).scan_iter(count=1000))


def index_of(server: RedisServer, db: int) -> dict[int, set[bytes]]:
    """The module's view of a db: slot -> keys, through SLOTSINFO + SLOTSSCAN."""
    c = server.client(db)
    out: dict[int, set[bytes]] = {}
    for slot, size in c.execute_command("SLOTSINFO"):
        keys: set[bytes] = set()
        cursor = b"0"
        while True:
            cursor, batch = c.execute_command("SLOTSSCAN", slot, cursor, "COUNT", 1000)
            keys.update(batch)
            if cursor in (b"0", 0):
                break
        assert len(keys) == size, f"db {db} slot {slot}: SLOTSINFO says {size}, SLOTSSCAN found {len(keys)}"
        out[slot] = keys
    return out


def expected_index(keys: list[bytes]) -> dict[int, set[bytes]]:
    out: dict[int, set[bytes]] = {}
    for k in keys:
        out.setdefault(slot_of(k), set()).add(k)
    return out


def assert_index_matches(server: RedisServer, dbs: range | list[int] = range(16), where: str = "") -> int:
    """Compares the module's per-slot keys with SCAN + client-side hashing."""
    total = 0
    for db in dbs:
        want = expected_index(scan_keys(server, db))
        got = index_of(server, db)
        if want != got:
            extra = {s: sorted(got.get(s, set()) - want.get(s, set()))[:5] for s in got if got.get(s) != want.get(s)}
            missing = {s: sorted(want.get(s, set()) - got.get(s, set()))[:5] for s in want if got.get(s) != want.get(s)}
            raise AssertionError(f"{where} db {db}: index drift; stale={extra} missing={missing}")
        total += sum(len(v) for v in want.values())
    return total
