"""Fixtures for the codis-admin suite: a real ZooKeeper (tests/coordinator's
zk_harness); redis-server, codis-proxy and codis-dashboard come from
tests/integration/harness.py and tests/dashboard/dashboard_harness.py.

codis-admin is $CODIS_ADMIN_BIN, else $CODIS_BUILD_DIR/dashboard/admin/codis-admin."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dashboard"))
sys.path.insert(0, os.path.join(HERE, "..", "coordinator"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from zk_harness import ZooKeeperServer, ZooKeeperUnavailable  # noqa: E402


@pytest.fixture(scope="module")
def zookeeper(tmp_path_factory):
    try:
        zk = ZooKeeperServer(str(tmp_path_factory.mktemp("zk"))).start()
    except ZooKeeperUnavailable as e:
        pytest.fail(f"ZooKeeper unavailable: {e}", pytrace=False)
    yield zk
    zk.close()
