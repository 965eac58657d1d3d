"""Real etcd servers for tests (Debian's `etcd-server`, 3.4: /usr/bin/etcd).

One single-member cluster per EtcdServer, in a temporary data directory, on
free loopback ports below 32768 (zk_harness.free_port), with its log in the
work directory:

    from etcd_harness import EtcdServer, EtcdUnavailable
    etcd = EtcdServer(tmp_dir).start()    # raises EtcdUnavailable with the reason
    etcd.addr                              # "127.0.0.1:PORT" (the client URL's host:port)
    etcd.api("lease/leases", {})           # one v3 gateway call, JSON in and out
    etcd.restart(); etcd.stop(); etcd.wipe_data()

or the pytest fixtures `etcd` (one per module) and `etcd_factory` in
conftest.py. Every wait is bounded: a missing binary or a server that does
not answer raises EtcdUnavailable within seconds.

Environment: CODIS_ETCD (the etcd binary).
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from zk_harness import free_port


class EtcdUnavailable(RuntimeError):
    """etcd could not be started; the message says why and what to do."""


def etcd_binary():
    path = os.environ.get("CODIS_ETCD") or shutil.which("etcd") or "/usr/bin/etcd"
    if not os.access(path, os.X_OK):
        raise EtcdUnavailable(f"no etcd binary at {path} (apt-get install etcd-server, or set CODIS_ETCD)")
    return path


def b64(s):
    return base64.b64encode(s.encode()).decode()


class EtcdServer:
    def __init__(self, workdir=None, client_port=None, peer_port=None, extra_args=(), scheme="http",
                 ssl_context=None):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="codis-etcd-")
        os.makedirs(self.workdir, exist_ok=True)
        self.port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.extra_args = list(extra_args)
        self.scheme = scheme
        self.proc = None
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "etcd.log")
        self.token = None  # sent as Authorization by api() once auth is on
        self.ssl_context = ssl_context  # for api() over https (scheme="https")

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def spawn(self):
        if self.proc and self.proc.poll() is None:
            return self
        binary = etcd_binary()
        client = f"{self.scheme}://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        cmd = [binary, "--name", "default", "--data-dir", self.data_dir,
               "--listen-client-urls", client, "--advertise-client-urls", client,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", f"default={peer}",
               "--logger", "zap", "--log-outputs", "stderr", *self.extra_args]
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise EtcdUnavailable(f"cannot run {binary}: {e}") from e
        finally:
            log.close()
        return self

    def api(self, path, body, timeout=5):
        """POST /v3/{path} with a JSON body; returns the decoded JSON reply
        (etcd's error replies too)."""
        req = urllib.request.Request(f"{self.scheme}://{self.addr}/v3/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        if self.token:
            req.add_header("Authorization", self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as r:
                reply = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            reply = json.loads(e.read() or b"{}")
        if reply.get("code") == 16 and self.token and path != "auth/authenticate":  # our token expired
            self.token = None
            self.token = self.api("auth/authenticate", {"name": "root", "password": self._root_password})["token"]
            return self.api(path, body, timeout)
        return reply

    def ready(self):
        try:
            return "header" in self.api("kv/range", {"key": b64("/"), "count_only": True}, timeout=1)
        except (OSError, ValueError):
            return False

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EtcdUnavailable(f"etcd on {self.addr} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.1)
        raise EtcdUnavailable(f"etcd on {self.addr} did not serve within {timeout:.0f}s:\n{self.log_tail()}")

    def start(self, timeout=30.0):
        self.spawn()
        try:
            return self.wait_ready(timeout)
        except EtcdUnavailable:
            self.stop()
            raise

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        return self

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, timeout=30.0):
        self.stop()
        return self.start(timeout)

    def wipe_data(self):
        """Forgets every key and lease (the server must be stopped)."""
        assert self.proc is None, "stop the server first"
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- helpers for tests

    def get(self, key):
        """The value of `key`, or None."""
        kvs = self.api("kv/range", {"key": b64(key)}).get("kvs", [])
        return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None

    def lease_of(self, key):
        """The lease id (a decimal string) `key` is bound to; "0" or None."""
        kvs = self.api("kv/range", {"key": b64(key)}).get("kvs", [])
        return kvs[0].get("lease", "0") if kvs else None

    def revoke(self, lease):
        """Revokes a lease, as its expiry would: its keys go."""
        return self.api("lease/revoke", {"ID": lease})

    def enable_auth(self, user, password):
        """Creates `root` with `password` (etcd needs it to enable auth) and
        `user` with full access, then turns authentication on."""
        for name in {"root", user}:
            self.api("auth/user/add", {"name": name, "password": password})
        self.api("auth/role/add", {"name": "codis"})
        self.api("auth/role/grant", {"name": "codis", "perm": {
            "permType": "READWRITE", "key": b64("/"), "range_end": b64("0")}})
        self.api("auth/user/grant", {"user": "root", "role": "root"})
        self.api("auth/user/grant", {"user": user, "role": "codis"})
        reply = self.api("auth/enable", {})
        assert "error" not in reply, reply
        self._root_password = password
        self.token = self.api("auth/authenticate", {"name": "root", "password": password})["token"]

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


try:
    import pytest
except ImportError:
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module")
    def etcd(tmp_path_factory):
        """One etcd shared by a test module's tests (use distinct paths)."""
        try:
            server = EtcdServer(str(tmp_path_factory.mktemp("etcd"))).start()
        except EtcdUnavailable as e:
            pytest.fail(f"etcd unavailable: {e}", pytrace=False)
        yield server
        server.close()
