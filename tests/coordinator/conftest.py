"""Fixtures: real ZooKeeper servers (zk_harness.py) and coordinator clients
(coordinator_shell.py). A missing java/ZooKeeper fails the test with the
reason; it never hangs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from coordinator_shell import CoordinatorShell  # noqa: E402
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
