"""Test harness for the codis-proxy integration suite.

Everything a test needs to run real processes on loopback and talk to them:

* free_port(): a free 127.0.0.1 TCP port below 32768 (bind-tested).
* RedisServer: a throw-away redis-server (no persistence, own tmp dir).
* Proxy: codis-proxy with a generated TOML config and fillslots file, plus
  helpers for its HTTP admin API (xauth, fillslots, model, stats, ...).
* RespConn: a tiny raw RESP2 client (exact bytes in, parsed replies out,
  errors kept as values so they can be compared with ==).
* slot_of()/key_in_slots(): Codis's slot function (crc32 with hash tags).

Every process started here is registered; it is killed by the fixture
finalizers, at interpreter exit, on SIGTERM, and (through PR_SET_PDEATHSIG)
by the kernel if the Python process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Iterable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
NSLOTS = 1024
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def build_dir() -> Path:
    d = os.environ.get("CODIS_BUILD_DIR")
    return Path(d).resolve() if d else REPO_ROOT / "build"


def proxy_binary() -> Path:
    return build_dir() / "proxy" / "codis-proxy"


# ---------------------------------------------------------------------------
# slot hashing (Codis's rule)
# ---------------------------------------------------------------------------

def _b(x: Any) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    return str(x).encode()


def hash_tag(key) -> bytes:
    """Text between the first '{' and the next '}' if that '}' exists
    (an empty '{}' gives the empty string), else the whole key."""
    k = _b(key)
    i = k.find(b"{")
    if i >= 0:
        j = k.find(b"}", i + 1)
        if j >= 0:
            return k[i + 1:j]
    return k


def slot_of(key) -> int:
    return zlib.crc32(hash_tag(key)) % NSLOTS


def key_in_slots(lo: int, hi: int, prefix: str = "k", start: int = 0,
                 exclude: Iterable[str] = ()) -> str:
    """First key `prefix:N` (N >= start) whose slot is in [lo, hi]."""
    ex = set(exclude)
    for n in itertools.count(start):
        k = f"{prefix}:{n}"
        if lo <= slot_of(k) <= hi and k not in ex:
            return k
    raise AssertionError("unreachable")


def key_in_slot(slot: int, prefix: str = "k") -> str:
    return key_in_slots(slot, slot, prefix)


def keys_in_slots(lo: int, hi: int, count: int, prefix: str = "k") -> list:
    out, n = [], 0
    while len(out) < count:
        k = f"{prefix}:{n}"
        if lo <= slot_of(k) <= hi:
            out.append(k)
        n += 1
    return out


def tag_in_slots(lo: int, hi: int, prefix: str = "t") -> str:
    """A hash tag `{prefix:N}` whose slot is in [lo, hi]."""
    for n in itertools.count():
        t = f"{prefix}:{n}"
        if lo <= slot_of(t) <= hi:
            return "{" + t + "}"
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# processes and ports
# ---------------------------------------------------------------------------

_procs: list = []
_procs_lock = threading.Lock()
_ports_handed_out: set = set()
_ports_lock = threading.Lock()


def _set_pdeathsig():  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(args, **kw) -> subprocess.Popen:
    """Popen that is registered for cleanup and dies with us."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen([str(a) for a in args], preexec_fn=_set_pdeathsig, **kw)
    with _procs_lock:
        _procs.append(p)
    return p


def kill_proc(p: Optional[subprocess.Popen], sig=signal.SIGKILL, wait: float = 10.0):
    if p is None:
        return
    if p.poll() is None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
    with _procs_lock:
        if p in _procs:
            _procs.remove(p)


def kill_all():
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        try:
            kill_proc(p, signal.SIGKILL, wait=5)
        except Exception:
            pass


atexit.register(kill_all)


def _on_sigterm(signum, frame):
    kill_all()
    sys.exit(128 + signum)


if threading.current_thread() is threading.main_thread():
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def port_is_free(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port() -> int:
    """A free loopback port in [20000, 32767] not handed out before by us."""
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(2000):
        p = rnd.randint(20000, 32767)
        with _ports_lock:
            if p in _ports_handed_out:
                continue
        if port_is_free(p):
            with _ports_lock:
                _ports_handed_out.add(p)
            return p
    raise RuntimeError("no free port found")


def wait_until(pred, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            r = pred()
            if r:
                return r
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                       + (f" (last error: {last_exc!r})" if last_exc else ""))


# ---------------------------------------------------------------------------
# RESP
# ---------------------------------------------------------------------------

class Status(str):
    """A RESP simple string (+OK) - distinct from a bulk string (bytes)."""
    def __repr__(self):
        return f"Status({str.__repr__(self)})"


class Err:
    """A RESP error reply, kept as a value: Err('ERR foo') == Err('ERR foo')."""
    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]

    def __eq__(self, other):
        return isinstance(other, Err) and other.message == self.message

    def __hash__(self):
        return hash(("Err", self.message))

    def __repr__(self):
        return f"Err({self.message!r})"

    def startswith(self, prefix: str) -> bool:
        return self.message.startswith(prefix)


class ProtocolViolation(Exception):
    pass


class ConnClosed(Exception):
    pass


def encode(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            a = repr(a).encode() if isinstance(a, float) else str(a).encode()
        a = _b(a)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse_reply(buf: bytes, pos: int = 0):
    """Parse one RESP2 reply from buf[pos:]. Returns (value, newpos) or
    (None, -1) if incomplete. Raises ProtocolViolation on bad input."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None, -1
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    nxt = nl + 2
    if t == b"+":
        return Status(line.decode("utf-8", "replace")), nxt
    if t == b"-":
        return Err(line.decode("utf-8", "replace")), nxt
    if t == b":":
        try:
            return int(line), nxt
        except ValueError:
            raise ProtocolViolation(f"bad integer {line!r}")
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            return None, -1
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ProtocolViolation("bulk not terminated by CRLF")
        return bytes(buf[nxt:nxt + n]), nxt + n + 2
    if t == b"*":
        n = int(line)
        if n < 0:
            return None, nxt
        items = []
        p = nxt
        for _ in range(n):
            v, p = parse_reply(buf, p)
            if p < 0:
                return None, -1
            items.append(v)
        return items, p
    raise ProtocolViolation(f"unexpected reply type byte {t!r} in {bytes(buf[pos:pos+60])!r}")


class RespConn:
    """Raw RESP client over one TCP connection."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.addr = (host, port)
        self.sock = socket.create_connection(self.addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.pos = 0

    # -- sending
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    # -- receiving
    def _fill(self, timeout: Optional[float]):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            raise ConnClosed("connection closed by peer")
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def read_reply(self, timeout: Optional[float] = None):
        """Read one complete reply; socket.timeout if none within timeout."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        while True:
            v, p = parse_reply(self.buf, self.pos) if self.pos < len(self.buf) else (None, -1)
            if p >= 0:
                self.raw_last = bytes(self.buf[self.pos:p])
                self.pos = p
                return v
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete reply within %.1fs" % t)
            self._fill(left)

    def read_raw_reply(self, timeout: Optional[float] = None) -> bytes:
        self.read_reply(timeout)
        return self.raw_last

    def call(self, *args, timeout: Optional[float] = None):
        self.send(*args)
        return self.read_reply(timeout)

    def call_raw(self, *args, timeout: Optional[float] = None) -> bytes:
        self.send(*args)
        return self.read_raw_reply(timeout)

    def pending_bytes(self) -> bytes:
        return bytes(self.buf[self.pos:])

    def wait_closed(self, timeout: float) -> bool:
        """True if the peer closes within timeout (data before EOF is kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(left)
            except ConnClosed:
                return True
            except ConnectionResetError:
                return True
            except socket.timeout:
                return False

    def poll_nothing(self, seconds: float) -> bool:
        """True if nothing at all arrives within `seconds` (and no close)."""
        if self.pos < len(self.buf):
            return False
        try:
            self._fill(seconds)
        except socket.timeout:
            return True
        except (ConnClosed, ConnectionResetError):
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ping_ok(port: int, password: Optional[str] = None, timeout: float = 1.0) -> bool:
    try:
        with RespConn(port, timeout=timeout) as c:
            if password:
                c.call("AUTH", password)
            return c.call("PING") == Status("PONG")
    except (OSError, ConnClosed, ProtocolViolation, socket.timeout):
        return False


def answers(port: int, timeout: float = 1.0) -> bool:
    """True if the port answers PING with any well-formed reply."""
    try:
        with RespConn(port, timeout=timeout) as c:
            c.call("PING")
            return True
    except (OSError, ConnClosed, ProtocolViolation, socket.timeout):
        return False


# ---------------------------------------------------------------------------
# redis-server
# ---------------------------------------------------------------------------

class RedisServer:
    def __init__(self, workdir: Path, port: Optional[int] = None,
                 password: Optional[str] = None, extra: Iterable[str] = (), config_file: bool = False):
        self.port = port or free_port()
        self.password = password
        self.extra = list(extra)
        self.dir = Path(workdir) / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        # config_file: started from a (first empty) redis.conf, so CONFIG REWRITE works and what it
        # writes is there after a restart.
        self.config_file = self.dir / "redis.conf" if config_file else None
        if self.config_file and not self.config_file.exists():
            self.config_file.write_text("")
        self.proc: Optional[subprocess.Popen] = None
        self.logfile = self.dir / "redis.log"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, wait: float = 10.0) -> "RedisServer":
        args = [REDIS_SERVER, *([self.config_file] if self.config_file else []), "--port", self.port, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.dir, "--logfile", self.logfile,
                "--protected-mode", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        args += self.extra
        self.proc = spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: self._check_alive() and ping_ok(self.port, self.password),
                       wait, what=f"redis-server on {self.port}")
        except Exception:
            self.stop()
            raise
        return self

    def _check_alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"redis-server on {self.port} exited rc={self.proc.returncode}: {log}")
        return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        kill_proc(self.proc, signal.SIGKILL)
        self.proc = None

    def kill(self):
        self.stop()

    def restart(self, wait: float = 10.0):
        self.stop()
        return self.start(wait)

    def client(self, db: int = 0, **kw):
        import redis  # python3-redis
        return redis.Redis(host="127.0.0.1", port=self.port, db=db,
                           password=self.password, socket_timeout=10, **kw)

    def conn(self, db: int = 0, timeout: float = 5.0) -> RespConn:
        c = RespConn(self.port, timeout=timeout)
        if self.password:
            assert c.call("AUTH", self.password) == Status("OK")
        if db:
            assert c.call("SELECT", db) == Status("OK")
        return c

    def flushall(self):
        with self.conn() as c:
            r = c.call("FLUSHALL")
            assert r == Status("OK"), r


# ---------------------------------------------------------------------------
# codis-proxy
# ---------------------------------------------------------------------------

# The admin secret every test daemon is given (admin_auth); http() sends it
# unless told otherwise (auth=None: an anonymous caller).
TEST_ADMIN_AUTH = "test-admin-secret-0123456789"

DEFAULT_PROXY_CONFIG = {
    "product_name": "codis-it",
    "admin_auth": TEST_ADMIN_AUTH,
    "product_auth": "",
    "session_auth": "",
    "backend_number_databases": 16,
    "proxy_max_clients": 1000,
    "session_max_pipeline": 10000,
    "backend_ping_period": "5s",
    "session_recv_timeout": "30m",
    "proxy_max_bulk_len": "512mb",
    "proxy_max_array_len": 1048576,
}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def slot_table(groups: dict) -> list:
    """groups: {gid: (addr, [ (lo, hi), ... ])} -> Codis fillslots list."""
    table = [None] * NSLOTS
    for gid, (addr, ranges) in groups.items():
        for lo, hi in ranges:
            for i in range(lo, hi + 1):
                table[i] = {"id": i, "backend_addr": addr, "backend_addr_group_id": gid}
    missing = [i for i, s in enumerate(table) if s is None]
    assert not missing, f"slots without a group: {missing[:5]}..."
    return table


def two_group_slots(addr1: str, addr2: str) -> list:
    return slot_table({1: (addr1, [(0, 511)]), 2: (addr2, [(512, 1023)])})


def xauth(product_name: str, product_auth: str, token: str) -> str:
    s = f"Codis-XAuth-[{product_name}]-[{product_auth}]-[{token}]"
    return hashlib.sha256(s.encode()).hexdigest()[:32]


class HttpResult:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body.decode())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"HttpResult({self.status}, {self.body[:300]!r})"


_DEFAULT = object()


def http(method: str, url: str, body=None, timeout: float = 10.0, auth=_DEFAULT, headers=None) -> HttpResult:
    """One request; sends "Authorization: Bearer <auth>" (TEST_ADMIN_AUTH unless
    given; None sends none)."""
    data = None
    headers = dict(headers or {})
    if auth is _DEFAULT:
        auth = TEST_ADMIN_AUTH
    if auth is not None:
        headers["Authorization"] = f"Bearer {auth}"
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return HttpResult(r.status, r.read(), r.headers)
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.read(), e.headers)


class Proxy:
    def __init__(self, workdir: Path, slots: Optional[list], config: Optional[dict] = None,
                 binary: Optional[Path] = None, log_level: str = "info", extra_args=(), env: Optional[dict] = None):
        self.binary = Path(binary or proxy_binary())
        self.extra_args = list(extra_args)
        self.env = env  # added to this process's environment
        self.port = free_port()
        self.admin_port = free_port()
        self.config = dict(DEFAULT_PROXY_CONFIG)
        self.config.update(config or {})
        self.config["proxy_addr"] = f"127.0.0.1:{self.port}"
        self.config["admin_addr"] = f"127.0.0.1:{self.admin_port}"
        self.dir = Path(workdir) / f"proxy-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.dir / "proxy.toml"
        self.slots_file = self.dir / "slots.json"
        self.log_file = self.dir / "proxy.log"
        self.out_file = self.dir / "proxy.out"
        self.pid_file = self.dir / "proxy.pid"
        self.slots = slots
        self.log_level = log_level
        self.proc: Optional[subprocess.Popen] = None
        self._token = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def write_files(self):
        lines = ["# generated by tests/integration/harness.py"]
        for k, v in self.config.items():
            lines.append(f"{k} = {toml_value(v)}")
        self.config_file.write_text("\n".join(lines) + "\n")
        if self.slots is not None:
            self.slots_file.write_text(json.dumps(self.slots))

    def start(self, wait: float = 15.0) -> "Proxy":
        if not self.binary.exists():
            raise FileNotFoundError(f"codis-proxy binary not found at {self.binary} "
                                    f"(build it with deploy/build.sh; CODIS_BUILD_DIR={build_dir()})")
        self.write_files()
        args = [self.binary, "--config", self.config_file, "--log", self.log_file,
                "--log-level", self.log_level, "--pidfile", self.pid_file]
        if self.slots is not None:
            args += ["--fillslots", self.slots_file]
        args += self.extra_args
        self._out = open(self.out_file, "ab")
        env = {**os.environ, **self.env} if self.env else None
        self.proc = spawn(args, stdout=self._out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until(lambda: self._check_alive() and answers(self.port), wait,
                       what=f"codis-proxy RESP port {self.port}")
        except Exception:
            self.stop()
            raise
        return self

    def _check_alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"codis-proxy exited rc={self.proc.returncode}: {self.tail()}")
        return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 3000) -> str:
        out = ""
        for f in (self.out_file, self.log_file):
            if f.exists():
                out += f"--- {f.name}:\n" + f.read_text(errors="replace")[-n:]
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            kill_proc(self.proc, signal.SIGTERM, wait=5)
        kill_proc(self.proc, signal.SIGKILL)
        self.proc = None
        if getattr(self, "_out", None):
            self._out.close()
            self._out = None

    # -- RESP
    def conn(self, timeout: float = 5.0, auth: Optional[str] = None) -> RespConn:
        c = RespConn(self.port, timeout=timeout)
        if auth:
            assert c.call("AUTH", auth) == Status("OK")
        return c

    def client(self, db: int = 0, **kw):
        import redis
        pw = self.config.get("session_auth") or None
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=pw,
                           socket_timeout=10, **kw)

    # -- admin HTTP
    def get(self, path: str, **kw) -> HttpResult:
        return http("GET", self.admin_url + path, **kw)

    def put(self, path: str, body=None, **kw) -> HttpResult:
        return http("PUT", self.admin_url + path, body, **kw)

    def model(self) -> dict:
        r = self.get("/proxy/model")
        assert r.status == 200, r
        return r.json()

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.model()["token"]
        return self._token

    @property
    def xauth(self) -> str:
        return xauth(self.config["product_name"], self.config["product_auth"], self.token)

    def fillslots(self, slots: list) -> HttpResult:
        return self.put(f"/api/proxy/fillslots/{self.xauth}", slots)
