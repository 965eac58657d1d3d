"""Real ZooKeeper servers for tests: standalone or a loopback ensemble.

Debian's `zookeeper` package (3.8) is run without its init scripts: a zoo.cfg
in a temporary directory, `java -cp zookeeper.jar:slf4j-simple.jar
org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`. zookeeper.jar's
manifest names the jars it needs (jute, netty, metrics, ...) by absolute path,
so the class path only adds an slf4j binding. Ports are free ones on
127.0.0.1 below 32768 (above is the kernel's ephemeral range, where a
client's outgoing port could take ours).

Reusable by any suite (the dashboard's too):

    from zk_harness import ZooKeeperServer, ZooKeeperEnsemble, ZooKeeperUnavailable
    zk = ZooKeeperServer(tmp_dir).start()   # raises ZooKeeperUnavailable with the reason
    zk.addr                                  # "127.0.0.1:PORT"
    zk.restart(); zk.stop()

or the pytest fixtures in conftest.py (`zookeeper`, `zk_factory`). Every
wait is bounded: a missing java or jar, or a server that does not answer,
raises ZooKeeperUnavailable within seconds instead of hanging the run.

Environment: CODIS_JAVA (java binary), CODIS_ZK_CLASSPATH (class path).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
SLF4J_BINDING = "/usr/share/java/slf4j-simple.jar"


class ZooKeeperUnavailable(RuntimeError):
    """ZooKeeper could not be started; the message says why and what to do."""


def java_binary():
    java = os.environ.get("CODIS_JAVA") or shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise ZooKeeperUnavailable(
            "no java found (set CODIS_JAVA, or apt-get install default-jre-headless zookeeper)")
    return java


def zookeeper_classpath():
    cp = os.environ.get("CODIS_ZK_CLASSPATH")
    if cp:
        return cp
    if not os.path.exists(ZOOKEEPER_JAR):
        raise ZooKeeperUnavailable(
            f"{ZOOKEEPER_JAR} is missing (apt-get install zookeeper, or set CODIS_ZK_CLASSPATH)")
    parts = [ZOOKEEPER_JAR]
    if os.path.exists(SLF4J_BINDING):
        parts.append(SLF4J_BINDING)
    return ":".join(parts)


# One port allocator per process (tests/integration/harness.py): two harnesses with their own
# bookkeeping could hand the same port to two servers of one test.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import free_port  # noqa: E402


def four_letter(port, word="srvr", timeout=1.0):
    """Sends a four-letter command; returns the answer, "" if none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperServer:
    """One ZooKeeper process; standalone unless `peers` is given.

    peers: {myid: (client_port, quorum_port, election_port)} for every member
    of an ensemble, this one included.
    """

    def __init__(self, workdir=None, client_port=None, myid=None, peers=None, tick_ms=500,
                 java=None):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="codis-zk-")
        os.makedirs(self.workdir, exist_ok=True)
        self.port = client_port or free_port()
        self.myid = myid
        self.peers = peers
        self.tick_ms = tick_ms
        self.java = java
        self.proc = None
        self.data_dir = os.path.join(self.workdir, "data")
        self.cfg = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "zookeeper.log")

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def _write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        lines = [
            f"tickTime={self.tick_ms}",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={self.data_dir}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr,ruok,stat",
            "maxClientCnxns=0",
        ]
        if self.peers:
            lines.append("standaloneEnabled=false")
            for sid, (_, quorum, election) in sorted(self.peers.items()):
                lines.append(f"server.{sid}=127.0.0.1:{quorum}:{election}")
            with open(os.path.join(self.data_dir, "myid"), "w") as f:
                f.write(f"{self.myid}\n")
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")

    def spawn(self):
        """Starts the process without waiting for it to serve."""
        if self.proc and self.proc.poll() is None:
            return self
        java = self.java or java_binary()
        if not os.access(java, os.X_OK):
            raise ZooKeeperUnavailable(f"java binary {java} is not executable")
        cp = zookeeper_classpath()
        self._write_config()
        log = open(self.log_path, "ab")
        cmd = [java, "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
               "-Dzookeeper.admin.enableServer=false",
               "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg]
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise ZooKeeperUnavailable(f"cannot run {java}: {e}") from e
        finally:
            log.close()
        return self

    def mode(self):
        """"standalone", "leader", "follower", or None when not serving."""
        for line in four_letter(self.port).splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ZooKeeperUnavailable(
                    f"ZooKeeper on {self.addr} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.mode() in ("standalone", "leader", "follower"):
                return self
            time.sleep(0.1)
        raise ZooKeeperUnavailable(
            f"ZooKeeper on {self.addr} did not serve within {timeout:.0f}s:\n{self.log_tail()}")

    def start(self, timeout=30.0):
        self.spawn()
        try:
            return self.wait_ready(timeout)
        except ZooKeeperUnavailable:
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
        """Forgets every node and session (the server must be stopped)."""
        assert self.proc is None, "stop the server first"
        shutil.rmtree(self.data_dir, ignore_errors=True)

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


class ZooKeeperEnsemble:
    """n servers on loopback forming one ensemble (3 or 5)."""

    def __init__(self, n=3, workdir=None, tick_ms=500, java=None):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="codis-zk-ensemble-")
        peers = {i: (free_port(), free_port(), free_port()) for i in range(1, n + 1)}
        self.servers = {
            i: ZooKeeperServer(os.path.join(self.workdir, f"zk{i}"), client_port=ports[0], myid=i,
                               peers=peers, tick_ms=tick_ms, java=java)
            for i, ports in peers.items()
        }

    @property
    def addr(self):
        return ",".join(s.addr for s in self.servers.values())

    def start(self, timeout=60.0):
        try:
            for s in self.servers.values():
                s.spawn()
            deadline = time.monotonic() + timeout
            for s in self.servers.values():
                s.wait_ready(max(1.0, deadline - time.monotonic()))
        except ZooKeeperUnavailable:
            self.close()
            raise
        return self

    def leader(self):
        for i, s in self.servers.items():
            if s.mode() == "leader":
                return i
        return None

    def wait_quorum(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.leader() is not None:
                return self
            time.sleep(0.1)
        raise ZooKeeperUnavailable(f"no leader elected within {timeout:.0f}s")

    def close(self):
        for s in self.servers.values():
            s.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


try:
    import pytest
except ImportError:  # the harness is also used outside pytest (bench/)
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="module")
    def zookeeper(tmp_path_factory):
        """One standalone ZooKeeper shared by a test module's tests (use
        distinct paths). A suite's conftest.py imports it to offer it."""
        try:
            zk = ZooKeeperServer(str(tmp_path_factory.mktemp("zk"))).start()
        except ZooKeeperUnavailable as e:
            pytest.fail(f"ZooKeeper unavailable: {e}", pytrace=False)
        yield zk
        zk.close()
