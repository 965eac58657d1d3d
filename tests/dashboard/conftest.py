"""Fixtures for the dashboard suite: a real ZooKeeper and etcd (tests/coordinator's
zk_harness and etcd_harness), real redis-servers and codis-proxy processes
(tests/integration's harness) and our codis-dashboard.

Binaries come from $CODIS_BUILD_DIR (default build/): dashboard/codis-dashboard,
proxy/codis-proxy and tests/coordinator/coordinator_cli (used to read
ZooKeeper). $CODIS_DASHBOARD_BIN overrides the dashboard's path."""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "coordinator"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from etcd_harness import etcd  # noqa: E402,F401 (the fixture)
from zk_harness import zookeeper  # noqa: E402,F401 (the fixture)

