"""Fixtures for the codis-admin suite: a real ZooKeeper and etcd (tests/coordinator's
zk_harness and etcd_harness); redis-server, codis-proxy and codis-dashboard come from
tests/integration/harness.py and tests/dashboard/dashboard_harness.py.

codis-admin is $CODIS_ADMIN_BIN, else $CODIS_BUILD_DIR/dashboard/admin/codis-admin."""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dashboard"))
sys.path.insert(0, os.path.join(HERE, "..", "coordinator"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from etcd_harness import etcd  # noqa: E402,F401 (the fixture)
from zk_harness import zookeeper  # noqa: E402,F401 (the fixture)

