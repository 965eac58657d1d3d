"""A scripted fake Redis backend (asyncio, runs in a background thread).

It plays the *source* group of a slot under migration: it answers
SLOTSMGRT-EXEC-WRAPPER and SLOTSMGRTTAGONE with replies scripted by the
test, answers housekeeping commands (PING, AUTH, SELECT, CLIENT, INFO, ...)
itself, and records every command it receives (as lists of bytes, in
arrival order, with the connection id and arrival time).

    fb = FakeBackend().start()
    fb.script("SLOTSMGRT-EXEC-WRAPPER", [b"*2\\r\\n:1\\r\\n$4\\r\\nbusy\\r\\n"] * 2,
              default=b"*2\\r\\n:0\\r\\n$7\\r\\nmissing\\r\\n")
    ... fb.received("SLOTSMGRT-EXEC-WRAPPER") ...
    fb.stop()
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Optional

from harness import free_port

HOUSEKEEPING = {
    b"PING": b"+PONG\r\n",
    b"AUTH": b"+OK\r\n",
    b"SELECT": b"+OK\r\n",
    b"CLIENT": b"+OK\r\n",
    b"READONLY": b"+OK\r\n",
    b"READWRITE": b"+OK\r\n",
    b"HELLO": b"-ERR unknown command 'HELLO'\r\n",
    b"INFO": b"$0\r\n\r\n",
    # The proxy's identity probe (CONFIG GET maxmemory): answered as the restricted backend user would.
    b"CONFIG": b"-NOPERM this user has no permissions to run the 'config|get' command\r\n",
    b"ECHO": None,  # echoed back
}


class _Script:
    def __init__(self, replies, default):
        self.queue = deque(replies)
        self.default = default


class FakeBackend:
    def __init__(self, port: Optional[int] = None):
        self.port = port or free_port()
        self.log: list = []   # (conn_id, time, [arg bytes...])
        self.lock = threading.Lock()
        self.scripts: dict = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread: Optional[threading.Thread] = None
        self._server = None
        self._ready = threading.Event()
        self._conn_ids = 0
        self.connections = 0

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- scripting
    def script(self, command: str, replies, default: bytes = b"-ERR fake: no scripted reply\r\n"):
        """Reply to `command` with `replies` in order, then `default` forever.
        A reply is raw RESP bytes or a callable(args) -> bytes."""
        with self.lock:
            self.scripts[command.upper().encode()] = _Script(list(replies), default)

    def received(self, command: Optional[str] = None) -> list:
        """Argument lists received (all, or only those of `command`)."""
        with self.lock:
            entries = list(self.log)
        if command is None:
            return [e[2] for e in entries]
        c = command.upper().encode()
        return [e[2] for e in entries if e[2] and e[2][0].upper() == c]

    def received_non_housekeeping(self) -> list:
        return [a for a in self.received() if a and a[0].upper() not in HOUSEKEEPING]

    def received_with_conn(self) -> list:
        """(conn_id, args) for everything received, in order."""
        with self.lock:
            return [(e[0], e[2]) for e in self.log]

    def clear(self):
        with self.lock:
            self.log.clear()

    # -- server
    def start(self) -> "FakeBackend":
        self.thread = threading.Thread(target=self._run, name=f"fake-backend-{self.port}", daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake backend did not start")
        if self._error:
            raise self._error
        return self

    _error = None

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port))
        except Exception as e:  # noqa: BLE001
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self._server.close()
            self.loop.run_until_complete(self._server.wait_closed())
            self.loop.close()

    def stop(self):
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread:
            self.thread.join(10)

    def _reply_for(self, args: list) -> bytes:
        name = args[0].upper() if args else b""
        with self.lock:
            s = self.scripts.get(name)
            if s is not None:
                r = s.queue.popleft() if s.queue else s.default
                return r(args) if callable(r) else r
        if name in HOUSEKEEPING:
            r = HOUSEKEEPING[name]
            if r is None:
                a = args[1] if len(args) > 1 else b""
                return b"$%d\r\n%s\r\n" % (len(a), a)
            return r
        return b"-ERR fake backend: unexpected command '%s'\r\n" % name.replace(b"\r", b"").replace(b"\n", b"")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._conn_ids += 1
        self.connections += 1
        cid = self._conn_ids
        try:
            while True:
                args = await self._read_command(reader)
                if args is None:
                    break
                with self.lock:
                    self.log.append((cid, time.monotonic(), args))
                writer.write(self._reply_for(args))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.connections -= 1
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    @staticmethod
    async def _read_command(reader: asyncio.StreamReader):
        line = await reader.readline()
        if not line:
            return None
        line = line.rstrip(b"\r\n")
        if not line.startswith(b"*"):
            return line.split()  # inline command
        n = int(line[1:])
        args = []
        for _ in range(n):
            hdr = (await reader.readline()).rstrip(b"\r\n")
            if not hdr.startswith(b"$"):
                raise ValueError(f"expected bulk, got {hdr!r}")
            ln = int(hdr[1:])
            data = await reader.readexactly(ln + 2)
            args.append(data[:-2])
        return args


def wrapper_reply(code: int, payload: bytes) -> bytes:
    """[code, payload] where payload is a raw RESP reply (for code 2) or text."""
    if code == 2:
        return b"*2\r\n:2\r\n" + payload
    return b"*2\r\n:%d\r\n$%d\r\n%s\r\n" % (code, len(payload), payload)
