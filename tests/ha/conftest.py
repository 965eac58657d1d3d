"""Fixtures for the high-availability suite: real ZooKeeper (one node or a
3-node ensemble), real redis-server masters and replicas with the module,
real redis-sentinel, codis-dashboard, codis-proxy and HAProxy, all on free
loopback ports and always stopped.

Harnesses are shared with the other suites: tests/integration/harness.py
(redis-server, codis-proxy, RESP client, free ports), tests/coordinator/
zk_harness.py (ZooKeeper) and tests/dashboard/dashboard_harness.py
(codis-dashboard)."""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
for d in ("dashboard", "coordinator", "integration"):
    sys.path.insert(0, os.path.join(HERE, "..", d))

from zk_harness import zookeeper  # noqa: E402,F401 (the fixture)

