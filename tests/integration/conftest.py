"""pytest fixtures for the codis-proxy integration suite.

Fixtures
  cluster       two backend groups (slots 0-511 -> group 1, 512-1023 ->
                group 2), a standalone "direct" redis-server for reference
                replies, and one codis-proxy in front of the groups. Shared
                by the whole session; every test gets all three redis
                instances flushed.
  make_redis    factory: start extra redis-server instances (stopped after
                the test).
  make_proxy    factory: start extra codis-proxy instances with their own
                config / slot table (stopped after the test; their logs are
                printed when the test fails).
  fake_backend  factory: scripted fake source backends (fake_backend.py).

Environment
  CODIS_BUILD_DIR     build directory holding proxy/codis-proxy
                      (default: <repo>/build)
  CODIS_IT_SELFCHECK  =1: harness self-check - the "proxy" of `cluster` is a
                      plain redis-server, so the reply-comparison tests
                      validate the harness and the command lists; tests that
                      need the real proxy are skipped. Never set it in CI.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import Proxy, RedisServer, two_group_slots  # noqa: E402

SELFCHECK = os.environ.get("CODIS_IT_SELFCHECK") == "1"
DEFAULT_TEST_TIMEOUT = 90


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test wall-clock limit (SIGALRM)")
    config.addinivalue_line("markers", "real_proxy: needs the real codis-proxy (skipped in self-check mode)")


# --- per-test timeout (no pytest-timeout plugin on Debian) -------------------

class TestTimeout(Exception):
    pass


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


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_collection_modifyitems(config, items):
    if not SELFCHECK:
        return
    skip = pytest.mark.skip(reason="CODIS_IT_SELFCHECK=1: needs the real codis-proxy")
    for it in items:
        if it.get_closest_marker("real_proxy"):
            it.add_marker(skip)


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


def require_proxy_binary():
    b = harness.proxy_binary()
    if not b.exists():
        pytest.fail(f"codis-proxy not built: {b} missing (run deploy/build.sh)", pytrace=False)


# --- the shared cluster -------------------------------------------------------

class Cluster:
    def __init__(self, g1: RedisServer, g2: RedisServer, direct: RedisServer, proxy):
        self.g1, self.g2, self.direct, self.proxy = g1, g2, direct, proxy
        self.groups = {1: g1, 2: g2}
        self.selfcheck = SELFCHECK

    def group_of_slot(self, slot: int) -> int:
        return 1 if slot < 512 else 2

    def backend_for(self, key) -> RedisServer:
        return self.groups[self.group_of_slot(harness.slot_of(key))]

    def other_backend_for(self, key) -> RedisServer:
        return self.groups[3 - self.group_of_slot(harness.slot_of(key))]

    def flush(self):
        for r in (self.g1, self.g2, self.direct):
            r.flushall()
        if self.selfcheck:
            self.proxy.flushall()


class _RedisAsProxy(RedisServer):
    """Self-check mode stand-in for codis-proxy."""


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("codis-it")


@pytest.fixture(scope="session")
def session_cluster(workdir):
    started = []
    try:
        g1 = RedisServer(workdir).start(); started.append(g1)
        g2 = RedisServer(workdir).start(); started.append(g2)
        direct = RedisServer(workdir).start(); started.append(direct)
        if SELFCHECK:
            proxy = _RedisAsProxy(workdir).start()
        else:
            require_proxy_binary()
            proxy = Proxy(workdir, two_group_slots(g1.addr, g2.addr)).start()
        started.append(proxy)
        yield Cluster(g1, g2, direct, proxy)
    finally:
        for p in reversed(started):
            p.stop()


@pytest.fixture
def cluster(session_cluster, request):
    c = session_cluster
    if not SELFCHECK and not c.proxy.alive():
        pytest.fail("the shared codis-proxy died earlier in the session:\n" + c.proxy.tail(),
                    pytrace=False)
    for r in (c.g1, c.g2, c.direct):
        if not r.alive():
            r.start()
    c.flush()
    yield c
    if not SELFCHECK and _failed(request):
        print(c.proxy.tail())


@pytest.fixture
def make_redis(workdir):
    servers = []

    def make(password=None, extra=(), port=None, start=True):
        s = RedisServer(workdir, port=port, password=password, extra=extra)
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def make_proxy(workdir, request):
    proxies = []

    def make(slots, config=None, start=True, **kw):
        require_proxy_binary()
        p = Proxy(workdir, slots, config, **kw)
        proxies.append(p)
        return p.start() if start else p

    yield make
    failed = _failed(request)
    for p in proxies:
        p.stop()
        if failed:
            print(f"==== codis-proxy {p.addr} logs ====")
            print(p.tail())


@pytest.fixture
def fake_backend():
    from fake_backend import FakeBackend
    fakes = []

    def make():
        f = FakeBackend().start()
        fakes.append(f)
        return f

    yield make
    for f in fakes:
        f.stop()
