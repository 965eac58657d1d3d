"""Drives `coordinator_cli shell`: one coordinator client (one ZooKeeper
session) held across test steps. Replies and watch events are read by a
thread, so a step never blocks past its timeout."""

import os
import queue
import signal
import subprocess
import threading
import time


def cli_path():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.environ.get("CODIS_BUILD_DIR", os.path.join(root, "build"))
    path = os.path.join(build, "tests", "coordinator", "coordinator_cli")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} not found: build the coordinator_cli target "
                           "(or set CODIS_BUILD_DIR)")
    return path


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(n, n))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def run_cli(coordinator, addr, *args, timeout=30, extra=()):
    """One-shot coordinator_cli; returns CompletedProcess."""
    return subprocess.run([cli_path(), "--coordinator", coordinator, "--addr", addr, *extra, *args],
                          capture_output=True, text=True, timeout=timeout)


def zk_owner(addr, path):
    """The session owning a ZooKeeper node ("0x0": persistent), None if absent."""
    r = run_cli("zookeeper", addr, "owner", path)
    if r.returncode == 3:
        return None
    if r.returncode != 0:
        raise CoordinatorError(f"owner {path}: {r.stderr}")
    return r.stdout.strip()


class CoordinatorError(RuntimeError):
    pass


class CoordinatorShell:
    def __init__(self, coordinator, addr, timeout_ms=10000, auth=None, ready_timeout=30, extra=()):
        cmd = [cli_path(), "--coordinator", coordinator, "--addr", addr, *extra,
               "--timeout", str(timeout_ms), "--log-level", "info", "shell"]
        if auth:
            cmd[1:1] = ["--auth", auth]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.replies = queue.Queue()
        self.events = queue.Queue()
        self.stderr_lines = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        first = self._reply(ready_timeout)
        if not first.startswith("OK ready"):
            raise CoordinatorError(f"coordinator_cli did not start: {first}\n{self.stderr()}")

    def _read_stdout(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            (self.events if line.startswith("EVENT ") else self.replies).put(line)
        self.replies.put(None)

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def stderr(self):
        return "\n".join(self.stderr_lines[-40:])

    def _reply(self, timeout):
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise CoordinatorError(f"no reply within {timeout}s\n{self.stderr()}") from None
        if line is None:
            self.replies.put(None)
            raise CoordinatorError(f"coordinator_cli exited ({self.proc.poll()})\n{self.stderr()}")
        return line

    def raw(self, line, timeout=15):
        """Sends a command; returns the reply line ("OK ...", "NONE", "ERR ...")."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._reply(timeout)

    def ok(self, line, timeout=15):
        reply = self.raw(line, timeout)
        if not reply.startswith("OK"):
            raise CoordinatorError(f"{line!r}: {reply}")
        return unescape(reply[3:])

    def create(self, path, data=""):
        return self.ok(f"create {path} {escape(data)}")

    def ephemeral(self, path, data=""):
        return self.ok(f"ephemeral {path} {escape(data)}")

    def update(self, path, data):
        return self.ok(f"update {path} {escape(data)}")

    def update_many(self, paths, data):
        return self.ok(f"update-many {','.join(paths)} {escape(data)}")

    def remove(self, path):
        return self.ok(f"remove {path}")

    def remove_if(self, path, data):
        """remove_if_unchanged: True if removed, False if absent or changed."""
        return self.ok(f"remove-if {path} {escape(data)}") == "removed"

    def health(self):
        """The coordinator's health(): {"session_losses": n, "recreated": n, "pending": n}."""
        return {k: int(v) for k, v in (kv.split("=") for kv in self.ok("health").split())}

    def read(self, path):
        reply = self.raw(f"read {path}")
        if reply == "NONE":
            return None
        if not reply.startswith("OK"):
            raise CoordinatorError(f"read {path}: {reply}")
        return unescape(reply[3:])

    def list(self, path):
        return self.ok(f"list {path}").split()

    def watch_children(self, path):
        return self.ok(f"watch-children {path}")

    def watch_data(self, path):
        return self.ok(f"watch-data {path}")

    def unwatch(self, wid):
        return self.ok(f"unwatch {wid}")

    def drain_events(self):
        out = []
        while True:
            try:
                out.append(self.events.get_nowait().split()[1])
            except queue.Empty:
                return out

    def wait_event(self, wid, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CoordinatorError(f"no EVENT {wid} within {timeout}s\n{self.stderr()}")
            try:
                line = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if line.split()[1] == str(wid):
                return

    def retry(self, fn, timeout=20, pause=0.2):
        """Calls fn until it stops raising CoordinatorError (a client reconnecting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except CoordinatorError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(pause)

    def close(self, timeout=10):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
