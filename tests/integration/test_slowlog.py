"""The slow log: commands slower than slowlog_log_slower_than are logged and
counted in /metrics; fast ones are not."""

from __future__ import annotations

import pytest

from harness import two_group_slots

pytestmark = pytest.mark.real_proxy

BUSY_30MS = """
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start > 30000 then return 1 end
end
"""


def _slow_count(proxy) -> int:
    body = proxy.get("/metrics").body.decode()
    for line in body.splitlines():
        if line.startswith("codis_proxy_slow_commands_total "):
            return int(line.split()[1])
    raise AssertionError("codis_proxy_slow_commands_total missing from /metrics")


def test_slow_commands_are_logged(make_redis, make_proxy):
    g1, g2 = make_redis(), make_redis()
    proxy = make_proxy(two_group_slots(g1.addr, g2.addr), config={"slowlog_log_slower_than": "10ms"})
    with proxy.conn() as c:
        for i in range(20):
            c.call("SET", f"fast{i}", i)
        assert _slow_count(proxy) == 0
        assert c.call("EVAL", BUSY_30MS, 0) == 1
    assert _slow_count(proxy) == 1
    assert "slow command: EVAL" in proxy.tail()
