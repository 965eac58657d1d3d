"""Fixtures: real ZooKeeper and etcd servers (zk_harness.py, etcd_harness.py),
the three stores of the shared cases (`store`, `server_store`) and coordinator
clients (coordinator_shell.py). A missing java/ZooKeeper/etcd fails the test
with the reason; it never hangs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from coordinator_shell import CoordinatorShell  # noqa: E402
from etcd_harness import EtcdServer, EtcdUnavailable, etcd  # noqa: E402,F401
from zk_harness import ZooKeeperEnsemble, ZooKeeperServer, ZooKeeperUnavailable, zookeeper  # noqa: E402,F401


@pytest.fixture
def zk_factory(tmp_path):
    """Starts standalone servers (or ensembles with n=3) that are stopped at the end."""
    made = []

    def make(ensemble=0, **kw):
        try:
            if ensemble:
                zk = ZooKeeperEnsemble(ensemble, workdir=str(tmp_path / f"ens{len(made)}"), **kw)
                made.append(zk)
                return zk.start()
            zk = ZooKeeperServer(str(tmp_path / f"zk{len(made)}"), **kw)
            made.append(zk)
            return zk.start()
        except ZooKeeperUnavailable as e:
            pytest.fail(f"ZooKeeper unavailable: {e}", pytrace=False)

    yield make
    for zk in made:
        zk.close()



@pytest.fixture
def etcd_factory(tmp_path):
    """Starts etcd servers (EtcdServer keyword arguments) that are stopped at the end."""
    made = []

    def make(**kw):
        server = EtcdServer(str(tmp_path / f"etcd{len(made)}"), **kw)
        made.append(server)
        try:
            return server.start()
        except EtcdUnavailable as e:
            pytest.fail(f"etcd unavailable: {e}", pytrace=False)

    yield make
    for server in made:
        server.close()


class Store:
    """One back end of the coordinator for the shared cases: its
    connect_coordinator name and address, and its server (None for the
    filesystem store)."""

    def __init__(self, name, addr, server=None):
        self.name, self.addr, self.server = name, addr, server

    def __repr__(self):
        return self.name


@pytest.fixture(params=["zookeeper", "etcd", "filesystem"])
def store(request, tmp_path):
    """Each store in turn: the module's ZooKeeper or etcd (shared: use
    distinct paths), or a fresh directory."""
    if request.param == "filesystem":
        return Store("filesystem", str(tmp_path / "store"))
    server = request.getfixturevalue(request.param)
    return Store(request.param, server.addr, server)


@pytest.fixture(params=["zookeeper", "etcd"])
def server_store(request, zk_factory, etcd_factory):
    """A fresh server of each kind, for cases that stop, restart or wipe it."""
    server = zk_factory() if request.param == "zookeeper" else etcd_factory()
    return Store(request.param, server.addr, server)


@pytest.fixture
def shells():
    """shells(coordinator, addr, ...) -> CoordinatorShell, closed at the end."""
    made = []

    def make(coordinator, addr, **kw):
        s = CoordinatorShell(coordinator, addr, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
